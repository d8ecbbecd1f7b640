"""A task's whole log, read from its file on disk, however large.

Like toolong, it indexes where each line starts and renders only the rows on screen,
reading them from the file as needed; memory grows with the number of lines (8 bytes
each), not their size. Follow mode indexes the new tail a few times a second, and an
active search looks only at the new lines (see `LineIndex`).
"""

from __future__ import annotations

from pathlib import Path

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui_orch.engine.agents.adapters.formats import adapter_for
from tui_orch.ui.line_index import LineIndex
from tui_orch.ui.text_utils import clean_line

SHOWN_BYTES = 4096  # of a very long line, this much is drawn
READ_FOR_RENDERING = 1 << 20  # of a structured line: JSON must be read whole to render


class LogView(ScrollView, can_focus=True):
    """Scrollable, searchable view of a log file; ``follow`` keeps the end in sight."""

    follow: reactive[bool] = reactive(True)

    def __init__(
        self, path: Path, output_format: str = "text", *, cwd: str = "", id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.path = path
        # A structured agent's log reads as its pane does (one row per line of the
        # file, its adapter's lines joined); `raw` shows the file as it is.
        self.output_format = output_format
        self.raw = output_format == "text"
        self.cwd = cwd
        self._adapter = adapter_for(output_format, cwd)
        self.index = LineIndex(path)
        self._catching_up = False  # a timer is indexing the rest of a large file
        self._cache: dict[int, str] = {}
        self.query_text = ""
        self.matches: list[int] = []
        self.match_index = -1

    @property
    def line_count(self) -> int:
        """Complete lines, plus a last line still being written."""
        return self.index.line_count

    def on_mount(self) -> None:
        self._follow_tick()
        self.set_interval(0.25, self._follow_tick)

    def _follow_tick(self) -> None:
        if self.reindex() and self.follow:
            self.scroll_end(animate=False)
        if not self.index.caught_up and not self._catching_up:
            self._catching_up = True  # a large file: the rest over the next frames
            self.set_timer(0.01, self._catch_up)

    def _catch_up(self) -> None:
        self._catching_up = False
        self._follow_tick()

    def reindex(self) -> bool:
        """Index lines added to the file since the last call; True when there were some."""
        last_line = max(0, self.index.line_count - 1)  # it may have been incomplete
        if not self.index.extend(width_cap=SHOWN_BYTES):
            return False
        self._cache.pop(last_line, None)
        self.virtual_size = Size(self.index.width + 2, self.line_count)
        if self.query_text:
            needle = self.query_text.encode("utf-8", errors="replace")
            self.matches = [line for line in self.matches if line < last_line]
            self.matches += self.index.find(needle, first_line=last_line)
            self.match_index = min(self.match_index, len(self.matches) - 1)
        self.refresh()
        return True

    def line_text(self, number: int) -> str:
        """Line number (0-based) as display text."""
        if number in self._cache:
            return self._cache[number]
        if self.raw:
            data, length = self.index.read(number, SHOWN_BYTES)
        else:
            data, length = self.index.read(number, READ_FOR_RENDERING)
        raw = data.rstrip(b"\n").rstrip(b"\r").decode("utf-8", errors="replace")
        if not self.raw:
            raw = "  ".join(self._adapter.read(raw).lines)[:SHOWN_BYTES]
            length = len(raw)
        text = clean_line(raw)
        if length > SHOWN_BYTES:
            text += f" … [{length - SHOWN_BYTES} more bytes]"
        if len(self._cache) > 2000:
            self._cache.clear()
        self._cache[number] = text
        return text

    def toggle_raw(self) -> None:
        """Switch between the file as it is and the lines a person reads."""
        self.raw = not self.raw
        self._adapter = adapter_for(self.output_format, self.cwd)  # read afresh, from the top
        self._cache.clear()
        self.refresh()

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

    def search(self, text: str) -> int:
        """Find every line containing text (case-insensitive); jump to the first. Returns count."""
        self.query_text = text
        self.matches = self.index.find(text.encode("utf-8", errors="replace"))
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
