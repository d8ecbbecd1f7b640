"""Where each line of a growing log file starts, and which lines hold a text.

The log viewer must open an agent's log of any size, follow it while it grows and
search it, without holding the screen: so the work per line happens in C (`bytes.split`,
`accumulate`, `find`, `bisect`), a call indexes a bounded amount of new data, and a search of a
growing file only looks at what was added.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from itertools import accumulate
from pathlib import Path

READ_CHUNK = 1024 * 1024
# Bytes indexed by one `extend` call: about 20 ms of work; a larger file takes a few calls.
INDEX_PER_CALL = 8 * 1024 * 1024
# A search jumps from match to match in a chunk with fewer than one match in this many
# lines, and tests every line of a chunk with more.
JUMP_BELOW = 16


class LineIndex:
    """Byte offsets of the lines of ``path`` (a last line may still be being written)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.starts = array("Q", [0])  # where each line starts; then where the next would
        self.indexed = 0  # bytes of the file looked at so far
        self.width = 0  # the longest complete line seen, in bytes (capped by `extend`)
        self.caught_up = True

    @property
    def line_count(self) -> int:
        """Complete lines, plus a last line still being written."""
        return len(self.starts) - 1 + (1 if self.indexed > self.starts[-1] else 0)

    def extend(self, budget: int | None = None, width_cap: int = 4096) -> bool:
        """Index what was written since the last call, at most ``budget`` bytes of it
        (INDEX_PER_CALL by default; ``caught_up`` says whether more is waiting). True
        when there was something."""
        budget = INDEX_PER_CALL if budget is None else budget
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.indexed)
                grew = False
                while budget > 0 and (chunk := handle.read(min(READ_CHUNK, budget))):
                    lengths = [len(part) + 1 for part in chunk.split(b"\n")[:-1]]
                    if lengths:
                        self.starts.extend(list(accumulate(lengths, initial=self.indexed))[1:])
                        self.width = max(self.width, min(max(lengths) - 1, width_cap))
                    self.indexed += len(chunk)
                    budget -= len(chunk)
                    grew = True
                self.caught_up = not handle.read(1)
        except FileNotFoundError:
            return False
        return grew

    def span(self, number: int) -> tuple[int, int]:
        """Line number's first byte and the byte after it (its newline included)."""
        end = self.starts[number + 1] if number + 1 < len(self.starts) else self.indexed
        return self.starts[number], end

    def read(self, number: int, limit: int) -> tuple[bytes, int]:
        """Up to ``limit`` bytes of line number, and the line's whole length."""
        start, end = self.span(number)
        with open(self.path, "rb") as handle:
            handle.seek(start)
            return handle.read(min(end - start, limit)), end - start

    def find(self, needle: bytes, first_line: int = 0) -> list[int]:
        """The lines from ``first_line`` on that contain needle, ignoring ASCII case.

        Read in chunks cut at line ends; in C either way: a chunk with few matches jumps
        from one to the next (`find`, then `bisect` for its line), one with many is split
        and every line tested.
        """
        needle = needle.lower()
        if not needle or first_line >= self.line_count:
            return []
        starts = self.starts
        found: list[int] = []
        base = starts[first_line]  # where the data in hand starts in the file
        unfinished = b""  # a line cut by the end of a read, completed by the next one
        with open(self.path, "rb") as handle:
            handle.seek(base)
            remaining = self.indexed - base
            while remaining > 0 and (chunk := handle.read(min(READ_CHUNK, remaining))):
                remaining -= len(chunk)
                data = (unfinished + chunk).lower()
                cut = data.rfind(b"\n") + 1 if remaining > 0 else len(data)
                data, unfinished = data[:cut], data[cut:]
                first = bisect_right(starts, base) - 1
                if data.count(needle) * JUMP_BELOW < data.count(b"\n"):
                    position = 0
                    while (hit := data.find(needle, position)) >= 0:
                        line = bisect_right(starts, base + hit, lo=first) - 1
                        found.append(line)
                        position = starts[line + 1] - base if line + 1 < len(starts) else cut
                else:
                    lines = data.split(b"\n")
                    found.extend(first + i for i, line in enumerate(lines) if needle in line)
                base += cut
        return found
