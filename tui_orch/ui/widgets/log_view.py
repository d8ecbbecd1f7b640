"""A task's whole log, read from its file on disk, however large.

Like toolong, it indexes where each line starts and renders only the rows on screen,
reading them from the file as needed; memory grows with the number of lines (8 bytes
each), not their size. Follow mode re-indexes the new tail a few times a second.
"""

from __future__ import annotations

from array import array
from pathlib import Path

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui_orch.ui.text_utils import clean_line

INDEX_CHUNK = 1024 * 1024
SHOWN_BYTES = 4096  # of a very long line, this much is drawn


class LogView(ScrollView, can_focus=True):
    """Scrollable, searchable view of a log file; ``follow`` keeps the end in sight."""

    follow: reactive[bool] = reactive(True)

    def __init__(self, path: Path, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.path = path
        self._starts = array("Q", [0])
        self._indexed = 0
        self._width = 0
        self._cache: dict[int, str] = {}
        self.query_text = ""
        self.matches: list[int] = []
        self.match_index = -1

    @property
    def line_count(self) -> int:
        """Complete lines, plus a last line still being written."""
        return len(self._starts) - 1 + (1 if self._indexed > self._starts[-1] else 0)

    def on_mount(self) -> None:
        self.reindex()
        self.set_interval(0.25, self._follow_tick)

    def _follow_tick(self) -> None:
        if self.reindex() and self.follow:
            self.scroll_end(animate=False)

    def reindex(self) -> bool:
        """Index lines added to the file since the last call; True when there were some."""
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self._indexed)
                grew = False
                while chunk := handle.read(INDEX_CHUNK):
                    position = 0
                    while (newline := chunk.find(b"\n", position)) >= 0:
                        self._width = max(self._width, min(newline - position, SHOWN_BYTES))
                        self._starts.append(self._indexed + newline + 1)
                        position = newline + 1
                    self._indexed += len(chunk)
                    grew = True
        except FileNotFoundError:
            return False
        if grew:
            self._cache.pop(len(self._starts) - 2, None)
            self._cache.pop(len(self._starts) - 1, None)
            self.virtual_size = Size(self._width + 2, self.line_count)
            if self.query_text:
                self.search(self.query_text, keep_position=True)
            self.refresh()
        return grew

    def line_text(self, number: int) -> str:
        """Line number (0-based) as display text."""
        if number in self._cache:
            return self._cache[number]
        start = self._starts[number]
        end = self._starts[number + 1] if number + 1 < len(self._starts) else self._indexed
        with open(self.path, "rb") as handle:
            handle.seek(start)
            data = handle.read(min(end - start, SHOWN_BYTES))
        text = clean_line(data.rstrip(b"\n").rstrip(b"\r").decode("utf-8", errors="replace"))
        if end - start > SHOWN_BYTES:
            text += f" … [{end - start - SHOWN_BYTES} more bytes]"
        if len(self._cache) > 2000:
            self._cache.clear()
        self._cache[number] = text
        return text

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        number = scroll_y + y
        width = self.size.width
        style = self.rich_style
        if number >= self.line_count:
            return Strip.blank(width, style)
        text = self.line_text(number)
        segments = self._highlighted(text, style, current=number == self._current_match_line)
        return Strip(segments).crop_extend(scroll_x, scroll_x + width, style)

    @property
    def _current_match_line(self) -> int:
        return self.matches[self.match_index] if 0 <= self.match_index < len(self.matches) else -1

    def _highlighted(self, text: str, style: Style, current: bool) -> list[Segment]:
        if not self.query_text:
            return [Segment(text, style)]
        lowered, needle = text.lower(), self.query_text.lower()
        mark = Style(reverse=True, bold=current)
        segments: list[Segment] = []
        position = 0
        while (found := lowered.find(needle, position)) >= 0:
            segments.append(Segment(text[position:found], style))
            segments.append(Segment(text[found : found + len(needle)], style + mark))
            position = found + len(needle)
        segments.append(Segment(text[position:], style))
        return segments

    # -- search ----------------------------------------------------------------

    def search(self, text: str, keep_position: bool = False) -> int:
        """Find every line containing text (case-insensitive); jump to the first. Returns count."""
        previous = self._current_match_line
        self.query_text = text
        needle = text.lower().encode("utf-8", errors="replace")
        self.matches = []
        if needle:
            with open(self.path, "rb") as handle:
                for number in range(self.line_count):
                    start = self._starts[number]
                    end = (
                        self._starts[number + 1]
                        if number + 1 < len(self._starts)
                        else self._indexed
                    )
                    handle.seek(start)
                    if needle in handle.read(end - start).lower():
                        self.matches.append(number)
        if keep_position and previous in self.matches:
            self.match_index = self.matches.index(previous)
        else:
            self.match_index = 0 if self.matches else -1
            self._show_match()
        self.refresh()
        return len(self.matches)

    def next_match(self, step: int = 1) -> int | None:
        """Move to the next (step=1) or previous (step=-1) match; its line, if any."""
        if not self.matches:
            return None
        self.match_index = (self.match_index + step) % len(self.matches)
        self._show_match()
        self.refresh()
        return self._current_match_line

    def _show_match(self) -> None:
        line = self._current_match_line
        if line >= 0:
            self.follow = False
            self.scroll_to(y=max(0, line - self.size.height // 2), animate=False)
