"""The live tail of an agent's output: the last lines only, drawn line by line.

A pane never needs scrollback (the log viewer reads the whole file from disk), so it
keeps a bounded deque and draws the bottom lines through the Line API. No thread
workers, no per-line widgets, and a flood costs one refresh per frame.

Drawing is the cost of streaming: every new line moves every row of the pane up, so a
screen of busy panes redraws nearly every row thirty times a second. Textual finishes
each row (borders, styles, a new Strip or two) on every redraw; a pane keeps each of
its rows finished, by text, and hands Textual the finished row of a line it has drawn
before (a line drawn one row lower in the last frame), so a frame makes new strips for
the new lines only.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from itertools import islice

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from tui_orch.ui.text_utils import clean_line

# The key of a body row below the last line (a pane not yet full): drawn blank.
_BLANK = object()
# Finished rows are kept for this many (width, look) pairs per pane.
LOOKS_KEPT = 3


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
        self._style: Style | None = None
        # What a finished row's look depends on besides its text and width; None: to be
        # worked out again (after a restyle).
        self._look: tuple[object, ...] | None = None
        # Finished rows (what Textual's styles cache holds for a row: borders included)
        # by the text they show, for the last few looks and widths: maximising a pane
        # and restoring it, or moving the focus away and back, finds its rows still there.
        self._rows: dict[tuple[object, ...], dict[object, Strip]] = {}

    @property
    def line_style(self) -> Style:
        """The widget's style, worked out once per restyle: Textual walks every ancestor
        to compute it, and a flood draws hundreds of lines a frame."""
        if self._style is None:
            self._style = self.rich_style
        return self._style

    def notify_style_update(self) -> None:
        self._style = None
        self._look = None  # Textual restyles often without a change: compared at the next draw
        super().notify_style_update()

    @property
    def lines(self) -> list[str]:
        return list(self._lines)

    def add_lines(self, lines: Iterable[str]) -> None:
        before = len(self._lines)
        self._lines.extend(clean_line(line) for line in lines)
        width, height = self.size
        body = max(0, height - self.header_height)
        if len(self._lines) <= body:
            # Not full yet: the rows above stay as they are; only the new ones are drawn.
            top = self.header_height + before
            self.refresh(Region(0, top, width, len(self._lines) - before))
        else:
            self.refresh(Region(0, self.header_height, width, body))

    def clear_lines(self) -> None:
        self._lines.clear()
        self.refresh()

    def render_header(self, y: int, width: int) -> Strip:
        """Row y of the header (only called when header_height > 0)."""
        return Strip.blank(width, self.line_style)

    def render_line(self, y: int) -> Strip:
        width, height = self.size
        style = self.line_style
        if y < self.header_height:
            return self.render_header(y, width)
        start = max(0, len(self._lines) - (height - self.header_height))
        index = start + y - self.header_height
        if index >= len(self._lines):
            return Strip.blank(width, style)
        # One strip of exactly the width (crop_extend would make two).
        text = self._lines[index]
        length = cell_len(text)
        if length < width:
            return Strip([Segment(text, style), Segment(" " * (width - length), style)], width)
        if length > width:
            text = set_cell_size(text, width)
        return Strip([Segment(text, style)], width)

    def render_lines(self, crop: Region) -> list[Strip]:
        """Rows as Textual draws them, except that a body row whose text was drawn
        before is handed over finished, not drawn again.

        Textual draws a widget's dirty rows into its styles cache (row by row, through
        `render_line`) and keeps them until they are dirty again: a row is put in that
        cache finished before Textual looks, and taken from it finished after.
        """
        cache = self._styles_cache
        finished: dict[int, Strip] | None = getattr(cache, "_cache", None)
        dirty: set[int] | None = getattr(cache, "_dirty_lines", None)
        if not isinstance(finished, dict) or not isinstance(dirty, set):
            return super().render_lines(crop)  # another Textual: draw every row
        body = self._body_rows(crop)
        if not body:
            return super().render_lines(crop)
        rows = self._finished_rows()
        for y, text in body:
            if y in dirty or y not in finished:
                row = rows.get(text)
                if row is not None:
                    finished[y] = row
                    dirty.discard(y)
        strips = super().render_lines(crop)
        for y, text in body:
            if text not in rows and (row := finished.get(y)) is not None:
                rows[text] = row
        body_height = self.size.height - self.header_height
        if len(rows) > body_height + 8:
            # Lines that scrolled off never come back: keep the rows on screen only.
            shown = set(islice(reversed(self._lines), body_height))
            shown.add(_BLANK)
            for text in [text for text in rows if text not in shown]:
                del rows[text]
        return strips

    def _finished_rows(self) -> dict[object, Strip]:
        """The finished rows for the widget's width and look as they are now."""
        if self._look is None:
            styles = self.styles
            self._look = (
                self.line_style,
                styles.border,
                styles.outline,
                styles.padding,
                styles.tint,
                styles.text_opacity,
                styles.hatch if styles.has_rule("hatch") else None,
                self.opacity,
                # Changes only with a restyle (of the pane, or of all the screen).
                self.background_colors,
            )
        key = (self.outer_size.width, self._look)
        rows = self._rows.pop(key, None)
        if rows is None:
            rows = {}
            while len(self._rows) >= LOOKS_KEPT:
                del self._rows[next(iter(self._rows))]  # the least recently drawn
        self._rows[key] = rows
        return rows

    def _body_rows(self, crop: Region) -> list[tuple[int, object]]:
        """The body rows in ``crop`` (in the widget's coordinates, borders included) and
        the text each shows (`_BLANK` below the last line)."""
        gutter = self.styles.gutter
        _width, height = self.size
        body_height = height - self.header_height
        if body_height <= 0:
            return []
        first = gutter.top + self.header_height
        lines = self._lines
        start = max(0, len(lines) - body_height) - first
        count = len(lines)
        top, bottom = crop.line_range.start, crop.line_range.stop
        return [
            (y, lines[start + y] if start + y < count else _BLANK)
            for y in range(max(top, first), min(bottom, first + body_height))
        ]
