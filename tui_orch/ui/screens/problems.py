"""Problems whose policy blocks the run (the interface check): go on anyway, or stop."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Static

from tui_orch.engine.run.approvals import ProblemsRequest
from tui_orch.ui.approver import AnswerLater
from tui_orch.ui.widgets.steady_footer import SteadyFooter


class ProblemsScreen(AnswerLater, Screen[bool]):
    """The blocking problems, each with its file and line."""

    HELP = """\\
## Blocking problems

The merged result has problems whose policy is `block` (see `conflicts:` in the plan).
Nothing has touched your branch.

| key | does |
| --- | --- |
| `g` | go on anyway (validation still runs) |
| `s` | stop here: the integration branch is kept for you to fix |
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("g", "answer(True)", "Go on anyway", id="problems.go"),
        Binding("s", "answer(False)", "Stop", id="problems.stop"),
        Binding("escape", "later", "Later", id="problems.later"),
    ]

    def __init__(self, request: ProblemsRequest) -> None:
        super().__init__(id="problems-screen")
        self.request = request

    def compose(self) -> ComposeResult:
        with Vertical(id="problems-body"):
            yield Static(
                f"{len(self.request.problems)} {self.request.kind} problem(s) block the run",
                classes="screen-title",
            )
            yield Static(
                Text("\n".join(f"⚠ {p}" for p in self.request.problems)), id="problems-list"
            )
        yield SteadyFooter()

    def action_answer(self, go_on: bool) -> None:
        self.dismiss(go_on)
