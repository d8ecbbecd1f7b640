"""The pipeline: batches of agents in worktrees, merges, validation, the approved final merge.

Every step reads and writes the run's state on disk, so the same code starts a run and
resumes one after its driver died: tasks already done are skipped, agents still running
are re-attached, agents that finished meanwhile are picked up from their status files.

The user's branch moves in one place only (`_merge_into_base`): fast-forward, after
validation passed and the approver said yes, with a compare-and-swap on the ref.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import shutil
import traceback
from collections.abc import Iterator
from pathlib import Path

from tui_orch.engine.agents.jobs import SupervisorStatus, stop_job, wait_until_stopped
from tui_orch.engine.conflicts.monitor import ConflictMonitor
from tui_orch.engine.conflicts.predict import predictions_available
from tui_orch.engine.plans.plan import Plan, load_plan
from tui_orch.engine.repository.gitcli import GitError, first_line
from tui_orch.engine.repository.locations import default_worktree_root, run_worktree_dir
from tui_orch.engine.repository.relocate import inside_git_dir, move_out_of_git_dir
from tui_orch.engine.repository.repo import read_repo
from tui_orch.engine.repository.worktrees import Workspace
from tui_orch.engine.run import events as ev
from tui_orch.engine.run.approvals import (
    Approver,
    BatchRequest,
)
from tui_orch.engine.run.building import BuildSteps
from tui_orch.engine.run.finishing import FinishSteps
from tui_orch.engine.run.journal import RunJournal
from tui_orch.engine.run.run_context import RunContext
from tui_orch.engine.run.run_types import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_MERGED,
    NothingToMerge,
    Outcome,
    RunBusy,
    RunOptions,
    RunResult,
    RunStopped,
)
from tui_orch.engine.run.runs import live_agents
from tui_orch.engine.run.state import (
    RunPhase,
    RunState,
    RunStore,
    TaskPhase,
    TaskState,
)
from tui_orch.tables import plural

__all__ = ["EXIT_FAILED", "Orchestrator", "RunBusy", "RunOptions", "RunResult", "RunStopped"]


class Orchestrator:
    """Drives one run from its state on disk to merged (or to a clear stop)."""

    def __init__(
        self,
        plan: Plan,
        workspace: Workspace,
        state: RunState,
        approver: Approver,
        emit: ev.EventSink,
        options: RunOptions,
        resumed: bool = False,
    ) -> None:
        self.plan = plan
        self.workspace = workspace
        self.store = RunStore(workspace.common)
        self.state = state
        self.approver = approver
        self.journal = RunJournal(self.store, state, emit)
        self.options = options
        self.resumed = resumed
        self._detaching = False
        self.predicting = predictions_available()
        self.monitor = ConflictMonitor(
            workspace.root,
            plan.owners(),
            plan.conflicts.actions,
            [task.id for task in plan.tasks],
            self.predicting,
        )
        self.context = RunContext(
            plan, workspace, self.journal, approver, options, self.monitor, resumed
        )
        self.building = BuildSteps(self.context)  # a batch: agents, checks, its merge
        self.finishing = FinishSteps(self.context)  # validation, the base's move, clean-up

    @property
    def restart_only(self) -> frozenset[str] | None:
        """On resume, of the failed tasks restart only these (`r` on one task)."""
        return self.context.restart_only

    @restart_only.setter
    def restart_only(self, task_ids: frozenset[str] | None) -> None:
        self.context.restart_only = task_ids

    def emit(self, event_type: type[ev.Event], **values: object) -> None:
        self.journal.emit(event_type, **values)

    # -- construction -------------------------------------------------------------

    @classmethod
    def new_run(
        cls,
        plan: Plan,
        workspace: Workspace,
        approver: Approver,
        emit: ev.EventSink,
        options: RunOptions | None = None,
    ) -> Orchestrator:
        """A fresh run of plan; nothing is created on disk until `run` is awaited."""
        options = options or RunOptions()
        store = RunStore(workspace.common)
        run_id = options.run_id or store.new_run_id()
        base = plan.base or ""
        root = options.worktree_root or default_worktree_root()
        run_root = run_worktree_dir(root, workspace.common, run_id)
        batches = [list(batch.task_ids) for batch in plan.batches()]
        prefix = f"tui-orch/{run_id}"
        tasks = {
            task_id: TaskState(
                id=task_id,
                batch=number,
                branch=f"{prefix}/{task_id}",
                worktree=str(run_root / task_id),
            )
            for number, batch in enumerate(batches, start=1)
            for task_id in batch
        }
        state = RunState(
            run_id=run_id,
            repo=str(workspace.root),
            plan_source=plan.source,
            base=base,
            base_start=workspace.rev(base),
            integration_branch=f"{prefix}/integration",
            integration_worktree=str(run_root / "_integration"),
            worktree_root=str(run_root),
            batches=batches,
            tasks=tasks,
        )
        return cls(plan, workspace, state, approver, emit, options)

    @classmethod
    def resume_run(
        cls,
        workspace: Workspace,
        run_id: str,
        approver: Approver,
        emit: ev.EventSink,
        options: RunOptions | None = None,
    ) -> Orchestrator:
        """Pick up a run where it stopped, with the plan it started with."""
        store = RunStore(workspace.common)
        state = store.load(run_id)
        plan = load_plan(store.plan_copy(run_id), read_repo(workspace.root), state.plan_source)
        orchestrator = cls(plan, workspace, state, approver, emit, options or RunOptions(), True)
        orchestrator.journal.created = True
        return orchestrator

    # -- the pipeline -----------------------------------------------------------------

    async def run(self) -> RunResult:
        """Run (or resume) to the end; never raises for a failed run, only returns."""
        with self._driver_lock():
            try:
                # Off the event loop (it creates the integration worktree), and whole:
                # a cancel waits for it, so what it made is known to the stop that follows.
                preparing = asyncio.ensure_future(asyncio.to_thread(self._prepare))
                try:
                    await asyncio.shield(preparing)
                except asyncio.CancelledError:
                    await preparing
                    raise
                while self.state.batch_index < len(self.state.batches):
                    await self._run_batch(self.state.batch_index)
                await self.finishing.finish()
                return self._conclude(Outcome.MERGED, EXIT_MERGED, self._merged_message())
            except RunStopped as stop:
                return self._conclude(stop.outcome, stop.exit_code, stop.message)
            except NothingToMerge as nothing:
                await asyncio.to_thread(self.finishing.clean_up)
                return self._conclude(nothing.outcome, nothing.exit_code, nothing.message)
            except Exception as error:
                if not self.journal.created:
                    raise  # nothing was made: the caller reports it
                return self._conclude(Outcome.FAILED, EXIT_FAILED, self._internal_error(error))
            except asyncio.CancelledError:
                if self._detaching:
                    running = self.running_task_ids()
                    return self._conclude(
                        Outcome.DETACHED,
                        EXIT_MERGED,
                        f"detached from run {self.state.run_id}: "
                        f"{len(running)} "
                        f"{'agent keeps' if len(running) == 1 else 'agents keep'} running; "
                        f"`tui-orch attach {self.state.run_id}` reopens the app on it "
                        f"(`tui-orch resume {self.state.run_id} --headless` follows it without)",
                    )
                stopped = await asyncio.shield(asyncio.to_thread(self._stop_all_jobs))
                if self.state.phase is RunPhase.VALIDATING:
                    what = "the validation"
                else:
                    what = f"{stopped} running agent{'' if stopped == 1 else 's'}"
                return self._conclude(
                    Outcome.INTERRUPTED,
                    EXIT_INTERRUPTED,
                    f"interrupted: stopped {what}; "
                    f"their work is kept in {self.state.worktree_root}; "
                    f"run `tui-orch resume {self.state.run_id}` to go on",
                )

    # -- control from a front end ------------------------------------------------------

    def detach(self, leave_running: bool = True) -> None:
        """Whether a cancellation leaves agents running (the app quits, they go on).

        Off by default (Ctrl-C in the console stops them); the app turns it on, so that
        even an app crash never takes the agents down, and off only for "stop and quit".
        """
        self._detaching = leave_running

    def running_task_ids(self) -> list[str]:
        return [t.id for t in self.state.tasks.values() if t.phase is TaskPhase.RUNNING]

    async def restart_task(self, task_id: str) -> bool:
        """Run a failed task's agent again while its batch is built (see BuildSteps)."""
        return await self.building.restart_task(task_id)

    def stop_task(self, task_id: str) -> bool:
        """Stop one agent (TERM, then KILL); its worktree and branch are kept."""
        task = self.state.tasks[task_id]
        if task.phase is not TaskPhase.RUNNING or task.handle is None:
            return False
        stop_job(task.handle, self.store.task_files(self.state.run_id, task_id))
        return True

    def _prepare(self) -> None:
        state = self.state
        moved = ""
        if not self.journal.created:
            self._create()
        else:
            root = self.options.worktree_root or default_worktree_root()
            if inside_git_dir(state, self.workspace):
                live = set(live_agents(self.store, state))
                moved = move_out_of_git_dir(self.workspace, state, root, live)
        after_move = state.phase is RunPhase.MERGED  # only clean-up is left: it may be gone
        if self.resumed and not after_move and not Path(state.integration_worktree).exists():
            raise RunStopped(
                Outcome.FAILED,
                f"the integration worktree {state.integration_worktree} is gone, so run "
                f"{state.run_id} cannot go on; start a new run",
            )
        self.journal.started(
            ev.RunStarted(
                run_id=state.run_id,
                plan=self.plan.source,
                repo=str(self.workspace.root),
                base=state.base,
                base_commit=state.base_start,
                batches=tuple(tuple(batch) for batch in state.batches),
                state_dir=str(self.store.run_dir(state.run_id)),
                resumed=self.resumed,
                tasks=tuple(
                    ev.TaskSnapshot(
                        task.id,
                        self.plan.task(task.id).agent,
                        task.shown_state,
                        task.worktree,
                        task.branch,
                        str(self.store.task_files(state.run_id, task.id).log),
                        task.start_commit,
                        task.started_at,
                        task.ended_at,
                        self.plan.agents[self.plan.task(task.id).agent].format,
                    )
                    for task in state.tasks.values()
                ),
            )
        )
        if moved:
            self.emit(ev.Notice, message=moved)
        if not self.predicting:
            self.emit(
                ev.Notice,
                message="merge-conflict predictions are off: they need git 2.38 or newer; "
                "ownership and overlap checks still run",
            )

    def _create(self) -> None:
        """The run's state, plan copy and integration worktree: all of them or none.

        If any step fails, what the earlier steps made is removed again, so the
        repository, its branches and worktrees, and the runs folder are as they were.
        """
        state = self.state
        run_dir = self.store.run_dir(state.run_id)
        try:
            self.store.plan_copy(state.run_id).write_text(self.plan.text, encoding="utf-8")
            self.store.save(state)
            self.workspace.add_worktree(
                Path(state.integration_worktree), state.integration_branch, state.base_start
            )
        except (GitError, OSError, ValueError) as error:
            self._undo_create(run_dir)
            raise RunStopped(
                Outcome.FAILED,
                f"run {state.run_id} could not start: {first_line(error)}; nothing was left "
                f"behind and '{state.base}' was not touched",
            ) from None
        self.journal.created = True

    def _undo_create(self, run_dir: Path) -> None:
        """Remove what `_create` made (the integration worktree undoes itself)."""
        state = self.state
        integration = Path(state.integration_worktree)
        with contextlib.suppress(OSError):
            for folder in (integration.parent, integration.parent.parent):
                folder.rmdir()  # only when empty: the run's folder, then the repo's
        shutil.rmtree(run_dir, ignore_errors=True)
        with contextlib.suppress(OSError):
            self.store.root.rmdir()

    # -- one batch -------------------------------------------------------------------

    async def _run_batch(self, index: int) -> None:
        state = self.state
        number, total = index + 1, len(state.batches)
        if not state.batch_approved:
            # A batch not yet under way; in one that is, agents still to start are held.
            if spent := self.context.over_budget():
                raise RunStopped(Outcome.FAILED, f"batch {number} was not started: {spent}")
            await self._approve_batch(index)
        runnable = [
            state.tasks[task_id]
            for task_id in state.batches[index]
            if state.tasks[task_id].phase not in (TaskPhase.SKIPPED, TaskPhase.EXCLUDED)
        ]
        self.monitor.start_batch()
        self.emit(
            ev.BatchStarted, number=number, total=total, task_ids=tuple(t.id for t in runnable)
        )
        await self.building.build(runnable)
        # Failed tasks: restarted, left out, or the run stops.
        await self.building.merge_batch(index, runnable)
        self.journal.batch_merged()

    async def _approve_batch(self, index: int) -> None:
        state = self.state
        candidates = tuple(
            self.plan.task(task_id)
            for task_id in state.batches[index]
            if state.tasks[task_id].phase is TaskPhase.PENDING
        )
        if not candidates:  # everything in it was skipped: nothing to ask about
            self.journal.batch_approved()
            return
        decision = await self.approver.approve_batch(
            BatchRequest(state.run_id, index + 1, len(state.batches), candidates)
        )
        if not decision.approved:
            raise RunStopped(
                Outcome.ABORTED,
                f"stopped before batch {index + 1} at your request; '{state.base}' was not "
                f"touched; run `tui-orch resume {state.run_id}` to go on or "
                f"`tui-orch clean {state.run_id}` to drop the run",
            )
        self.building.skip(decision.skip, "skipped at your request", TaskPhase.SKIPPED)
        self.journal.batch_approved()

    # -- stopping and concluding ---------------------------------------------------------------

    def _stop_all_jobs(self) -> int:
        """Stop every job of this run that still runs; wait for each to end."""
        handles = []
        for task in self.state.tasks.values():
            if task.phase is TaskPhase.RUNNING and task.handle is not None:
                files = self.store.task_files(self.state.run_id, task.id)
                stop_job(task.handle, files)
                handles.append((task, files))
        validations = 0
        for index, record in enumerate(self.state.validation):
            if record.passed is None and record.handle is not None:
                stop_job(record.handle, self.store.validation_files(self.state.run_id, index))
                validations += 1
        stopped = []
        for task, files in handles:
            assert task.handle is not None
            wait_until_stopped(task.handle, self.options.grace + 5)
            stopped.append((task, SupervisorStatus.load(files.status)))
        for record in self.state.validation:
            if record.passed is None and record.handle is not None:
                wait_until_stopped(record.handle, self.options.grace + 5)
        self.journal.jobs_stopped(stopped)
        return len(handles) + validations

    def _conclude(self, outcome: Outcome, exit_code: int, message: str) -> RunResult:
        self.journal.concluded(outcome, exit_code, message)
        return RunResult(self.state.run_id, outcome, exit_code, message)

    def _internal_error(self, error: Exception) -> str:
        """A bug of ours mid-run: keep everything (agents go on), record the traceback,
        and say what to do; the state on disk stays resumable."""
        state = self.state
        report = self.store.run_dir(state.run_id) / "internal-error.txt"
        with contextlib.suppress(OSError):
            report.write_text("".join(traceback.format_exception(error)), encoding="utf-8")
        return (
            f"internal error: {type(error).__name__}: {error}; this is a bug in tui-orch (the "
            f"traceback is in {report}); every agent, worktree, branch and log of run "
            f"{state.run_id} is kept; run `tui-orch resume {state.run_id}` to go on (agents "
            f"still running are followed, not restarted) or `tui-orch clean {state.run_id}`"
        )

    def _merged_message(self) -> str:
        """Counts only tasks whose work was checked to be on the base branch."""
        state = self.state
        merged = sum(1 for t in state.tasks.values() if t.phase is TaskPhase.MERGED)
        empty = [t.id for t in state.tasks.values() if t.phase is TaskPhase.NO_CHANGES]
        changed_nothing = (
            f"; {len(empty)} task{'s' if len(empty) != 1 else ''} changed nothing "
            f"({', '.join(empty)}): see `tui-orch logs {empty[0]}`"
            if empty
            else ""
        )
        kept = len(self.context.kept_after_cleanup)
        cleaned = (
            "worktrees and branches removed, logs kept"
            if not kept
            else f"worktrees and branches of merged work removed; {plural(kept, 'item')} "
            f"with unmerged work kept (see `tui-orch clean {state.run_id}`), logs kept"
        )
        return (
            f"merged {merged} task{'s' if merged != 1 else ''} into '{state.base}' "
            f"({state.base_start[:8]} -> {state.merged_commit[:8]}){changed_nothing}; {cleaned}"
        )

    # -- plumbing ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _driver_lock(self) -> Iterator[None]:
        """Only one process drives a run at a time."""
        run_dir = self.store.run_dir(self.state.run_id)
        run_dir.mkdir(parents=True, exist_ok=True)
        with open(run_dir / "driver.lock", "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RunBusy(
                    f"run {self.state.run_id} is being driven by another tui-orch process"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
