"""Approving merges: a batch into the integration branch, then the result into base."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Static

from tui_orch.engine.approvals import FinalRequest, MergeDecision, MergeRequest
from tui_orch.ui.approver import AnswerLater
from tui_orch.ui.text_utils import clean_line
from tui_orch.ui.widgets.steady_footer import SteadyFooter


class MergeApprovalScreen(AnswerLater, Screen[MergeDecision]):
    """Each task of the built batch: its changes, and any warnings the engine reported."""

    HELP = """\
## Merge approval

The batch is built; each task's work is committed on its own branch. Approve to merge
them (in plan order, `--no-ff`) into the integration branch. Nothing touches your
branch until the final approval, after validation.

| key | does |
| --- | --- |
| `a` | merge every task not excluded |
| `x` | exclude / include the highlighted task (its branch is kept, unmerged); a task
  blocked by a conflict policy starts excluded, and including it approves its problem |
| `d` | open the highlighted task's diff |
| `s` | stop the run here (branches kept; `tui-orch resume` asks again) |
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "approve", "Merge", id="merge.approve"),
        Binding("x", "exclude", "Exclude task", id="merge.exclude"),
        Binding("d", "diff", "Diff", id="merge.diff"),
        Binding("s", "stop_run", "Stop run", id="merge.stop"),
        Binding("escape", "later", "Later", id="merge.later"),
    ]

    def __init__(self, request: MergeRequest, warnings_by_task: dict[str, list[str]]) -> None:
        super().__init__(id="merge-screen")
        self.request = request
        self.warnings_by_task = warnings_by_task
        # Blocked tasks start out of the merge: including one is the approval naming its problem.
        self.excluded: set[str] = set(request.blocked)

    def compose(self) -> ComposeResult:
        request = self.request
        with Vertical(id="merge-body"):
            yield Static(
                f"Merge batch {request.number}/{request.total} into {request.integration_branch}?",
                classes="screen-title",
            )
            yield DataTable(id="merge-table", cursor_type="row", zebra_stripes=True)
            yield Static(id="merge-detail")
            warnings = Static(
                "\n".join(f"⚠ {warning}" for warning in request.warnings), id="merge-warnings"
            )
            warnings.display = bool(request.warnings)
            yield warnings
        yield SteadyFooter()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("task", "state", "commits", "files", "lines", "warnings")
        for outcome in self.request.outcomes:
            table.add_row(*self._cells(outcome.task_id), key=outcome.task_id, height=None)
        table.focus()

    def _cells(self, task_id: str) -> list[Text | str]:
        outcome = next(o for o in self.request.outcomes if o.task_id == task_id)
        excluded = task_id in self.excluded
        blocked = task_id in self.request.blocked
        warnings = list(self.request.blocked.get(task_id, ())) or self.warnings_by_task.get(
            task_id, []
        )
        if not outcome.changed:
            state = "no changes: nothing to merge"
        elif excluded:
            state = "blocked: held back" if blocked else "excluded"
        else:
            state = "will merge (override)" if blocked else "will merge"
        return [
            Text(task_id, style="strike dim" if excluded else ""),
            state,
            str(outcome.commits),
            str(len(outcome.files_changed)),
            f"+{outcome.insertions} -{outcome.deletions}",
            Text("\n".join(f"⚠ {w}" for w in warnings) or "-", style="bold" if warnings else ""),
        ]

    @on(DataTable.RowHighlighted, "#merge-table")
    def show_detail(self, event: DataTable.RowHighlighted) -> None:
        task_id = str(event.row_key.value)
        outcome = next(o for o in self.request.outcomes if o.task_id == task_id)
        if outcome.changed:
            lines = [f"{task_id} on {outcome.branch}: {outcome.commits} commit(s)"]
            lines += [f"  {path}" for path in outcome.files_changed]
        else:
            lines = [f"{task_id}: its agent exited 0 without changing a file; its last lines:"]
            lines += [f"  {clean_line(line)}" for line in outcome.last_lines] or ["  (none)"]
        lines += [f"  ⚠ {warning}" for warning in self.warnings_by_task.get(task_id, [])]
        # Plain text: file names and agent lines are not markup.
        self.query_one("#merge-detail", Static).update(Text("\n".join(lines)))

    def _current(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def action_approve(self) -> None:
        blocked = set(self.request.blocked)
        # A blocked task left out stays blocked (the engine holds it back and says so);
        # only tasks that were free to merge count as excluded by choice.
        self.dismiss(
            MergeDecision.approve(
                frozenset(self.excluded - blocked), frozenset(blocked - self.excluded)
            )
        )

    def action_exclude(self) -> None:
        task_id = self._current()
        if task_id is None:
            return
        self.excluded ^= {task_id}
        table = self.query_one(DataTable)
        for column, value in enumerate(self._cells(task_id)):
            table.update_cell_at((table.cursor_row, column), value)

    async def action_diff(self) -> None:
        task_id = self._current()
        if task_id is not None:
            await self.app.run_action(f"open_diff('{task_id}')")

    def action_stop_run(self) -> None:
        self.dismiss(MergeDecision.abort())


class FinalApprovalScreen(AnswerLater, Screen[bool]):
    """The exact branch move that will happen, and the validation that allows it."""

    HELP = """\
## Final merge

Validation passed on the integrated result. Approve to fast-forward your branch to it
(a compare-and-swap: it moves only if nobody moved it meanwhile).

| key | does |
| --- | --- |
| `y` | move the branch |
| `n` | do not move it now (the result stays on the integration branch) |
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Move branch", id="final.yes"),
        Binding("n", "answer(False)", "Not now", id="final.no"),
        Binding("escape", "later", "Later", id="final.later"),
    ]

    def __init__(self, request: FinalRequest) -> None:
        super().__init__(id="final-screen")
        self.request = request

    def compose(self) -> ComposeResult:
        request = self.request
        where = (
            f"\nand update the files in {request.checked_out_in} (where it is checked out)"
            if request.checked_out_in
            else ""
        )
        validation = "\n".join(f"  ✓ {line}" for line in request.validation) or "  (none)"
        merged = ", ".join(request.merged) or "none"
        left_out = "".join(f"\n  ⊘ {line}" for line in request.left_out)
        with Vertical(id="final-body"):
            yield Static("Move your branch?", classes="screen-title")
            yield Static(
                Text(
                    f"tasks merged: {merged}"
                    + (f"\nleft out:{left_out}" if left_out else "")
                    + f"\n\nvalidation:\n{validation}\n\n"
                    f"fast-forward '{request.base}'\n"
                    f"  from {request.old_commit[:12]}\n"
                    f"  to   {request.new_commit[:12]}  ({request.integration_branch}){where}"
                ),
                id="final-move",
            )
        yield SteadyFooter()

    def action_answer(self, approved: bool) -> None:
        self.dismiss(approved)
