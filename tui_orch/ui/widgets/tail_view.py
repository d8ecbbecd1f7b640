"""The live tail of an agent's output: the last lines only, drawn line by line.

A pane never needs scrollback (the log viewer reads the whole file from disk), so it
keeps a bounded deque and draws the bottom ``height`` lines through the Line API. No
thread workers, no per-line widgets, and a flood costs one refresh per frame.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from rich.segment import Segment
from textual.strip import Strip
from textual.widget import Widget

from tui_orch.ui.text_utils import clean_line


class TailView(Widget):
    """The last ``max_lines`` lines written to it; shows as many as fit, newest at the bottom."""

    DEFAULT_CSS = """
    TailView {
        height: 1fr;
    }
    """

    def __init__(self, max_lines: int = 400, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._lines: deque[str] = deque(maxlen=max_lines)
        # Rendered strips by text: as lines scroll up, the next frame reuses them.
        self._strips: dict[str, Strip] = {}
        self._strip_width = 0

    @property
    def lines(self) -> list[str]:
        return list(self._lines)

    def add_lines(self, lines: Iterable[str]) -> None:
        self._lines.extend(clean_line(line) for line in lines)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        style = self.rich_style
        if width != self._strip_width:
            self._strips.clear()
            self._strip_width = width
        start = max(0, len(self._lines) - self.size.height)
        index = start + y
        if index >= len(self._lines):
            return Strip.blank(width, style)
        text = self._lines[index]
        strip = self._strips.get(text)
        if strip is None:
            if len(self._strips) > 4 * max(self.size.height, 1):
                self._strips.clear()
            strip = Strip([Segment(text, style)]).crop_extend(0, width, style)
            self._strips[text] = strip
        return strip
