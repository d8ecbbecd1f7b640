"""One agent (or the validator) at a glance: a header of facts above its live output."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip

from tui_orch.ui.text_utils import elapsed_text
from tui_orch.ui.widgets.tail_view import TailView

# Every state has a word and an icon, so colour is never the only signal.
STATE_ICONS: dict[str, str] = {
    "pending": "·",
    "running": "▶",
    "succeeded": "✓",
    "merged": "✔",
    "failed": "✗",
    "timed-out": "⏱",
    "stopped": "■",
    "skipped": "⊘",
    "excluded": "⊘",
    "passed": "✓",
    "no-changes": "∅",
}
STATE_CLASSES = tuple(f"-{state}" for state in STATE_ICONS)
# How a state reads where it differs from its key.
STATE_WORDS: dict[str, str] = {"no-changes": "no changes", "timed-out": "timed out"}


def state_word(state: str) -> str:
    return STATE_WORDS.get(state, state)


class AgentPane(TailView, can_focus=True):
    """A pane per task of the current batch; the validator gets one of its own.

    Its first row is the header (drawn here, styled by the ``agent-pane--header``
    component class): state, time, lines, files; a second row lists its conflict
    badges while it has any. The rest is the live tail of the agent's output.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"agent-pane--header"}
    header_height = 1

    def __init__(self, task_id: str, agent: str, number: int, hidden: bool = False) -> None:
        """``hidden``: mounted now, shown (class -unrevealed removed) a frame or two later."""
        super().__init__(classes="agent-pane -pending" + (" -unrevealed" if hidden else ""))
        self.task_id = task_id
        self.agent = agent
        self.number = number
        self.state = "pending"
        self.line_count = 0
        self.files_changed: int | None = None
        self.elapsed: float | None = None
        self.badges: list[str] = []
        self.report = ""  # what a structured agent says: its tool, cost, refusals
        self.header = Text()
        self.badge_row = Text()
        self._header_strips: dict[int, Strip] = {}
        self._header_style: Style | None = None
        self._header_facts: tuple[object, ...] = ()

    def on_mount(self) -> None:
        self.refresh_header()

    def reuse(self, task_id: str, agent: str, number: int) -> None:
        """Show another task in this pane (a new batch): cheaper than a new pane."""
        self.task_id, self.agent, self.number = task_id, agent, number
        self.line_count = 0
        self.files_changed = self.elapsed = None
        self.report = ""
        self.set_badges([])
        self.clear_lines()
        self.refresh_header()

    def add_lines(self, lines: Iterable[str], count: int) -> None:  # type: ignore[override]
        """Show new output; count may exceed the lines given when only a tail was kept."""
        self.line_count += count  # the header shows it at the dashboard's next tick
        super().add_lines(lines)

    def set_state(self, state: str) -> None:
        state_class = f"-{state}" if state in STATE_ICONS else "-pending"
        if not self.has_class(state_class):
            # One restyle (each costs a CSS pass), not one to remove and one to add.
            self.remove_class(*STATE_CLASSES, update=False)
            self.add_class(state_class)
        self.state = state
        self.refresh_header()

    def set_badges(self, badges: list[str]) -> None:
        self.badges = badges
        if self.has_class("-conflict") != bool(badges):
            self.set_class(bool(badges), "-conflict")
        # Badges get a second header row: the first always says state and time.
        height = 2 if badges else 1
        if height != self.header_height:
            self.header_height = height
            self._header_strips = {}
            self.refresh()
        self.refresh_header()

    def refresh_header(self) -> None:
        # Asked twice a second for every pane: nothing is built unless a fact changed,
        # and then only the header rows are drawn again, not the pane.
        elapsed = elapsed_text(self.elapsed)
        facts = (
            self.number,
            self.task_id,
            self.agent,
            self.state,
            elapsed,
            self.line_count,
            self.files_changed,
            tuple(self.badges),
            self.report,
        )
        if facts == self._header_facts:
            return
        self._header_facts = facts
        icon = STATE_ICONS.get(self.state, "?")
        header = Text(no_wrap=True, overflow="ellipsis")
        header.append(f"{self.number} ", style="dim")
        header.append(f"{icon} {self.task_id}", style="bold")
        header.append(f"  {state_word(self.state)}  {elapsed}")
        header.append(f"  {self.line_count} lines")
        if self.files_changed is not None:
            header.append(f"  {self.files_changed} files")
        if self.report:
            header.append(f"  {self.report}")
        header.append(f"  {self.agent}", style="dim")
        badges = Text(no_wrap=True, overflow="ellipsis")
        for badge in self.badges:
            badges.append(f"⚠ {badge}", style="bold reverse")
            badges.append("  ")
        self.header, self.badge_row = header, badges
        self._header_strips = {}
        self.refresh(Region(0, 0, self.size.width, self.header_height))
        title, subtitle = f"{self.number} {self.task_id}", f"{icon} {state_word(self.state)}"
        if self.border_title != title:
            self.border_title = title
        if self.border_subtitle != subtitle:
            self.border_subtitle = subtitle

    @property
    def header_style(self) -> Style:
        """Worked out once per restyle: Textual walks every ancestor for it, and each
        running pane's header is drawn again every second."""
        if self._header_style is None:
            self._header_style = self.get_component_rich_style("agent-pane--header")
        return self._header_style

    def notify_style_update(self) -> None:
        self._header_style = None
        self._header_strips = {}
        super().notify_style_update()

    def render_header(self, y: int, width: int) -> Strip:
        strip = self._header_strips.get(y)
        if strip is None or strip.cell_length != width:
            style = self.header_style
            text = self.header if y == 0 else self.badge_row
            segments = text.render(self.app.console)
            strip = Strip(segments).apply_style(style).crop_extend(0, width, style)
            self._header_strips[y] = strip
        return strip
