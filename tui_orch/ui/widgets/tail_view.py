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
# Rows marked dirty that are drawn again one by one over the last answer (a header);
# more, and the whole crop is handed to Textual.
REDRAWN_ROWS_MAX = 2


class FinishedRows:
    """A pane's finished rows for one width and look: what Textual's styles cache holds
    for a body row (borders included), by the text the row shows.

    ``edges``: the border segments either side of the text, learnt from the first row
    Textual draws, so that a new line's row is finished here, as Textual would, in one
    strip (Textual makes two, and works out every border style again); None until
    learnt, False if rows of this look are more than borders and text.
    """

    __slots__ = ("edges", "rows")

    def __init__(self) -> None:
        self.rows: dict[object, Strip] = {}
        self.edges: tuple[list[Segment], list[Segment]] | bool | None = None


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
        # Finished rows for the last few looks and widths: maximising a pane and
        # restoring it, or moving the focus away and back, finds its rows still there.
        self._finished: dict[tuple[object, ...], FinishedRows] = {}
        # What render_lines was last asked (crop, look, filters) and answered.
        self._last_rendered: tuple[tuple[object, ...], list[Strip]] | None = None

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
        text = self._lines[index] if index < len(self._lines) else _BLANK
        return Strip(self._content(text, width, style), width)

    @staticmethod
    def _content(text: object, width: int, style: Style) -> list[Segment]:
        """A body row's text as segments exactly ``width`` cells wide."""
        if text is _BLANK or not text:
            return [Segment(" " * width, style)]
        assert isinstance(text, str)
        length = cell_len(text)
        if length < width:
            return [Segment(text, style), Segment(" " * (width - length), style)]
        if length > width:
            text = set_cell_size(text, width)
        return [Segment(text, style)]

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
        # Textual asks every widget under any change on screen for all its rows (a pane
        # whose neighbour printed a line, or whose clock turned): with the same crop and
        # look, the last answer holds but for the rows marked dirty since; when those
        # are a few (a header), only they are drawn again.
        app = self.app
        asked = (
            crop,
            self._look,
            app.ansi_theme,
            app.native_ansi_color,
            tuple(self.get_line_filters()),
        )
        last = self._last_rendered
        if last is not None and last[0] == asked and self._look is not None:
            stale = [y for y in crop.line_range if y in dirty or y not in finished]
            if len(stale) <= REDRAWN_ROWS_MAX:
                strips = last[1]
                if stale:
                    strips = strips.copy()
                    for y in stale:
                        row = Region(crop.x, y, crop.width, 1)
                        strips[y - crop.y] = super().render_lines(row)[0]
                    self._last_rendered = (asked, strips)
                return strips
        strips = self._render_lines(crop, finished, dirty)
        self._last_rendered = (asked, strips)
        return strips

    def _render_lines(
        self, crop: Region, finished: dict[int, Strip], dirty: set[int]
    ) -> list[Strip]:
        """Every row of crop, the finished ones handed to Textual's cache first."""
        body = self._body_rows(crop)
        if not body:
            return super().render_lines(crop)
        look = self._finished_rows()
        rows, edges = look.rows, look.edges
        width, outer_width, style = self.size.width, self.outer_size.width, self.line_style
        for y, text in body:
            if y in dirty or y not in finished:
                row = rows.get(text)
                if row is None and edges:
                    left, right = edges
                    segments = [*left, *self._content(text, width, style), *right]
                    row = rows[text] = Strip(segments, outer_width)
                if row is not None:
                    finished[y] = row
                    dirty.discard(y)
        strips = super().render_lines(crop)
        for y, text in body:
            if text not in rows and (row := finished.get(y)) is not None:
                rows[text] = row
                if look.edges is None:
                    look.edges = self._edges(row, text)
        body_height = self.size.height - self.header_height
        if len(rows) > body_height + 8:
            # Lines that scrolled off never come back: keep the rows on screen only.
            shown = set(islice(reversed(self._lines), body_height))
            shown.add(_BLANK)
            for text in [text for text in rows if text not in shown]:
                del rows[text]
        return strips

    def _edges(self, row: Strip, text: object) -> tuple[list[Segment], list[Segment]] | bool:
        """The segments Textual put either side of a body row's text (its borders), if
        the row is those and the text's segments, unchanged (False if not: a tint, an
        opacity, padding or an outline; then every new row is Textual's to draw)."""
        styles = self.styles
        if (
            styles.tint.a
            or self.opacity != 1
            or styles.text_opacity != 1
            or (styles.has_rule("hatch") and styles.hatch != "none")
            or any(edge for edge, _color in styles.outline)
            or styles.padding.left
            or styles.padding.right
        ):
            return False
        segments = list(row)
        content = self._content(text, self.size.width, self.line_style)
        left = 1 if styles.border_left[0] else 0
        right = len(segments) - (1 if styles.border_right[0] else 0)
        if right - left != len(content) or segments[left:right] != content:
            return False
        return segments[:left], segments[right:]

    def _finished_rows(self) -> FinishedRows:
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
        look = self._finished.pop(key, None)
        if look is None:
            look = FinishedRows()
            while len(self._finished) >= LOOKS_KEPT:
                del self._finished[next(iter(self._finished))]  # the least recently drawn
        self._finished[key] = look
        return look

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
