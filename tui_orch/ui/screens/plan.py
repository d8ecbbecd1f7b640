"""Before a batch starts: the plan screen (first batch, with editing) and batch approval."""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Static

from tui_orch.engine.plans.check import CheckReport, check_plan
from tui_orch.engine.plans.problems import InputError, Problem
from tui_orch.engine.run.approvals import BatchDecision, BatchRequest
from tui_orch.ui.approver import AnswerLater
from tui_orch.ui.widgets.batch_table import BatchTable
from tui_orch.ui.widgets.steady_footer import SteadyFooter


class PlanScreen(Screen[BatchDecision | None]):
    """The checked plan: every batch, triage warnings, or the problems to fix.

    Dismissed with the first batch's decision (approve, with skips), or None to quit.
    """

    HELP = """\
## Plan

The plan as it will run: each batch, its tasks, their agents and files.

| key | does |
| --- | --- |
| `a` / `enter` | start the run (the first batch) |
| `s` | skip / un-skip the highlighted task of the first batch |
| `e` | edit the plan in `$EDITOR`, then check it again |
| `r` | check the plan again (after editing it elsewhere) |
| `q` | quit without running anything |
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "start", "Start", id="plan.start"),
        Binding("s", "skip", "Skip task", id="plan.skip"),
        Binding("e", "edit", "Edit plan", id="plan.edit"),
        Binding("r", "recheck", "Re-check", id="plan.recheck"),
        Binding("q", "quit_plan", "Quit", id="plan.quit"),
    ]

    def __init__(
        self,
        plan_path: Path,
        repo: Path | None,
        start: Callable[[BatchDecision, CheckReport], Awaitable[str | None]],
    ) -> None:
        super().__init__(id="plan-screen")
        self.plan_path = plan_path
        self.repo = repo
        self.start = start
        self.report: CheckReport | None = None
        self.problems: list[Problem] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="plan-body"):
            yield Static(id="plan-title", classes="screen-title")
            yield Static(id="plan-summary")
            yield BatchTable(id="plan-table")
            yield Static(id="plan-problems")
        yield SteadyFooter()

    def on_mount(self) -> None:
        self.recheck()

    @work(
        thread=True,
        exclusive=True,
        group="plan-check",
        exit_on_error=False,
        description="Checking the plan",
    )
    def recheck(self) -> None:
        """Check the plan file (in a thread: it reads files and asks git)."""
        try:
            report: CheckReport | None = check_plan(self.plan_path, self.repo)
            problems: list[Problem] = []
        except InputError as error:
            report, problems = None, error.problems
        self.app.call_from_thread(self._show, report, problems)

    def _show(self, report: CheckReport | None, problems: list[Problem]) -> None:
        self.report, self.problems = report, problems
        title = self.query_one("#plan-title", Static)
        summary = self.query_one("#plan-summary", Static)
        table = self.query_one(BatchTable)
        problem_view = self.query_one("#plan-problems", Static)
        title.update(f"Plan  {self.plan_path.name}")
        self.set_class(bool(problems), "-invalid")
        if report is None:
            summary.update(f"{len(problems)} problem(s): fix them (e to edit), then r to re-check.")
            problem_view.update("\n".join(str(problem) for problem in problems))
            table.show([], set())
            return
        plan, triage = report.plan, report.triage
        lines = [
            f"goal: {plan.goal.strip().splitlines()[0]}" if plan.goal.strip() else "",
            f"base: {plan.base}   mode: {triage.mode} ({triage.file_count} files, "
            f"{len(plan.tasks)} tasks, {len(report.batches)} batches)   "
            f"max_parallel: {plan.max_parallel}",
            *(f"⚠ {warning}" for warning in triage.warnings),
        ]
        summary.update("\n".join(line for line in lines if line))
        problem_view.update("")
        batches = [
            (batch.number, [plan.task(task_id) for task_id in batch.task_ids])
            for batch in report.batches
        ]
        table.show(batches, skippable=set(report.batches[0].task_ids))
        table.focus()

    async def action_start(self) -> None:
        if self.report is None:
            self.notify("The plan has problems; fix them first.", severity="error")
            return
        decision = BatchDecision.approve(frozenset(self.query_one(BatchTable).skipped))
        # Awaited in the app's key handling, so a second key waits until this is done.
        # The plan as checked and shown here runs, even if its file changed since.
        refusal = await self.start(decision, self.report)
        if refusal:
            self.notify(refusal, severity="error", title="cannot start", timeout=30, markup=False)
            return
        self.dismiss(decision)

    def action_skip(self) -> None:
        toggle_skip(self, self.query_one(BatchTable))

    def action_recheck(self) -> None:
        self.recheck()

    def action_edit(self) -> None:
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        command = [*shlex.split(editor), str(self.plan_path)]
        try:
            try:
                with self.app.suspend():
                    subprocess.run(command, check=False)
            except SuspendNotSupported:  # no terminal to hand over (e.g. headless)
                subprocess.run(command, check=False, stdin=subprocess.DEVNULL)
        except OSError as error:
            self.notify(f"Could not open {editor}: {error.strerror}", severity="error")
        self.recheck()

    def action_quit_plan(self) -> None:
        self.dismiss(None)

    @on(BatchTable.RowSelected)
    async def start_on_enter(self) -> None:
        await self.action_start()  # a coroutine: called without await, it never ran


class BatchApprovalScreen(AnswerLater, Screen[BatchDecision]):
    """A later batch about to start: approve it, skip some of its tasks, or stop the run."""

    HELP = """\
