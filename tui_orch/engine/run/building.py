"""Building a batch: worktrees, agents under their supervisors, the live conflict checks,
and the merge of the batch's branches into the integration branch."""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import shlex
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tui_orch.engine.agents.adapters.formats import adapter_for
from tui_orch.engine.agents.adapters.report import Report
from tui_orch.engine.agents.exits import AgentExit, ExitReason
from tui_orch.engine.agents.jobs import (
    LogTail,
    SupervisorStatus,
    is_alive,
    last_lines,
    read_status,
    replay_offset,
    start_job,
)
from tui_orch.engine.agents.watcher import WatchedJob, watch_jobs
from tui_orch.engine.conflicts.monitor import WorktreeView
from tui_orch.engine.plans.batches import dependents
from tui_orch.engine.plans.commands import render_argv
from tui_orch.engine.plans.plan import Task
from tui_orch.engine.repository.gitcli import GitError, first_line
from tui_orch.engine.repository.merge import merge_into
from tui_orch.engine.run import events as ev
from tui_orch.engine.run.approvals import (
    MergeDecision,
    MergeRequest,
    TaskOutcome,
)
from tui_orch.engine.run.run_context import RunSteps
from tui_orch.engine.run.run_types import Outcome, RunStopped
from tui_orch.engine.run.state import (
    TaskPhase,
    TaskState,
)
from tui_orch.tables import first_text_line

RATE_LIMIT_WAITS_MAX = 5  # times a task is started again after a rate limit
FINAL_MESSAGE_IN_PROMPT = 2000  # characters of a dependency's final message passed on


@dataclass(frozen=True)
class BatchStart:
    """Where a batch's new worktrees start: the integration head, the ignored files
    (.env) to copy in, and the run's branches that exist (None: ask git per branch)."""

    commit: str
    ignored: list[str]
    branches: frozenset[str] | None


@dataclass
class LiveBuild:
    """The batch being built: a failed task restarted meanwhile joins it here."""

    task_ids: set[str]
    arrivals: asyncio.Queue[WatchedJob | None]
    starting: set[str] = field(default_factory=set)  # restarts under way
    closed: bool = False  # the build is over: a restart now is a new question

    def keep_open(self) -> bool:
        """Asked by the watcher once nothing runs: wait for a restart under way? If not,
        the build is over from this moment, so no restart can slip in after it."""
        if self.starting:
            return True
        self.closed = True
        return False


