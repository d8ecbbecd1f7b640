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
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tui_orch.engine import events as ev
from tui_orch.engine.approvals import (
    Approver,
    BatchRequest,
    FinalRequest,
    MergeRequest,
    ProblemsRequest,
    TaskOutcome,
)
from tui_orch.engine.commands import render_argv
from tui_orch.engine.conflicts import Conflict, ConflictMonitor, WorktreeView
from tui_orch.engine.gitcli import GitError
from tui_orch.engine.interfaces import check_interfaces
from tui_orch.engine.jobs import is_alive, read_status, start_job, stop_job, wait_until_stopped
from tui_orch.engine.merge import merge_into
from tui_orch.engine.plan import Plan, Task, load_plan
from tui_orch.engine.preconditions import tracked_changes
from tui_orch.engine.predict import predictions_available
from tui_orch.engine.repo import read_repo
from tui_orch.engine.state import (
    RunPhase,
    RunState,
    RunStore,
    TaskPhase,
    TaskState,
    ValidationState,
)
from tui_orch.engine.supervisor import SupervisorStatus
from tui_orch.engine.watcher import WatchedJob, watch_jobs
from tui_orch.engine.worktrees import Workspace

EXIT_MERGED = 0
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class RunOptions:
    """Knobs of a run that are not part of the plan."""

    worktree_root: Path | None = None
    run_id: str | None = None  # for reproducible screenshots; normally time-based
    poll_interval: float = 0.1
    grace: float = 5.0
    copy_ignored: tuple[str, ...] = (".env", ".env.*")


@dataclass(frozen=True)
class RunResult:
    run_id: str
    outcome: str
    exit_code: int
    message: str


class RunStopped(Exception):
    """The run cannot go on now; everything is kept and the message says what to do."""

    def __init__(self, outcome: str, message: str, exit_code: int = EXIT_FAILED) -> None:
        self.outcome = outcome
        self.message = message
        self.exit_code = exit_code
        super().__init__(message)


class _NothingToMerge(Exception):
    """Every task finished without changing a file: there is no branch move to ask about."""


