"""One agent (or the validator) at a glance: a header of facts above its live output."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from tui_orch.ui.text_utils import elapsed_text
from tui_orch.ui.widgets.tail_view import TailView

# Every state has a word and an icon, so colour is never the only signal.
STATE_ICONS: dict[str, str] = {
    "pending": "·",
    "running": "▶",
    "succeeded": "✓",
    "merged": "✔",
    "failed": "✗",
    "stopped": "■",
    "skipped": "⊘",
    "excluded": "⊘",
    "passed": "✓",
}
STATE_CLASSES = tuple(f"-{state}" for state in STATE_ICONS)


class AgentPane(Vertical, can_focus=True):
    """A pane per task of the current batch; the validator gets one of its own."""

    def __init__(self, task_id: str, agent: str, number: int) -> None:
        super().__init__(classes="agent-pane -pending")
        self.task_id = task_id
        self.agent = agent
        self.number = number
        self.state = "pending"
        self.line_count = 0
        self.files_changed: int | None = None
        self.elapsed: float | None = None
        self.badges: list[str] = []
        self.header = Static(classes="pane-header")
        self._shown_header = ""
        self.tail = TailView()

    def compose(self) -> ComposeResult:
        yield self.header
        yield self.tail

    def on_mount(self) -> None:
        self.refresh_header()

    def add_lines(self, lines: Iterable[str], count: int) -> None:
        """Show new output; count may exceed the lines given when only a tail was kept."""
        self.line_count += count
        self.tail.add_lines(lines)

    def set_state(self, state: str) -> None:
        self.state = state
        self.remove_class(*STATE_CLASSES)
        self.add_class(f"-{state}" if state in STATE_ICONS else "-pending")
        self.refresh_header()

    def set_badges(self, badges: list[str]) -> None:
        self.badges = badges
        self.set_class(bool(badges), "-conflict")
        self.refresh_header()

    def refresh_header(self) -> None:
        icon = STATE_ICONS.get(self.state, "?")
        header = Text()
        header.append(f"{self.number} ", style="dim")
        header.append(f"{icon} {self.task_id}", style="bold")
        for badge in self.badges:  # first, so a narrow pane still shows them
            header.append(f"  ⚠ {badge}", style="bold reverse")
        header.append(f"  {self.state}  {elapsed_text(self.elapsed)}")
        header.append(f"  {self.line_count} lines")
        if self.files_changed is not None:
            header.append(f"  {self.files_changed} files")
        header.append(f"  {self.agent}", style="dim")
        # Only what changed is touched: each update costs a re-render of the pane.
        if header.plain != self._shown_header:
            self._shown_header = header.plain
            self.header.update(header, layout=False)  # one line, fixed size: no relayout
        title, subtitle = f"{self.number} {self.task_id}", f"{icon} {self.state}"
        if self.border_title != title:
            self.border_title = title
        if self.border_subtitle != subtitle:
            self.border_subtitle = subtitle
