"""The live tail of an agent's output: the last lines only, drawn line by line.

A pane never needs scrollback (the log viewer reads the whole file from disk), so it
keeps a bounded deque and draws the bottom lines through the Line API. No thread
workers, no per-line widgets, and a flood costs one refresh per frame.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from tui_orch.ui.text_utils import clean_line


class TailView(Widget):
    """The last ``max_lines`` lines written to it; shows as many as fit, newest at the bottom.

    A subclass may keep the top ``header_height`` rows for itself (`render_header`):
    one widget instead of a header widget over a body widget is half the work for
    every restyle, layout and frame of a screen full of panes.
    """

    DEFAULT_CSS = """
    TailView {
        height: 1fr;
    }
    """

    header_height = 0

    def __init__(
        self, max_lines: int = 400, *, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self._lines: deque[str] = deque(maxlen=max_lines)
        # Rendered strips by text: as lines scroll up, the next frame reuses them.
        self._strips: dict[str, Strip] = {}
        self._strip_width = 0
        self._style: Style | None = None

    @property
    def line_style(self) -> Style:
        """The widget's style, worked out once per restyle: Textual walks every ancestor
        to compute it, and a flood draws hundreds of lines a frame."""
        if self._style is None:
            self._style = self.rich_style
        return self._style

    def notify_style_update(self) -> None:
        self._style = None
        self._strips.clear()  # they carry the old style
        super().notify_style_update()

    @property
    def lines(self) -> list[str]:
        return list(self._lines)

    def add_lines(self, lines: Iterable[str]) -> None:
        self._lines.extend(clean_line(line) for line in lines)
        width, height = self.size
        self.refresh(Region(0, self.header_height, width, max(0, height - self.header_height)))

    def clear_lines(self) -> None:
        self._lines.clear()
        self.refresh()

    def render_header(self, y: int, width: int) -> Strip:
        """Row y of the header (only called when header_height > 0)."""
        return Strip.blank(width, self.line_style)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y < self.header_height:
            return self.render_header(y, width)
        style = self.line_style
        if width != self._strip_width:
            self._strips.clear()
            self._strip_width = width
        body_height = self.size.height - self.header_height
        start = max(0, len(self._lines) - body_height)
        index = start + y - self.header_height
        if index >= len(self._lines):
            return Strip.blank(width, style)
        text = self._lines[index]
        strip = self._strips.get(text)
        if strip is None:
            if len(self._strips) > 4 * max(body_height, 1):
                self._strips.clear()
            strip = Strip([Segment(text, style)]).crop_extend(0, width, style)
            self._strips[text] = strip
        return strip