class RunBusy(Exception):
    """Another tui-orch process is driving this run right now."""


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
        self._emit = emit
        self.options = options
        self.resumed = resumed
        self._created = False
        self._detaching = False
        self._save_lock = threading.Lock()
        self.predicting = predictions_available()
        self.monitor = ConflictMonitor(
            workspace.root,
            plan.owners(),
            plan.conflicts.actions,
            [task.id for task in plan.tasks],
            self.predicting,
        )

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
        root = options.worktree_root or workspace.common / "tui-orch" / "worktrees"
        run_root = (root / run_id).resolve()
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
        orchestrator._created = True
        return orchestrator

    # -- the pipeline -----------------------------------------------------------------

    async def run(self) -> RunResult:
        """Run (or resume) to the end; never raises for a failed run, only returns."""
        with self._driver_lock():
            try:
                self._prepare()
                while self.state.batch_index < len(self.state.batches):
                    await self._run_batch(self.state.batch_index)
                await self._finish()
                return self._conclude("merged", EXIT_MERGED, self._merged_message())
            except RunStopped as stop:
                return self._conclude(stop.outcome, stop.exit_code, stop.message)
            except _NothingToMerge:
                await asyncio.to_thread(self._clean_up)
                return self._conclude(
                    "merged",
                    EXIT_MERGED,
                    f"nothing to merge: no task changed a file, so '{self.state.base}' was not "
                    "moved; worktrees and branches removed, logs kept",
                )
            except asyncio.CancelledError:
                if self._detaching:
                    running = self.running_task_ids()
                    return self._conclude(
                        "detached",
                        EXIT_MERGED,
                        f"detached from run {self.state.run_id}: "
                        f"{len(running)} agent{'' if len(running) == 1 else 's'} keep running; "
                        f"run `tui-orch resume {self.state.run_id}` to pick it up",
                    )
                stopped = await asyncio.shield(asyncio.to_thread(self._stop_all_jobs))
                if self.state.phase is RunPhase.VALIDATING:
                    what = "the validation"
                else:
                    what = f"{stopped} running agent{'' if stopped == 1 else 's'}"
                return self._conclude(
                    "interrupted",
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

    def stop_task(self, task_id: str) -> bool:
        """Stop one agent (TERM, then KILL); its worktree and branch are kept."""
        task = self.state.tasks[task_id]
        if task.phase is not TaskPhase.RUNNING or task.handle is None:
            return False
        stop_job(task.handle, self.store.task_files(self.state.run_id, task_id))
        return True

    def _prepare(self) -> None:
        state = self.state
        if not self._created:
            run_dir = self.store.run_dir(state.run_id)
            run_dir.mkdir(parents=True, exist_ok=True)
            plan_text = Path(self.plan.source).read_text(encoding="utf-8")
            self.store.plan_copy(state.run_id).write_text(plan_text, encoding="utf-8")
            self.store.save(state)
            self.workspace.add_worktree(
                Path(state.integration_worktree), state.integration_branch, state.base_start
            )
            self._created = True
        elif not Path(state.integration_worktree).exists():
            raise RunStopped(
                "failed",
                f"the integration worktree {state.integration_worktree} is gone, so run "
                f"{state.run_id} cannot go on; start a new run",
            )
        state.phase = RunPhase.BUILDING if state.batch_index < len(state.batches) else state.phase
        self._save()
        self.emit(
            ev.RunStarted,
            plan=self.plan.source,
            repo=str(self.workspace.root),
            base=state.base,
            base_commit=state.base_start,
            batches=tuple(tuple(batch) for batch in state.batches),
            state_dir=str(self.store.run_dir(state.run_id)),
            resumed=self.resumed,
        )
        if not self.predicting:
            self.emit(
                ev.Notice,
                message="merge-conflict predictions are off: they need git 2.38 or newer; "
                "ownership and overlap checks still run",
            )

    # -- one batch -------------------------------------------------------------------

    async def _run_batch(self, index: int) -> None:
        state = self.state
        number, total = index + 1, len(state.batches)
        if not state.batch_approved:
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
        await self._build(runnable)
        failed = [task for task in runnable if task.phase is TaskPhase.FAILED]
        if failed:
            raise RunStopped("failed", self._failure_message(failed))
        await self._merge_batch(index, runnable)
        state.batch_index += 1
        state.batch_approved = False
        self._save()

    async def _approve_batch(self, index: int) -> None:
        state = self.state
        candidates = tuple(
            self.plan.task(task_id)
            for task_id in state.batches[index]
            if state.tasks[task_id].phase is TaskPhase.PENDING
        )
        if not candidates:  # everything in it was skipped: nothing to ask about
            state.batch_approved = True
            self._save()
            return
        decision = await self.approver.approve_batch(
            BatchRequest(state.run_id, index + 1, len(state.batches), candidates)
        )
        if not decision.approved:
            raise RunStopped(
                "aborted",
                f"stopped before batch {index + 1} at your request; '{state.base}' was not "
                f"touched; run `tui-orch resume {state.run_id}` to go on or "
                f"`tui-orch clean {state.run_id}` to drop the run",
            )
        self._skip(decision.skip, "skipped at your request", TaskPhase.SKIPPED)
        state.batch_approved = True
        self._save()

    def _skip(self, task_ids: frozenset[str] | set[str], reason: str, phase: TaskPhase) -> None:
        """Mark tasks skipped (or excluded), and every task that depends on them skipped."""
        for task_id in task_ids:
            self.state.tasks[task_id].phase = phase
            self.emit(ev.TaskSkipped, task_id=task_id, reason=reason)
        for task_id in self._dependents(set(task_ids)):
            if self.state.tasks[task_id].phase is TaskPhase.PENDING:
                self.state.tasks[task_id].phase = TaskPhase.SKIPPED
                self.emit(
                    ev.TaskSkipped, task_id=task_id, reason="a task it depends on was left out"
                )

    def _dependents(self, roots: set[str]) -> set[str]:
        found: set[str] = set()
        frontier = set(roots)
        while frontier:
            frontier = {
                task.id
                for task in self.plan.tasks
                if task.id not in found and frontier.intersection(task.depends_on)
            }
            found |= frontier
        return found

    async def _build(self, tasks: list[TaskState]) -> None:
        """Start or re-attach every task's agent, then follow them all to their end."""
        await asyncio.to_thread(self._settle_ended_while_away, tasks)
        to_start = [t for t in tasks if t.phase in (TaskPhase.PENDING, TaskPhase.FAILED)]
        await asyncio.gather(*(asyncio.to_thread(self._prepare_worktree, t) for t in to_start))
        # Starting processes blocks (fork, exec, state saves): keep it off the event loop.
        watched = await asyncio.to_thread(self._start_agents, to_start)
        for task in tasks:
            if (
                task.phase is TaskPhase.RUNNING
                and task.handle is not None
                and not any(job.key == task.id for job in watched)
            ):
                files = self.store.task_files(self.state.run_id, task.id)
                # Re-attached: already-logged lines were shown before; show only new ones.
                offset = files.log.stat().st_size if files.log.exists() else 0
                watched.append(WatchedJob(task.id, files, task.handle, log_offset=offset))
        if not watched:
            return

        async def ended(task_id: str, status: SupervisorStatus) -> None:
            await asyncio.to_thread(self._agent_ended, self.state.tasks[task_id], status)

        agents_done = asyncio.Event()
        monitoring = asyncio.create_task(self._monitor_loop(tasks, agents_done))
        try:
            await watch_jobs(
                watched,
                on_lines=lambda task_id, lines: self.emit(
                    ev.AgentOutput, task_id=task_id, lines=tuple(lines)
                ),
                on_end=ended,
                interval=self.options.poll_interval,
            )
        finally:
            # Let a round under way finish (a thread cannot be cancelled) before the last one.
            agents_done.set()
            await monitoring
        await self._monitor_round(tasks)  # the finished work, before anyone approves a merge

    async def _monitor_loop(self, tasks: list[TaskState], agents_done: asyncio.Event) -> None:
        """Every couple of seconds while agents run: what they changed, against whom."""
        while not agents_done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(agents_done.wait(), self.plan.conflicts.interval)
                return
            await self._monitor_round(tasks)

    async def _monitor_round(self, tasks: list[TaskState]) -> None:
        views = [
            WorktreeView(task.id, Path(task.worktree), task.start_commit)
            for task in tasks
            if task.start_commit and task.phase not in (TaskPhase.SKIPPED, TaskPhase.EXCLUDED)
        ]
        try:
            head = await asyncio.to_thread(self.workspace.rev, self.state.integration_branch)
            appeared, gone = await asyncio.to_thread(self.monitor.round, views, head)
        except (GitError, RuntimeError) as error:
            self.emit(ev.Notice, message=f"conflict check skipped this round: {error}")
            return
        self._report_conflicts(appeared, gone)

    def _report_conflicts(self, appeared: list[Conflict], gone: list[Conflict]) -> None:
        for conflict in appeared:
            self.emit(
                ev.ConflictDetected,
                conflict_kind=conflict.kind,
                tasks=conflict.tasks,
                paths=conflict.paths,
                message=conflict.message,
                policy=conflict.policy,
                blocks=conflict.blocks,
                owner=conflict.owner,
            )
        for conflict in gone:
            self.emit(
                ev.ConflictResolved,
                conflict_kind=conflict.kind,
                tasks=conflict.tasks,
                paths=conflict.paths,
                message=conflict.message,
            )
        if appeared or gone:
            self.state.conflicts = [c.to_dict() for c in self.monitor.history]
            self._save()

    def _settle_ended_while_away(self, tasks: list[TaskState]) -> None:
        """Agents that ended while no tui-orch was watching: record (and commit) them now,
        so a resume retries the ones that failed instead of only reporting them."""
        for task in tasks:
            if task.phase is not TaskPhase.RUNNING or task.handle is None:
                continue
            status = read_status(self.store.task_files(self.state.run_id, task.id))
            if status is not None and status.state == "exited" and not is_alive(task.handle):
                self._agent_ended(task, status)

    def _start_agents(self, tasks: list[TaskState]) -> list[WatchedJob]:
        return [self._start_agent(task) for task in tasks]

    def _prepare_worktree(self, task: TaskState) -> None:
        worktree = Path(task.worktree)
        if worktree.exists():
            return  # a retry works on top of what the last attempt left
        task.start_commit = self.workspace.rev(self.state.integration_branch)
        self.workspace.add_worktree(worktree, task.branch, task.start_commit)
        self.workspace.copy_ignored_files(worktree, self.options.copy_ignored)

    def _start_agent(self, task_state: TaskState) -> WatchedJob:
        task = self.plan.task(task_state.id)
        files = self.store.task_files(self.state.run_id, task.id)
        files.directory.mkdir(parents=True, exist_ok=True)
        prompt_file = files.directory / "prompt.txt"
        prompt = self._prompt_for(task)
        prompt_file.write_text(prompt, encoding="utf-8")
        profile = self.plan.agents[task.agent]
        argv = render_argv(
            profile.command,
            {"prompt": prompt, "prompt_file": str(prompt_file), "task_id": task.id},
            task.files,
        )
        env = {
            **os.environ,
            **profile.env,
            "TUI_ORCH_RUN_ID": self.state.run_id,
            "TUI_ORCH_TASK_ID": task.id,
            "TUI_ORCH_FILES": "\n".join(task.files),
            "TUI_ORCH_PROMPT_FILE": str(prompt_file),
        }
        if task_state.attempts:
            with open(files.log, "a", encoding="utf-8") as log:
                log.write(f"--- tui-orch: attempt {task_state.attempts + 1} ---\n")
        handle, process = start_job(
            files,
            argv,
            Path(task_state.worktree),
            env,
            self.plan.timeout_for(task),
            self.options.grace,
        )
        task_state.phase = TaskPhase.RUNNING
        task_state.supervisor_pid = handle.pid
        task_state.supervisor_start = handle.start_time
        task_state.attempts += 1
        task_state.started_at = time.time()
        task_state.ended_at = None
        task_state.exit_code = None
        task_state.reason = task_state.message = ""
        self._save()  # tracked before anything else can happen
        self.emit(
            ev.AgentStarted,
            task_id=task.id,
            agent=task.agent,
            pid=handle.pid,
            worktree=task_state.worktree,
            branch=task_state.branch,
            log_path=str(files.log),
        )
        offset = files.log.stat().st_size if files.log.exists() else 0
        return WatchedJob(task.id, files, handle, process, log_offset=offset)

    def _prompt_for(self, task: Task) -> str:
        owned = "\n".join(f"- {path}" for path in task.files)
        goal = f" of a larger change: {self.plan.goal.strip()}" if self.plan.goal.strip() else ""
        return (
            f"{task.prompt.rstrip()}\n\n---\n"
            f"You are working on task '{task.id}' ({task.title}){goal}.\n"
            "Other agents are editing other files of this repository at the same time, "
            "each in its own worktree. Create or edit only these files:\n"
            f"{owned}\n"
        )

    def _agent_ended(self, task: TaskState, status: SupervisorStatus | None) -> None:
        """Record how an agent ended; commit its work when it succeeded."""
        status = status or SupervisorStatus(state="exited", supervisor_pid=0, reason="lost")
        task.ended_at = status.ended_at or time.time()
        task.exit_code = status.exit_code
        task.reason = status.reason or "exited"
        task.agent_pid = status.agent_pid
        succeeded = status.reason == "exited" and status.exit_code == 0
        task.phase = TaskPhase.SUCCEEDED if succeeded else TaskPhase.FAILED
        task.message = status.message
        self.emit(
            ev.AgentExited,
            task_id=task.id,
            exit_code=task.exit_code,
            reason=task.reason,
            duration=round(task.duration or 0.0, 3),
            message=status.message,
        )
        if succeeded:
            worktree = Path(task.worktree)
            title = self.plan.task(task.id).title
            self.workspace.commit_all(
                worktree,
                f"tui-orch: {task.id}: {title}\n\nRun {self.state.run_id}, agent "
                f"{self.plan.task(task.id).agent}.",
            )
            summary = self.workspace.summary(
                task.start_commit, self.workspace.rev("HEAD", worktree)
            )
            task.head = summary.head
            task.commits = summary.commits
            task.files_changed = list(summary.files)
            task.insertions, task.deletions = summary.insertions, summary.deletions
            self.emit(
                ev.TaskCommitted,
                task_id=task.id,
                commit=summary.head,
                commits=summary.commits,
                files_changed=len(summary.files),
            )
        self._save()

    def _failure_message(self, failed: list[TaskState]) -> str:
        sentences = []
        for task in failed:
            log = self.store.task_files(self.state.run_id, task.id).log
            if task.reason == "timeout":
                timeout = self.plan.timeout_for(self.plan.task(task.id))
                why = f"its agent ran past its {timeout:g}s timeout and was stopped"
            elif task.reason == "stopped":
                why = "its agent was stopped"
            elif task.reason in ("failed-to-start", "lost"):
                why = task.message or "its agent could not be run"
            else:
                why = f"its agent exited with code {task.exit_code}"
            sentences.append(
                f"task '{task.id}' failed: {why}; its log is {log} and its work is kept in "
                f"{task.worktree} (branch {task.branch})"
            )
        hint = (
            f"; nothing of batch {failed[0].batch} was merged and '{self.state.base}' was not "
            f"touched; fix the cause and run `tui-orch resume {self.state.run_id}` to retry"
        )
        return "\n".join([*sentences[:-1], sentences[-1] + hint])

    # -- merging a batch -----------------------------------------------------------------

    async def _merge_batch(self, index: int, tasks: list[TaskState]) -> None:
        state = self.state
        ready = [t for t in tasks if t.phase is TaskPhase.SUCCEEDED]
        if not ready:
            return
        outcomes = tuple(
            TaskOutcome(
                t.id, t.branch, t.commits, tuple(t.files_changed), t.insertions, t.deletions
            )
            for t in ready
        )
        ready_ids = {t.id for t in ready}
        blocked = {
            task_id: tuple(reasons)
            for task_id, reasons in self.monitor.blocked().items()
            if task_id in ready_ids
        }
        warnings = tuple(
            dict.fromkeys(
                message
                for task_id, messages in self.monitor.warnings_by_task().items()
                if task_id in ready_ids
                for message in messages
            )
        )
        decision = await self.approver.approve_merge(
            MergeRequest(
                state.run_id,
                index + 1,
                len(state.batches),
                state.integration_branch,
                outcomes,
                warnings,
                blocked,
            )
        )
        if not decision.approved:
            raise RunStopped(
                "aborted",
                f"batch {index + 1} was built but not merged, at your request; its branches are "
                f"kept; run `tui-orch resume {state.run_id}` to be asked again",
            )
        self._skip(decision.exclude, "kept out of the merge at your request", TaskPhase.EXCLUDED)
        held = [
            task_id
            for task_id in blocked
            if task_id not in decision.override and task_id not in decision.exclude
        ]
        for task_id in held:
            self._skip({task_id}, "blocked: " + "; ".join(blocked[task_id]), TaskPhase.EXCLUDED)
        integration = Path(state.integration_worktree)
        for task in ready:
            if task.phase is not TaskPhase.SUCCEEDED:
                continue
            outcome = await asyncio.to_thread(
                merge_into,
                self.workspace,
                integration,
                task.branch,
                f"tui-orch: merge task '{task.id}' (batch {index + 1})",
            )
            if not outcome.ok:
                self._merge_conflict(index, task, outcome.conflicts, outcome.error)
            task.phase = TaskPhase.MERGED
            self._save()
            self.emit(ev.MergeDone, batch=index + 1, task_id=task.id, commit=outcome.commit)
        if held:
            first = held[0]
            others = f" (and {len(held) - 1} more blocked task(s))" if len(held) > 1 else ""
            raise RunStopped(
                "failed",
                f"task '{first}' was not merged because {blocked[first][0]}{others}; its "
                f"branch {state.tasks[first].branch} is kept and '{state.base}' was not "
                f"touched; merge it by hand or set that conflicts policy to warn, then run "
                f"`tui-orch resume {state.run_id}` to go on without it",
            )

    def _merge_conflict(
        self, index: int, task: TaskState, paths: tuple[str, ...], error: str
    ) -> None:
        others = tuple(
            other.id
            for other in self.state.tasks.values()
            if other.phase is TaskPhase.MERGED and set(paths) & set(other.files_changed)
        )
        self.emit(
            ev.MergeConflict, batch=index + 1, task_id=task.id, paths=paths, with_tasks=others
        )
        with_whom = " with " + ", ".join(f"task '{other}'" for other in others) if others else ""
        where = (
            f" in {', '.join(paths)}" if paths else f" ({error.splitlines()[0]})" if error else ""
        )
        raise RunStopped(
            "failed",
            f"merging task '{task.id}' into {self.state.integration_branch} conflicts"
            f"{with_whom}{where}; the merge was aborted and every branch and worktree is kept; "
            f"resolve it on branch {task.branch} (in {task.worktree}), then run "
            f"`tui-orch resume {self.state.run_id}`",
        )

    # -- after the last batch -------------------------------------------------------------

    async def _finish(self) -> None:
        state = self.state
        if state.phase is not RunPhase.AWAITING_MERGE or self._base_moved():
            if self.resumed and self._base_moved():
                await asyncio.to_thread(self._catch_up_with_base)
            await self._check_interfaces()
            await self._validate()
        state.phase = RunPhase.AWAITING_MERGE
        self._save()
        await self._merge_into_base()
        await asyncio.to_thread(self._clean_up)

    def _base_moved(self) -> bool:
        return self.workspace.rev(self.state.base) != self.state.base_start

    def _catch_up_with_base(self) -> None:
        """Base moved while we ran: merge it into the integration branch, then validate again."""
        state = self.state
        new_base = self.workspace.rev(state.base)
        outcome = merge_into(
            self.workspace,
            Path(state.integration_worktree),
            new_base,
            f"tui-orch: merge '{state.base}' ({new_base[:8]}) into the integration branch",
        )
        if not outcome.ok:
            where = f" in {', '.join(outcome.conflicts)}" if outcome.conflicts else ""
            raise RunStopped(
                "failed",
                f"'{state.base}' moved during the run and merging it into "
                f"{state.integration_branch} conflicts{where}; nothing was changed; merge "
                f"'{state.base}' into {state.integration_branch} by hand in "
                f"{state.integration_worktree}, then run `tui-orch resume {state.run_id}`",
            )
        state.base_start = new_base
        self._save()

    async def _check_interfaces(self) -> None:
        """Imports between the tasks' Python files must still resolve once merged."""
        state = self.state
        changed = (
            await asyncio.to_thread(
                self.workspace.git,
                "diff",
                "--name-only",
                "-z",
                state.base_start,
                state.integration_branch,
            )
        ).stdout.split("\0")
        problems = await asyncio.to_thread(
            check_interfaces,
            Path(state.integration_worktree),
            [path for path in changed if path],
            self.plan.owners(),
        )
        policy = self.plan.conflicts.action("interfaces")
        conflicts = [
            Conflict(
                kind="interfaces",
                tasks=tuple(task for task in (p.consumer, p.provider) if task),
                paths=(p.file,),
                message=p.message,
                policy=policy,
                blocks=(p.consumer,) if p.consumer else (),
            )
            for p in problems
        ]
        self._report_conflicts(self.monitor.add(conflicts), [])
        if not problems or policy != "block":
            return
        messages = tuple(problem.message for problem in problems)
        if await self.approver.approve_problems(
            ProblemsRequest(state.run_id, "interfaces", messages)
        ):
            return
        more = f" (and {len(messages) - 1} more)" if len(messages) > 1 else ""
        raise RunStopped(
            "failed",
            f"the interface check of the merged result failed: {messages[0]}{more}; "
            f"'{state.base}' was not touched and {state.integration_branch} is kept; fix it "
            f"there ({state.integration_worktree}) and run `tui-orch resume {state.run_id}`, "
            "or set conflicts.interfaces to warn",
        )

    async def _validate(self) -> None:
        state = self.state
        state.phase = RunPhase.VALIDATING
        state.validation = [ValidationState(command.display) for command in self.plan.validate]
        self._save()
        for index, command in enumerate(self.plan.validate):
            record = state.validation[index]
            files = self.store.validation_files(state.run_id, index)
            self.emit(
                ev.ValidationStarted,
                command=command.display,
                index=index + 1,
                total=len(self.plan.validate),
                log_path=str(files.log),
            )
            handle, process = start_job(
                files,
                list(command.argv),
                Path(state.integration_worktree),
                dict(os.environ),
                None,
                self.options.grace,
            )
            record.supervisor_pid, record.supervisor_start = handle.pid, handle.start_time
            self._save()
            results = await watch_jobs(
                [WatchedJob("validate", files, handle, process)],
                on_lines=lambda _key, lines: self.emit(ev.ValidationOutput, lines=tuple(lines)),
                interval=self.options.poll_interval,
            )
            status = results["validate"]
            record.exit_code, record.reason = status.exit_code, status.reason
            record.passed = status.reason == "exited" and status.exit_code == 0
            self._save()
            self.emit(
                ev.ValidationResult,
                passed=record.passed,
                command=command.display,
                exit_code=status.exit_code,
                reason=status.reason,
            )
            if not record.passed:
                raise RunStopped(
                    "failed",
                    f"validation failed: `{command.display}` exited with code {status.exit_code} "
                    f"on the integrated result; '{state.base}' was not touched and "
                    f"{state.integration_branch} is kept (worktree {state.integration_worktree}, "
                    f"log {files.log})",
                )

    async def _merge_into_base(self) -> None:
        state = self.state
        workspace = self.workspace
        new = workspace.rev(state.integration_branch)
        current = workspace.rev(state.base)
        if new == state.base_start:
            state.merged_commit = current
            raise _NothingToMerge()
        finish_hint = (
            f"run `tui-orch resume {state.run_id}`, or merge {state.integration_branch} "
            "into it by hand"
        )
        if current != state.base_start:
            raise RunStopped(
                "failed",
                f"'{state.base}' moved during the run (from {state.base_start[:8]} to "
                f"{current[:8]}), so it was not touched and everything is kept; {finish_hint}",
            )
        checked_out = workspace.worktree_of_branch(state.base)
        if checked_out is not None and tracked_changes(workspace, checked_out):
            raise RunStopped(
                "failed",
                f"{checked_out} has uncommitted changes on '{state.base}', so it was not moved "
                f"and everything is kept; commit or stash them, then {finish_hint}",
            )
        approved = await self.approver.approve_final(
            FinalRequest(
                state.run_id,
                state.base,
                state.base_start,
                new,
                state.integration_branch,
                tuple(
                    f"{v.command}: {'passed' if v.passed else 'failed'}" for v in state.validation
                ),
                str(checked_out) if checked_out else None,
            )
        )
        if not approved:
            raise RunStopped(
                "aborted",
                f"'{state.base}' was not moved, at your request; the validated result is on "
                f"{state.integration_branch}; {finish_hint}",
            )
        if checked_out is not None:
            done = await asyncio.to_thread(workspace.fast_forward_checkout, checked_out, new)
            moved = done.returncode == 0 and workspace.rev(state.base) == new
            detail = (done.stderr or done.stdout).strip().splitlines()
        else:
            moved = await asyncio.to_thread(workspace.compare_and_swap, state.base, new, current)
            detail = []
        if not moved:
            # git names the files in the way on indented lines after its first line.
            paths = [line.strip() for line in detail[1:] if line.startswith(("\t", "  "))]
            first = detail[0].removeprefix("error: ").rstrip(":") if detail else ""
            reason = f" ({first}: {', '.join(paths)})" if paths else f" ({first})" if first else ""
            raise RunStopped(
                "failed",
                f"'{state.base}' could not be fast-forwarded{reason}, so it was not moved and "
                f"everything is kept; {finish_hint}",
            )
        state.phase = RunPhase.MERGED
        state.merged_commit = new
        self._save()
        self.emit(ev.BaseMerged, base=state.base, old_commit=current, new_commit=new)

    def _clean_up(self) -> None:
        """Remove the run's worktrees and branches; all of it is in base now. Logs stay."""
        state = self.state
        base_head = self.workspace.rev(state.base)
        removed_worktrees: list[str] = []
        removed_branches: list[str] = []
        candidates = [(Path(t.worktree), t.branch) for t in state.tasks.values()] + [
            (Path(state.integration_worktree), state.integration_branch)
        ]
        for worktree, branch in candidates:
            if worktree.exists():
                self.workspace.remove_worktree(worktree, force=True)
                removed_worktrees.append(str(worktree))
            if self.workspace.branch_exists(branch) and self.workspace.is_ancestor(
                branch, base_head
            ):
                self.workspace.delete_branch(branch, force=True)
                removed_branches.append(branch)
        with contextlib.suppress(OSError):
            Path(state.worktree_root).rmdir()
        state.cleaned = True
        self._save()
        self.emit(
            ev.CleanedUp, worktrees=tuple(removed_worktrees), branches=tuple(removed_branches)
        )

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
        for task, files in handles:
            assert task.handle is not None
            wait_until_stopped(task.handle, self.options.grace + 5)
            status = SupervisorStatus.load(files.status)
            task.phase = TaskPhase.FAILED
            task.reason = "stopped"
            if status is not None:
                task.exit_code = status.exit_code
                task.ended_at = status.ended_at
        for record in self.state.validation:
            if record.passed is None and record.handle is not None:
                wait_until_stopped(record.handle, self.options.grace + 5)
        self._save()
        return len(handles) + validations

    def _conclude(self, outcome: str, exit_code: int, message: str) -> RunResult:
        state = self.state
        state.outcome = outcome
        state.exit_code = exit_code
        state.message = message
        if outcome == "merged":
            state.phase = RunPhase.MERGED
        elif outcome == "interrupted":
            state.phase = RunPhase.INTERRUPTED
        elif outcome == "detached":
            pass  # still running in the background; resume picks it up
        elif outcome == "aborted":
            state.phase = (
                RunPhase.ABORTED if state.phase is not RunPhase.AWAITING_MERGE else state.phase
            )
        elif state.phase is not RunPhase.AWAITING_MERGE:
            state.phase = RunPhase.FAILED
        if self._created:
            self._save()
        self.emit(ev.RunFinished, outcome=outcome, exit_code=exit_code, message=message)
        return RunResult(state.run_id, outcome, exit_code, message)

    def _merged_message(self) -> str:
        state = self.state
        merged = sum(1 for t in state.tasks.values() if t.phase is TaskPhase.MERGED)
        return (
            f"merged {merged} task{'s' if merged != 1 else ''} into '{state.base}' "
            f"({state.base_start[:8]} -> {state.merged_commit[:8]}); worktrees and branches "
            "removed, logs kept"
        )

    # -- plumbing ---------------------------------------------------------------------------------

    def emit(self, event_type: type[ev.Event], **values: object) -> None:
        self._emit(event_type(run_id=self.state.run_id, **values))

    def _save(self) -> None:
        if self._created:
            with self._save_lock:  # some steps run in worker threads
                self.store.save(self.state)

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