## Batch approval

The next batch is about to start. Earlier batches are merged into the integration
branch, so these tasks build on their work.

| key | does |
| --- | --- |
| `a` / `enter` | start the batch |
| `s` | skip / un-skip the highlighted task (tasks depending on it are skipped too) |
| `x` | stop the run here (everything so far is kept; `tui-orch resume` goes on) |
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "start", "Start batch", id="batch.start"),
        Binding("s", "skip", "Skip task", id="batch.skip"),
        Binding("x", "stop_run", "Stop run", id="batch.stop"),
        Binding("escape", "later", "Later", id="batch.later"),
    ]

    def __init__(self, request: BatchRequest) -> None:
        super().__init__(id="batch-screen")
        self.request = request

    def compose(self) -> ComposeResult:
        with Vertical(id="batch-body"):
            yield Static(
                f"Batch {self.request.number}/{self.request.total} is ready to start",
                classes="screen-title",
            )
            yield BatchTable(id="batch-table")
        yield SteadyFooter()

    def on_mount(self) -> None:
        table = self.query_one(BatchTable)
        tasks = list(self.request.tasks)
        table.show([(self.request.number, tasks)], skippable={task.id for task in tasks})
        table.focus()

    def action_start(self) -> None:
        self.dismiss(BatchDecision.approve(frozenset(self.query_one(BatchTable).skipped)))

    def action_skip(self) -> None:
        toggle_skip(self, self.query_one(BatchTable))

    def action_stop_run(self) -> None:
        self.dismiss(BatchDecision.abort())

    @on(BatchTable.RowSelected)
    def start_on_enter(self) -> None:
        self.action_start()


def toggle_skip(screen: Screen[object], table: BatchTable) -> None:
    """Skip or un-skip the highlighted task, saying why not, or which tasks go with it."""
    reason = table.toggle_skip()
    if reason:
        screen.notify(reason, severity="warning", markup=False)
        return
    task_id = table.current_task_id
    also = sorted(table.dependents({task_id})) if task_id in table.skipped else []
    if also:
        screen.notify(
            f"Skipping '{task_id}' also skips {', '.join(repr(t) for t in also)}: "
            "they need its work.",
            markup=False,
        )
