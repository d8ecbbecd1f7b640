"""Asking before quitting (or stopping an agent), and saying what happens to the agents."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class QuitModal(ModalScreen[str]):
    """Dismissed with 'detach', 'stop' or 'cancel'."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "choose('detach')", "Leave running", id="quit.detach"),
        Binding("s", "choose('stop')", "Stop agents", id="quit.stop"),
        Binding("escape,c", "choose('cancel')", "Cancel", id="quit.cancel"),
    ]

    def __init__(self, running: list[str], run_id: str) -> None:
        super().__init__(id="quit-modal")
        self.running = running
        self.run_id = run_id

    def compose(self) -> ComposeResult:
        names = ", ".join(self.running)
        with Vertical(id="quit-body"):
            yield Static(
                f"{len(self.running)} agent(s) still running: {names}", classes="screen-title"
            )
            yield Static(
                "d  quit and leave them running: each has its own supervisor, every line\n"
                "   they print is logged; pick the run up later with\n"
                f"   tui-orch resume {self.run_id}\n"
                "s  stop them (their work so far stays in their worktrees), then quit\n"
                "c  cancel: stay here"
            )

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)


class ConfirmModal(ModalScreen[bool]):
    """A yes/no question about one action; `y` does it, `n` or escape does not."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "choose(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "choose(False)", "No", id="confirm.no"),
    ]

    def __init__(self, question: str, detail: str) -> None:
        super().__init__(id="confirm-modal")
        self.question = question
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-body"):
            # Plain text: task ids are not markup.
            yield Static(Text(self.question), classes="screen-title")
            yield Static(Text(f"{self.detail}\n\ny  yes    n  no"))

    def action_choose(self, yes: bool) -> None:
        self.dismiss(yes)
