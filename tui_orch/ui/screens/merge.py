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

from tui_orch.engine.run.approvals import FinalRequest, MergeDecision, MergeRequest, TaskOutcome
from tui_orch.ui.approver import AnswerLater
from tui_orch.ui.messages import OpenDiff
from tui_orch.ui.text_utils import clean_line
from tui_orch.ui.widgets.steady_footer import SteadyFooter


class MergeApprovalScreen(AnswerLater, Screen[MergeDecision]):
    """Each task of the built batch: its changes, its warnings, and what `a` will do to it.

    Tasks held back by a blocking policy and tasks whose agent failed are shown with
    their fate spelled out before `a` (left out with the tasks that need them, the run
    going on without them), so approving never ends in a surprise stop.
    """

    HELP = """\
## Merge approval

The batch is built; each task's work is committed on its own branch. Approve to merge
them (in plan order, `--no-ff`) into the integration branch. Nothing touches your
branch until the final approval, after validation.

| key | does |
| --- | --- |
| `a` | do what the screen says under the table: merge the tasks marked "will merge" |
| `x` | leave the highlighted task out, or take it back in |
| `r` | restart a failed task (the others wait); asked again when it ends |
| `d` | open the highlighted task's diff |
| `s` | stop the run here (branches kept; `tui-orch resume` asks again) |
| `escape` | back to the panes; the question waits (`a` there opens it) |

A task blocked by a conflicts policy starts left out: including it approves its
problem. A task left out (blocked, failed or by you) keeps its branch; the run goes on
without it and without the later tasks that need it.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "approve", "Go", id="merge.approve"),
        Binding("x", "exclude", "Leave out", id="merge.exclude"),
        Binding("x", "include", "Take in", id="merge.include"),
        Binding("x", "override", "Merge anyway", id="merge.override"),
        Binding("r", "restart", "Restart", id="merge.restart"),
        Binding("r", "keep_failed", "Don't restart", id="merge.keep_failed"),
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
        self.restarting: set[str] = set()
        self.row_ids = [o.task_id for o in request.outcomes] + list(request.failed)

    def compose(self) -> ComposeResult:
        request = self.request
        with Vertical(id="merge-body"):
            yield Static(
                f"Merge batch {request.number}/{request.total} into {request.integration_branch}?",
                classes="screen-title",
            )
            yield DataTable(id="merge-table", cursor_type="row", zebra_stripes=True)
            yield Static(id="merge-outcome")
            yield Static(id="merge-detail")
        yield SteadyFooter()

    def on_mount(self) -> None:
        tables = self.query(DataTable)
        if not tables:  # the app is quitting as this screen is shown: nothing to fill
            return
        table = tables.first()
        table.add_columns("task", "on a", "commits", "files", "lines", "warnings")
        for task_id in self.row_ids:
            table.add_row(*self._cells(task_id), key=task_id, height=None)
        table.focus()
        self._show_outcome()

    # -- what each row is, and what `a` does ------------------------------------------

    def _outcome(self, task_id: str) -> TaskOutcome | None:
        return next((o for o in self.request.outcomes if o.task_id == task_id), None)

    def _state(self, task_id: str) -> str:
        failed = self.request.failed.get(task_id)
        if failed is not None:
            return "restart" if task_id in self.restarting else f"{failed}: left out"
        outcome = self._outcome(task_id)
        if outcome is not None and not outcome.changed:
            return "no changes: nothing to merge"
        blocked = task_id in self.request.blocked
        if task_id in self.excluded:
            return "blocked: held back" if blocked else "left out"
        return "will merge (override)" if blocked else "will merge"

    def _cells(self, task_id: str) -> list[Text | str]:
        outcome = self._outcome(task_id)
        state = self._state(task_id)
        warnings = list(self.request.blocked.get(task_id, ())) or self.warnings_by_task.get(
            task_id, []
        )
        if outcome is not None and outcome.refusals:
            warnings = [*warnings, _refused(outcome.refusals)]
        merging = state.startswith("will merge")
        counts = (
            [
                str(outcome.commits),
                str(len(outcome.files_changed)),
                f"+{outcome.insertions} -{outcome.deletions}",
            ]
            if outcome is not None
            else ["-", "-", "-"]
        )
        return [
            Text(task_id, style="" if merging or state == "restart" else "strike dim"),
            Text(state, style="bold" if merging else ""),
            *counts,
            Text("\n".join(f"⚠ {w}" for w in warnings) or "-", style="bold" if warnings else ""),
        ]

    def merging(self) -> list[str]:
        return [t for t in self.row_ids if self._state(t).startswith("will merge")]

    def left_out(self) -> list[str]:
        """Tasks `a` goes on without: failed, blocked and held back, or left out by you."""
        return [
            t
            for t in self.row_ids
            if self._state(t).endswith(("left out", "held back")) and t not in self.restarting
        ]

    def outcome_lines(self) -> list[str]:
        """What `a` will do, in sentences, before it is pressed."""
        request = self.request
        if self.restarting:
            names = ", ".join(sorted(self.restarting))
            return [f"a: restart {names} now; this question comes back when they end"]
        merging = self.merging()
        lines = [
            f"a: merge {', '.join(merging)} into {request.integration_branch}"
            if merging
            else "a: merge nothing from this batch"
        ]
        left_out = self.left_out()
        if left_out:
            needing = [  # in plan order, as the engine reports them
                d
                for d in dict.fromkeys(d for t in left_out for d in request.dependents.get(t, ()))
                if d not in left_out
            ]
            with_them = f", and {', '.join(needing)} (which need them)" if needing else ""
            whose = "its branch is" if len(left_out) == 1 else "their branches are"
            lines.append(
                f"   the run goes on without {', '.join(left_out)}{with_them}; {whose} kept"
            )
        for tasks, paths in request.predicted:
            if all(task in merging for task in tasks):
                lines.append(
                    f"⚠ {' and '.join(tasks)} are predicted to conflict in {', '.join(paths)}: "
                    f"the merge would stop at {tasks[-1]}; leave one out (x), or merge and "
                    "resolve it by hand"
                )
        lines += [f"⚠ {warning}" for warning in request.warnings]
        return lines

    def _show_outcome(self) -> None:
        # Plain text: task ids and paths are not markup.
        self.query_one("#merge-outcome", Static).update(Text("\n".join(self.outcome_lines())))

    def _redraw_row(self, task_id: str) -> None:
        table = self.query_one(DataTable)
        row = table.get_row_index(task_id)
        for column, value in enumerate(self._cells(task_id)):
            table.update_cell_at((row, column), value, update_width=True)
        self._show_outcome()
        self.refresh_bindings()

    @on(DataTable.RowHighlighted, "#merge-table")
    def show_detail(self, event: DataTable.RowHighlighted) -> None:
        task_id = str(event.row_key.value)
        outcome = self._outcome(task_id)
        if task_id in self.request.failed:
            lines = [f"{task_id}: its agent {self.request.failed[task_id]}; its work is kept"]
            lines.append("  r restarts it in its worktree; l on the dashboard opens its log")
        elif outcome is not None and outcome.changed:
            lines = [f"{task_id} on {outcome.branch}: {outcome.commits} commit(s)"]
            lines += [f"  {path}" for path in outcome.files_changed]
        else:
            lines = [f"{task_id}: its agent exited 0 without changing a file; its last lines:"]
            last = outcome.last_lines if outcome is not None else ()
            lines += [f"  {clean_line(line)}" for line in last] or ["  (none)"]
        lines += [f"  ⚠ {warning}" for warning in self.warnings_by_task.get(task_id, [])]
        if outcome is not None:
            lines += _agent_report(outcome)
        self.query_one("#merge-detail", Static).update(Text("\n".join(lines)))
        self.refresh_bindings()  # `x` and `r` say what they do on this row

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Each key is offered, and labelled, by what it does on the highlighted row."""
        task_id = self._current() if self.is_mounted else None
        if task_id is None or action not in _ROW_ACTIONS:
            return True
        failed = task_id in self.request.failed
        outcome = self._outcome(task_id)
        changed = outcome is not None and outcome.changed
        blocked = task_id in self.request.blocked
        excluded = task_id in self.excluded
        return {
            "exclude": changed and not excluded,
            "include": changed and excluded and not blocked,
            "override": changed and excluded and blocked,
            "restart": failed and task_id not in self.restarting,
            "keep_failed": failed and task_id in self.restarting,
            "diff": changed or failed,
        }[action]

    def _current(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    # -- actions ----------------------------------------------------------------------

    def action_approve(self) -> None:
        if self.restarting:
            self.dismiss(MergeDecision.restart_tasks(frozenset(self.restarting)))
            return
        blocked = set(self.request.blocked)
        # A blocked task left out stays blocked; only tasks that were free to merge count
        # as excluded by choice. Blocked and failed tasks left out were seen left out here:
        # the run goes on without them (and without the tasks that need them).
        self.dismiss(
            MergeDecision.approve(
                exclude=frozenset(self.excluded - blocked),
                override=frozenset(blocked - self.excluded),
                go_on_without=frozenset((blocked & self.excluded) | set(self.request.failed)),
            )
        )

    def _toggle(self, chosen: set[str]) -> None:
        task_id = self._current()
        if task_id is not None:
            chosen ^= {task_id}
            self._redraw_row(task_id)

    def action_exclude(self) -> None:
        self._toggle(self.excluded)

    def action_include(self) -> None:
        self._toggle(self.excluded)

    def action_override(self) -> None:
        self._toggle(self.excluded)

    def action_restart(self) -> None:
        self._toggle(self.restarting)

    def action_keep_failed(self) -> None:
        self._toggle(self.restarting)

    def action_diff(self) -> None:
        task_id = self._current()
        if task_id is not None:
            self.post_message(OpenDiff(task_id))

    def action_stop_run(self) -> None:
        self.dismiss(MergeDecision.abort())


_ROW_ACTIONS = ("exclude", "include", "override", "restart", "keep_failed", "diff")


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


def _refused(refusals: tuple[str, ...]) -> str:
    return f"{len(refusals)} tool call{'s' if len(refusals) != 1 else ''} refused"


def _agent_report(outcome: TaskOutcome) -> list[str]:
    """What a structured agent said of its work: its refusals, its final message, cost."""
    lines = []
    if outcome.refusals:
        lines.append(f"  ⚠ {_refused(outcome.refusals)}:")
        lines += [f"    {clean_line(refusal)}" for refusal in outcome.refusals]
    if outcome.final_message.strip():
        lines.append("  its final message:")
        lines += [f"    {clean_line(line)}" for line in outcome.final_message.strip().splitlines()]
    if outcome.cost_usd is not None:
        lines.append(f"  reported cost: ${outcome.cost_usd:.4f}")
    return lines