class BuildSteps(RunSteps):
    """The steps of one batch (an object the `Orchestrator` holds)."""

    def skip(self, task_ids: frozenset[str] | set[str], reason: str, phase: TaskPhase) -> None:
        """Mark tasks skipped (or excluded), and every task that depends on them skipped."""
        tasks = self.state.tasks
        for task_id in task_ids:
            self.journal.task_skipped(tasks[task_id], phase, reason)
        needs = {task.id: task.depends_on for task in self.plan.tasks}
        for task_id in dependents(needs, set(task_ids)):
            if tasks[task_id].phase is TaskPhase.PENDING:
                self.journal.task_skipped(
                    tasks[task_id], TaskPhase.SKIPPED, "a task it depends on was left out"
                )

    async def build(self, tasks: list[TaskState]) -> None:
        """Start or re-attach every task's agent, then follow them all to their end.

        Each agent starts as soon as its worktree is ready and is followed from that
        moment, so the first agent's output shows while the others are still starting.
        """
        if self.resumed:  # only a restart can find agents it did not start itself
            await asyncio.to_thread(self._adopt_unrecorded, tasks)
            await asyncio.to_thread(self._settle_ended_while_away, tasks)
            await asyncio.to_thread(self._replay_ended, tasks)
        only = self.run.restart_only  # a resume that restarts one failed task, not all
        self.run.restart_only = None
        to_start = [
            t
            for t in tasks
            if t.phase is TaskPhase.PENDING
            or (t.phase is TaskPhase.FAILED and (only is None or t.id in only))
        ]
        attached = [
            self._follow_again(task)
            for task in tasks
            if task.phase is TaskPhase.RUNNING and task.handle is not None
        ]
        if not to_start and not attached:
            return

        launched = asyncio.Event()

        waits: set[asyncio.Task[None]] = set()  # tasks waiting out a rate limit

        async def ended(task_id: str, status: SupervisorStatus) -> None:
            # Agents waiting to start come first: recording one that ended (git commits
            # its work) would slow every start still to come, and can wait for them.
            await launched.wait()
            task = self.state.tasks[task_id]
            await asyncio.to_thread(self._agent_ended, task, status)
            if self._waits_out_rate_limit(task):
                live.starting.add(task_id)  # the build stays open for it
                waiting = asyncio.create_task(self._after_rate_limit(task, live))
                waits.add(waiting)
                waiting.add_done_callback(waits.discard)

        arrivals: asyncio.Queue[WatchedJob | None] = asyncio.Queue()
        live = LiveBuild({t.id for t in tasks}, arrivals)
        self.run.live_build = live
        launching = asyncio.create_task(self._launch(to_start, arrivals))
        launching.add_done_callback(lambda _: launched.set())
        watching = asyncio.create_task(
            watch_jobs(
                attached,
                on_lines=self._read_output,
                on_end=ended,
                interval=self.options.poll_interval,
                arrivals=arrivals,
                keep_open=live.keep_open,
            )
        )
        agents_done = asyncio.Event()
        monitoring = asyncio.create_task(self._monitor_loop(tasks, agents_done))
        try:
            # A failed start ends the build at once, not when the started agents end.
            await asyncio.wait({launching, watching}, return_when=asyncio.FIRST_EXCEPTION)
            if launching.done():
                launching.result()
            await watching
        finally:
            live.closed = True
            self.run.live_build = None
            for waiting in list(waits):
                waiting.cancel()
            watching.cancel()
            launching.cancel()
            # An agent being started when we were stopped is recorded before we go on,
            # so a stop that follows finds it.
            await asyncio.gather(launching, watching, return_exceptions=True)
            # Let a round under way finish (a thread cannot be cancelled) before the last one.
            agents_done.set()
            await monitoring
        await self._monitor_round(tasks)  # the finished work, before anyone approves a merge

    async def restart_task(self, task_id: str) -> bool:
        """Run a failed task's agent again in its worktree while its batch still runs
        (the others go on); False when no batch with that failed task is being built."""
        live = self.run.live_build
        task = self.state.tasks.get(task_id)
        if (
            live is None
            or live.closed
            or task is None
            or task_id not in live.task_ids
            or task_id in live.starting
            or task.phase is not TaskPhase.FAILED
        ):
            return False
        if self.run.over_budget():
            return False
        live.starting.add(task_id)  # the watcher waits for it, even if all else has ended
        await self._start_again(task, live)
        return True

    async def _start_again(self, task: TaskState, live: LiveBuild) -> None:
        """Start a failed task's agent again in its worktree, into the running build
        (which ``live.starting`` holds open until then)."""
        try:
            start = BatchStart(task.start_commit, [], None)
            if await asyncio.to_thread(self._prepare_worktree, task, start):
                live.arrivals.put_nowait(await asyncio.to_thread(self._start_agent, task))
        finally:
            live.starting.discard(task.id)

    def _waits_out_rate_limit(self, task: TaskState) -> bool:
        """A task whose agent stopped at its provider's rate limit goes on at the reset
        (on_rate_limit: wait), a few times at most, and only if it can continue."""
        profile = self.plan.agents[self.plan.task(task.id).agent]
        return (
            task.phase is TaskPhase.FAILED
            and task.rate_limited_until is not None
            and self.plan.on_rate_limit == "wait"
            and task.rate_limit_waits < RATE_LIMIT_WAITS_MAX
            and bool(profile.resume and task.session_id)
        )

    async def _after_rate_limit(self, task: TaskState, live: LiveBuild) -> None:
        until = task.rate_limited_until or time.time()
        at = time.strftime("%H:%M:%S", time.localtime(until))
        notice = ev.Notice(
            run_id=self.state.run_id,
            message=f"task '{task.id}': its agent hit its provider's rate limit; it goes on, "
            f"continuing its conversation, at {at} (on_rate_limit: wait)",
        )
        self.journal.task_rate_limited(task, notice)
        try:
            await asyncio.sleep(max(0.0, until - time.time()))
        except asyncio.CancelledError:
            live.starting.discard(task.id)
            raise
        await self._start_again(task, live)

    async def _launch(
        self, tasks: list[TaskState], arrivals: asyncio.Queue[WatchedJob | None]
    ) -> None:
        """Create each task's worktree and start its agent, in plan order.

        Two threads, one stage each, overlap: the next worktree is created while this
        agent starts. Both block (git, fork, exec, state saves); in threads of their own
        they hand over to each other directly, never waiting for a turn of an event loop
        that is busy drawing a flood of output. Each started job goes straight to the
        watcher; a None at the end (even after an error) tells it no more will come.
        Stopped, each thread finishes the step it is in: an agent being started is
        recorded before the stop goes on.
        """
        loop = asyncio.get_running_loop()
        stopping = threading.Event()
        ready: queue.SimpleQueue[TaskState | None] = queue.SimpleQueue()

        def prepare_all() -> None:
            try:
                start = self._batch_start_point(tasks)
                for task in tasks:
                    if stopping.is_set():
                        return
                    if self._prepare_worktree(task, start):
                        ready.put(task)
            finally:
                ready.put(None)

        def start_all() -> None:
            try:
                while (task := ready.get()) is not None:
                    if stopping.is_set():
                        continue
                    if spent := self.run.over_budget():
                        self._cannot_start(task, ExitReason.FAILED_TO_START, spent)
                        continue
                    job = self._start_agent(task)
                    loop.call_soon_threadsafe(arrivals.put_nowait, job)
            except BaseException:
                stopping.set()  # no more worktrees for agents that will not start
                raise
            finally:
                loop.call_soon_threadsafe(arrivals.put_nowait, None)

        if not tasks:
            arrivals.put_nowait(None)
            return
        stages = asyncio.gather(asyncio.to_thread(prepare_all), asyncio.to_thread(start_all))
        try:
            await asyncio.shield(stages)
        except asyncio.CancelledError:
            stopping.set()
            with contextlib.suppress(Exception):
                await stages
            raise

    def _read_output(self, task_id: str, raw_lines: list[str]) -> None:
        """An agent's new lines, as its adapter reads them: what to show, and what it
        says of the agent (recorded when it changes something)."""
        adapter = self.run.adapters.get(task_id)
        if adapter is None:
            profile = self.plan.agents[self.plan.task(task_id).agent]
            worktree = self.state.tasks[task_id].worktree
            adapter = self.run.adapters[task_id] = adapter_for(profile.format, worktree)
        if adapter.passthrough:  # a flood of text: no object per line
            self.run.emit(ev.AgentOutput, task_id=task_id, lines=tuple(raw_lines))
            return
        task = self.state.tasks[task_id]
        shown: list[str] = []
        for raw in raw_lines:
            report = adapter.read(raw)
            shown += report.lines
            if report.says_something and _news(task, report):
                self.journal.task_reported(task, report, self.plan.rate_limit_wait)
            if report.final_message is not None:
                final = self.store.task_files(self.state.run_id, task_id).directory
                with contextlib.suppress(OSError):
                    (final / "final-message.md").write_text(report.final_message, "utf-8")
        if shown:
            self.run.emit(ev.AgentOutput, task_id=task_id, lines=tuple(shown))

    def _follow_again(self, task: TaskState) -> WatchedJob:
        """A job that was already running (a resume): its new output, after the last
        ``replay_bytes`` of what it printed before (through the same route)."""
        assert task.handle is not None
        files = self.store.task_files(self.state.run_id, task.id)
        offset = replay_offset(files.log, self.options.replay_bytes)
        return WatchedJob(task.id, files, task.handle, log_offset=offset)

    def _replay_ended(self, tasks: list[TaskState]) -> None:
        """On resume, what the batch's agents that already ended printed last: a front
        end that shows output shows theirs too, not only the running agents'."""
        if not self.options.replay_bytes:
            return
        for task in tasks:
            if task.phase in (TaskPhase.PENDING, TaskPhase.RUNNING, TaskPhase.SKIPPED):
                continue
            log = self.store.task_files(self.state.run_id, task.id).log
            lines = LogTail(log, replay_offset(log, self.options.replay_bytes)).flush()
            self._read_output(task.id, lines)

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
            self.run.emit(ev.Notice, message=f"conflict check skipped this round: {error}")
            return
        self.run.report_conflicts(appeared, gone)

    def _adopt_unrecorded(self, tasks: list[TaskState]) -> None:
        """Agents that a tui-orch started but died before recording (between the start
        and the save): found by their supervisor's status file and followed like any
        running agent, so a resume never starts a second agent in the same worktree."""
        start = ""
        for task in tasks:
            if task.phase not in (TaskPhase.PENDING, TaskPhase.FAILED):
                continue
            status = read_status(self.store.task_files(self.state.run_id, task.id))
            last_recorded = task.ended_at or task.started_at or 0.0
            if status is None or status.started_at <= last_recorded:
                continue  # nothing started since the last attempt we know of
            # The batch's start point (the integration head) was saved with it, or not.
            start = start or self.workspace.rev(self.state.integration_branch)
            self.journal.task_adopted(task, status, start)

    def _settle_ended_while_away(self, tasks: list[TaskState]) -> None:
        """Agents that ended while no tui-orch was watching: record (and commit) them now,
        so a resume retries the ones that failed instead of only reporting them."""
        for task in tasks:
            if task.phase is not TaskPhase.RUNNING or task.handle is None:
                continue
            status = read_status(self.store.task_files(self.state.run_id, task.id))
            if status is not None and status.state == "exited" and not is_alive(task.handle):
                self._agent_ended(task, status)

    def _batch_start_point(self, tasks: list[TaskState]) -> BatchStart:
        """What every new worktree of a batch starts from, asked of git once per batch."""
        workspace = self.workspace
        return BatchStart(
            workspace.rev(self.state.integration_branch),
            workspace.ignored_files(self.options.copy_ignored),
            workspace.existing_branches([task.branch for task in tasks]),
        )

    def _prepare_worktree(self, task: TaskState, start: BatchStart) -> bool:
        """Make the task's worktree, or check the one its last attempt left (a retry
        works on top of it); False, with the task failed and why, if it cannot be used."""
        worktree = Path(task.worktree)
        if worktree.exists():
            # Made for this batch by a driver that stopped before starting its agent:
            # from the same start point (the integration head moves only after a batch).
            self.journal.worktree_ready(task, task.start_commit or start.commit)
            problem = self._branch_problem(task)
            if problem:
                self._cannot_start(task, ExitReason.LEFT_BRANCH, problem)
                return False
            self._keep_partial_work(task)
            return True
        exists = None if start.branches is None else task.branch in start.branches
        try:
            created = self.workspace.add_worktree(worktree, task.branch, start.commit, exists)
            self.workspace.copy_files(start.ignored, worktree)
        except (GitError, OSError) as error:
            self._cannot_start(
                task,
                ExitReason.FAILED_TO_START,
                f"its worktree {worktree} could not be created ({first_line(error)})",
            )
            return False
        if created or not task.start_commit:
            self.journal.worktree_ready(task, start.commit)
        return True

    def _keep_partial_work(self, task: TaskState) -> None:
        """What an interrupted or failed attempt left uncommitted is committed before the
        next agent starts over it: the new attempt cannot lose it, and git keeps it."""
        if not task.attempts:
            return  # a worktree made for an agent that never started holds nothing of one
        worktree = Path(task.worktree)
        try:
            self.workspace.commit_all(
                worktree,
                f"tui-orch: {task.id}: work in progress of attempt {task.attempts} "
                f"({AgentExit(task.reason, task.exit_code).label})\n\nRun {self.state.run_id}; "
                "kept before the next attempt started.",
            )
        except GitError as error:
            self.run.emit(
                ev.Notice,
                message=f"task '{task.id}': its earlier work in {worktree} could not be "
                f"committed before the next attempt ({first_line(error)}); it is still there",
            )

    def _cannot_start(self, task: TaskState, reason: str, message: str) -> None:
        """Record a task that failed before its agent could start."""
        self._agent_ended(
            task, SupervisorStatus(state="exited", supervisor_pid=0, reason=reason, message=message)
        )

    def _branch_problem(self, task: TaskState) -> str:
        """Why the task's work is not on its branch (its agent switched branch, detached
        HEAD, or moved the branch back), in one sentence that says where it is; or ''."""
        worktree = Path(task.worktree)
        run_id = self.state.run_id
        if not worktree.is_dir():
            return f"its worktree {worktree} is gone; run `tui-orch resume {run_id}` to start over"
        try:
            return self._where_the_work_is(task, worktree, run_id)
        except GitError as error:
            return (
                f"its worktree {worktree} is no longer a usable git worktree "
                f"({first_line(error)}), so nothing was committed or merged for it; look "
                f"inside it, then run `tui-orch clean {run_id} --force` and start again"
            )

    def _where_the_work_is(self, task: TaskState, worktree: Path, run_id: str) -> str:
        workspace = self.workspace
        on = workspace.head_branch(worktree)
        if on != task.branch:
            head = workspace.git(
                "rev-parse", "--verify", "--quiet", "HEAD", cwd=worktree, check=False
            )
            sha = head.stdout.strip()
            where = f"branch '{on}'" if on else f"a detached HEAD at {sha[:8]}"
            own = 0
            if sha and task.start_commit:
                count = workspace.git("rev-list", "--count", f"{task.start_commit}..{sha}")
                own = int(count.stdout.strip() or 0)
            holds = [
                f"{own} commit{'s' if own != 1 else ''} of its own"
                if own
                else "no commit of its own"
            ]
            if workspace.is_dirty(worktree):
                holds.append("uncommitted changes")
            # Quoted: the branch name is the agent's choice, and paths may hold spaces.
            git_here = f"git -C {shlex.quote(str(worktree))}"
            back = f"{git_here} checkout {shlex.quote(task.branch)}"
            if on and own:
                back += f" && {git_here} merge {shlex.quote(on)}"
            return (
                f"its agent moved its worktree off branch {task.branch} to {where} "
                f"({' and '.join(holds)}), so nothing was committed or merged for it; that "
                f"work is in {worktree}; to keep it, bring it back ({back}), then run "
                f"`tui-orch resume {run_id}`"
            )
        if task.start_commit and not workspace.is_ancestor(
            task.start_commit, f"refs/heads/{task.branch}"
        ):
            return (
                f"its agent moved branch {task.branch} off the commit it started from "
                f"({task.start_commit[:8]}, as git reset does), so nothing was committed or "
                f"merged for it; see `git -C {shlex.quote(str(worktree))} reflog`, then run "
                f"`tui-orch resume {run_id}`"
            )
        return ""

    def _start_agent(self, task_state: TaskState) -> WatchedJob:
        task = self.plan.task(task_state.id)
        files = self.store.task_files(self.state.run_id, task.id)
        files.directory.mkdir(parents=True, exist_ok=True)
        prompt_file = files.directory / "prompt.txt"
        profile = self.plan.agents[task.agent]
        # A retry continues the earlier attempt's conversation when the agent can: it
        # knows what it did and is told what went wrong, instead of starting over.
        continuing = bool(task_state.attempts and task_state.session_id and profile.resume)
        if task_state.continued and task_state.rate_limited_until is None:
            # Going on with that conversation failed already (a CLI may have kept no
            # session to resume): this attempt starts afresh.
            continuing = False
        if continuing:
            prompt = self._continue_prompt(task, task_state)
            session_id = task_state.session_id
        else:
            prompt = self._prompt_for(task)
            session_id = str(uuid.uuid4())  # a new conversation, known to us
        prompt_file.write_text(prompt, encoding="utf-8")
        values = {
            "prompt": prompt,
            "prompt_file": str(prompt_file),
            "task_id": task.id,
            "session_id": session_id,
        }
        template = profile.resume if continuing else profile.command
        argv = render_argv(template, values, task.files)
        if task.budget_usd is not None and profile.budget_flag:
            argv += [profile.budget_flag, f"{task.budget_usd:g}"]
        self.run.adapters[task.id] = adapter_for(profile.format, task_state.worktree)
        env = {
            **os.environ,
            **profile.env,
            "TUI_ORCH_RUN_ID": self.state.run_id,
            "TUI_ORCH_TASK_ID": task.id,
            "TUI_ORCH_FILES": "\n".join(task.files),
            "TUI_ORCH_PROMPT_FILE": str(prompt_file),
        }
        # Measured before the start: an agent may print (or even finish) before the
        # start returns, and every line it prints must reach the screen.
        offset = files.log.stat().st_size if files.log.exists() else 0
        if task_state.attempts:
            how = f" (continuing session {session_id})" if continuing else ""
            with open(files.log, "a", encoding="utf-8") as log:
                log.write(f"--- tui-orch: attempt {task_state.attempts + 1}{how} ---\n")
        handle, process = start_job(
            files,
            argv,
            Path(task_state.worktree),
            env,
            self.plan.timeout_for(task),
            self.options.grace,
            self.plan.agent_nice,
        )
        self.journal.task_started(
            task_state,
            handle,
            ev.AgentStarted(
                run_id=self.state.run_id,
                task_id=task.id,
                agent=task.agent,
                pid=handle.pid,
                worktree=task_state.worktree,
                branch=task_state.branch,
                log_path=str(files.log),
                start_commit=task_state.start_commit,
            ),
            session_id,
            continued=continuing,
        )
        return WatchedJob(task.id, files, handle, process, log_offset=offset)

    def _dependencies_said(self, task: Task) -> str:
        """What the agents of the tasks this one depends on said when they finished (their
        final messages), so it builds on their work knowing what they did."""
        said = [
            (dependency, self.state.tasks[dependency].final_message.strip())
            for dependency in task.depends_on
            if dependency in self.state.tasks and self.state.tasks[dependency].final_message.strip()
        ]
        if not said:
            return ""
        parts = [f"[{dependency}]\n{text[:FINAL_MESSAGE_IN_PROMPT]}" for dependency, text in said]
        return (
            "What the agents of the tasks this one depends on said when they finished "
            "(their work is already in this worktree):\n" + "\n\n".join(parts) + "\n\n"
        )

    def _continue_prompt(self, task: Task, state: TaskState) -> str:
        """What a retry that continues the conversation is told: how the last attempt
        ended, that its work is still there, and the task's files again."""
        ended = AgentExit(state.reason, state.exit_code).label
        said = state.final_message or state.message  # its own last words, else ours
        why = f" ({first_text_line(said)})" if said.strip() else ""
        owned = "\n".join(f"- {path}" for path in task.files)
        return (
            f"Your previous attempt at task '{task.id}' ({task.title}) ended: {ended}{why}. "
            "Its work so far is still in this directory (committed as work in progress). "
            "Continue the task from there and finish it. As before, create or edit only "
            f"these files:\n{owned}\n"
        )

    def _prompt_for(self, task: Task) -> str:
        owned = "\n".join(f"- {path}" for path in task.files)
        goal = f" of a larger change: {self.plan.goal.strip()}" if self.plan.goal.strip() else ""
        return (
            f"{task.prompt.rstrip()}\n\n{self._dependencies_said(task)}---\n"
            f"You are working on task '{task.id}' ({task.title}){goal}.\n"
            "Other agents are editing other files of this repository at the same time, "
            "each in its own worktree. Create or edit only these files:\n"
            f"{owned}\n"
        )

    def _agent_ended(self, task: TaskState, status: SupervisorStatus | None) -> None:
        """Record how an agent ended; when it succeeded, its work is committed first, so
        a task recorded as succeeded always has its work on its branch.

        Its work counts only if it is on the task's own branch: an agent that switched
        branch (or moved its branch back) fails, before anything is committed for it.
        """
        status = status or SupervisorStatus(state="exited", supervisor_pid=0, reason="lost")
        reason, message = status.reason or ExitReason.EXITED, status.message
        succeeded = AgentExit(status.reason, status.exit_code).succeeded
        if succeeded:
            problem = self._branch_problem(task)
            if problem:
                succeeded = False
                reason, message = ExitReason.LEFT_BRANCH, problem
        if not succeeded:
            self.journal.task_ended(task, status, False, reason, message)
            return
        plan_task = self.plan.task(task.id)
        self.workspace.commit_all(
            Path(task.worktree),
            f"tui-orch: {task.id}: {plan_task.title}\n\nRun {self.state.run_id}, agent "
            f"{plan_task.agent}.",
        )
        summary = self.workspace.summary(task.start_commit, task.branch)
        self.journal.task_ended(task, status, True, reason, message, summary)

    def _failure_message(self, failed: list[TaskState]) -> str:
        sentences = []
        for task in failed:
            log = self.store.task_files(self.state.run_id, task.id).log
            if task.reason == ExitReason.TIMEOUT:
                timeout = self.plan.timeout_for(self.plan.task(task.id))
                why = f"its agent ran past its {timeout:g}s timeout and was stopped"
            elif task.reason == ExitReason.STOPPED:
                why = "its agent was stopped"
            elif task.reason in (ExitReason.FAILED_TO_START, ExitReason.LOST):
                why = task.message or "its agent could not be run"
            elif task.reason == ExitReason.LEFT_BRANCH:
                sentences.append(f"task '{task.id}' failed: {task.message}; its log is {log}")
                continue
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

    async def merge_batch(self, index: int, tasks: list[TaskState]) -> None:
        """Ask to merge the built batch (restarting failed tasks first, if so asked), then
        merge it; failed or blocked tasks nobody chose to go on without stop the run."""
        while True:
            decision = await self._ask_merge(index, tasks)
            if decision is None:
                return  # nothing to merge (tasks that changed nothing were reported as they ended)
            if not decision.approved:
                raise RunStopped(
                    Outcome.ABORTED,
                    f"batch {index + 1} was built but not merged, at your request; its "
                    f"branches are kept; run `tui-orch resume {self.state.run_id}` to be asked "
                    "again",
                )
            again = [t for t in tasks if t.id in decision.restart and t.phase is TaskPhase.FAILED]
            if not again:
                break
            await self.build(again)  # then ask again, with how the new attempts ended
        failed = [t for t in tasks if t.phase is TaskPhase.FAILED]
        kept_failing = [t for t in failed if t.id not in decision.go_on_without]
        if kept_failing:
            raise RunStopped(Outcome.FAILED, self._failure_message(kept_failing))
        self.skip({t.id for t in failed}, "failed; left out at your request", TaskPhase.EXCLUDED)
        await self._merge_approved(index, tasks, decision)

    async def _ask_merge(self, index: int, tasks: list[TaskState]) -> MergeDecision | None:
        """The merge question for the batch as it stands; None when there is nothing to ask.

        Failed tasks are asked about only by an approver that can answer for them: a
        front end where a person sees them (the app, the terminal). Without one, a failure
        stops the run before anything is merged, as it always did.
        """
        state = self.state
        ready = [t for t in tasks if t.phase is TaskPhase.SUCCEEDED]
        failed = [t for t in tasks if t.phase is TaskPhase.FAILED]
        if failed and not self.approver.asks_about_failures:
            raise RunStopped(Outcome.FAILED, self._failure_message(failed))
        if not ready and not failed:
            return None
        empty = [t for t in tasks if t.phase is TaskPhase.NO_CHANGES]
        outcomes = tuple(
            TaskOutcome(
                t.id,
                t.branch,
                t.commits,
                tuple(t.files_changed),
                t.insertions,
                t.deletions,
                last_lines(self.store.task_files(state.run_id, t.id).log) if not t.commits else (),
                tuple(t.refusals),
                t.final_message,
                t.spent_usd,
            )
            for t in [*ready, *empty]
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
        needs = {task.id: task.depends_on for task in self.plan.tasks}
        # Any task of the batch may be left out: blocked, failed, or by the user's choice.
        left_out_candidates = {*ready_ids, *(t.id for t in failed)}
        predicted = tuple(
            (conflict.tasks, conflict.paths)
            for conflict in self.monitor.current.values()
            if conflict.kind in ("predicted", "overlap")
            and len(conflict.tasks) == 2
            and set(conflict.tasks) <= ready_ids
        )
        return await self.approver.approve_merge(
            MergeRequest(
                state.run_id,
                index + 1,
                len(state.batches),
                state.integration_branch,
                outcomes,
                warnings,
                blocked,
                failed={t.id: AgentExit(t.reason, t.exit_code).label for t in failed},
                dependents={
                    task_id: tuple(sorted(dependents(needs, {task_id}), key=self._position))
                    for task_id in left_out_candidates
                },
                predicted=predicted,
            )
        )

    def _position(self, task_id: str) -> int:
        order = [task.id for task in self.plan.tasks]
        return order.index(task_id) if task_id in order else len(order)

    async def _merge_approved(
        self, index: int, tasks: list[TaskState], decision: MergeDecision
    ) -> None:
        state = self.state
        ready = [t for t in tasks if t.phase is TaskPhase.SUCCEEDED]
        blocked = {
            task_id: reasons
            for task_id, reasons in self.monitor.blocked().items()
            if task_id in {t.id for t in ready}
        }
        self.skip(decision.exclude, "kept out of the merge at your request", TaskPhase.EXCLUDED)
        held = [
            task_id
            for task_id in blocked
            if task_id not in decision.override and task_id not in decision.exclude
        ]
        for task_id in held:
            self.skip({task_id}, "blocked: " + "; ".join(blocked[task_id]), TaskPhase.EXCLUDED)
        integration = Path(state.integration_worktree)
        for task in ready:
            if task.phase is not TaskPhase.SUCCEEDED:
                continue
            # What is merged is the branch as it is now (a fix made by hand after a
            # conflict included), and what is reported merged is checked against that.
            head = await asyncio.to_thread(self.workspace.rev, task.branch)
            outcome = await asyncio.to_thread(
                merge_into,
                self.workspace,
                integration,
                task.branch,
                f"tui-orch: merge task '{task.id}' (batch {index + 1})",
            )
            if not outcome.ok:
                self._merge_conflict(index, task, outcome.conflicts, outcome.error)
            self._check_landed(task, head, outcome.commit)
            self.journal.task_merged(task, head, index + 1, outcome.commit)
        stopping = [task_id for task_id in held if task_id not in decision.go_on_without]
        if stopping:
            first = stopping[0]
            others = f" (and {len(stopping) - 1} more blocked task(s))" if len(stopping) > 1 else ""
            raise RunStopped(
                Outcome.FAILED,
                f"task '{first}' was not merged because {blocked[first][0]}{others}; its "
                f"branch {state.tasks[first].branch} is kept and '{state.base}' was not "
                f"touched; merge it by hand or set that conflicts policy to warn, then run "
                f"`tui-orch resume {state.run_id}` to go on without it",
            )

    def _check_landed(self, task: TaskState, head: str, commit: str) -> None:
        """A merge said it worked: the task's head must now be in the integration head."""
        if commit and self.workspace.is_ancestor(head, commit):
            return
        raise RunStopped(
            Outcome.FAILED,
            f"merging task '{task.id}' reported success, but its commit {head[:8]} is not "
            f"on {self.state.integration_branch} ({commit[:8] or 'no commit'}); nothing was "
            f"moved and every branch is kept; run `tui-orch resume {self.state.run_id}` to try "
            "again",
        )

    def _merge_conflict(
        self, index: int, task: TaskState, paths: tuple[str, ...], error: str
    ) -> None:
        others = tuple(
            other.id
            for other in self.state.tasks.values()
            if other.phase is TaskPhase.MERGED and set(paths) & set(other.files_changed)
        )
        self.run.emit(
            ev.MergeConflict, batch=index + 1, task_id=task.id, paths=paths, with_tasks=others
        )
        with_whom = " with " + ", ".join(f"task '{other}'" for other in others) if others else ""
        where = (
            f" in {', '.join(paths)}" if paths else f" ({error.splitlines()[0]})" if error else ""
        )
        raise RunStopped(
            Outcome.FAILED,
            f"merging task '{task.id}' into {self.state.integration_branch} conflicts"
            f"{with_whom}{where}; the merge was aborted and every branch and worktree is kept; "
            f"to resolve it, bring the integration branch into the task's branch: "
            f"`cd {shlex.quote(task.worktree)} && git merge {self.state.integration_branch}`, "
            "fix the conflicted files, `git add` them and `git commit`, then run "
            f"`tui-orch resume {self.state.run_id}`",
        )


def _news(task: TaskState, report: Report) -> bool:
    """Whether a report changes what is recorded of the task (not the same activity again)."""
    if report.usage or report.refusals or report.final_message is not None:
        return True
    if report.session_id and report.session_id != task.session_id:
        return True
    activity = report.activity
    return activity is not None and (activity.value, report.tool) != (task.activity, task.tool)
