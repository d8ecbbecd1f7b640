"""The log viewer's line index against a plain reading of the same file.

Tiny read chunks and budgets put line and match boundaries across every chunk edge,
and the file grows between calls as a live agent's log does.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tui_orch.ui import line_index
from tui_orch.ui.line_index import LineIndex

LINE = st.text(alphabet="abAB c\r\t\u00e9", max_size=12).map(lambda text: text.encode())


WRITE = st.tuples(st.lists(LINE, max_size=6), st.booleans()).map(
    lambda write: b"\n".join(write[0]) + (b"\n" if write[1] else b"")
)


@settings(max_examples=200, deadline=None)
@given(
    writes=st.lists(WRITE, min_size=1, max_size=4),
    needle=st.text(alphabet="abAB c", min_size=1, max_size=3).map(str.encode),
    chunk=st.integers(min_value=1, max_value=40),
    budget=st.integers(min_value=1, max_value=60),
    jump_below=st.sampled_from([0, 10**9]),  # jump from match to match; test every line
)
def test_index_and_search_agree_with_reading_the_file(
    writes: list[bytes], needle: bytes, chunk: int, budget: int, jump_below: int
) -> None:
    saved = line_index.READ_CHUNK, line_index.JUMP_BELOW
    line_index.READ_CHUNK, line_index.JUMP_BELOW = chunk, jump_below
    try:
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "agent.log"
            index = LineIndex(path)
            assert not index.extend()  # no file yet: nothing, and no error
            for data in writes:  # a live log: it grows, a line may be half written
                with open(path, "ab") as log:
                    log.write(data)
                while True:
                    index.extend(budget=budget)
                    if index.caught_up:
                        break
                content = path.read_bytes()
                lines = content.split(b"\n")
                if lines[-1] == b"":
                    lines.pop()  # no line after the last newline
                assert index.line_count == len(lines)
                assert [index.read(n, 10_000)[0].rstrip(b"\n") for n in range(len(lines))] == lines
                expected = [n for n, line in enumerate(lines) if needle.lower() in line.lower()]
                assert index.find(needle) == expected
                middle = len(lines) // 2
                assert index.find(needle, first_line=middle) == [n for n in expected if n >= middle]
    finally:
        line_index.READ_CHUNK, line_index.JUMP_BELOW = saved
