"""The run journal: the one place where a run or one of its tasks changes.

Each change is a named step (`Step`) with a method here that makes it: it changes the
state, appends the step to the state's history, saves the state atomically and emits
the step's event, in that order and in one call. A step is on disk before anyone hears
of it, so a driver killed at any moment leaves a state that says what was done, and
`tui-orch resume` goes on from the step after the last one recorded.

For the tests that prove it, ``TUI_ORCH_KILL_AFTER=<step>[:<subject>]`` kills the
process (SIGKILL, no clean-up) right after that step is saved: the harshest stop there is.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Sequence
from enum import StrEnum

from tui_orch.engine.agents.adapters.report import Activity, Report
from tui_orch.engine.agents.jobs import JobHandle, SupervisorStatus
from tui_orch.engine.repository.worktrees import CommitSummary
from tui_orch.engine.run import events as ev
from tui_orch.engine.run.run_types import Outcome
from tui_orch.engine.run.state import (
    RunPhase,
    RunState,
    RunStore,
    TaskPhase,
    TaskState,
    ValidationState,
)

KILL_AFTER = "TUI_ORCH_KILL_AFTER"  # a test's fault-injection point: see the module doc
REFUSALS_KEPT = 50  # refused tool calls listed per task (all are counted in its log)
FINAL_MESSAGE_KEPT = 8000  # characters of an agent's final message kept in the state


class Step(StrEnum):
    """What the journal records, in the order a run meets them."""

    STARTED = "started"  # the run was created, or picked up again
    BATCH_APPROVED = "batch-approved"
    TASK_SKIPPED = "task-skipped"  # skipped, or built and kept out of the merge
    TASK_STARTED = "task-started"
    TASK_ADOPTED = "task-adopted"  # an agent started by a driver that died unrecorded
    TASK_REPORTED = "task-reported"  # a structured agent's activity, usage, refusals
    TASK_ENDED = "task-ended"
    TASK_RATE_LIMITED = "task-rate-limited"  # waiting to go on after its agent's limit
    TASK_MERGED = "task-merged"
    BATCH_MERGED = "batch-merged"
    CONFLICTS = "conflicts"
    BASE_CAUGHT_UP = "base-caught-up"
    VALIDATION_STARTED = "validation-started"
    VALIDATION_ENDED = "validation-ended"
    AWAITING_MERGE = "awaiting-merge"
    BASE_MOVED = "base-moved"
    CLEANED = "cleaned"
    JOBS_STOPPED = "jobs-stopped"
    CONCLUDED = "concluded"


# Steps that happen often and are not where a resume goes on from: saved, not listed.
UNLISTED = frozenset({Step.TASK_REPORTED, Step.CONFLICTS})


class RunJournal:
    """Changes one run's state, step by step; see the module doc."""

    def __init__(self, store: RunStore, state: RunState, emit: ev.EventSink) -> None:
        self.store = store
        self.state = state
        self._emit = emit
        self.created = False  # nothing is saved until the run exists on disk
        self._lock = threading.Lock()  # steps are taken in worker threads too
        self._kill_after = os.environ.get(KILL_AFTER, "")

    def emit(self, event_type: type[ev.Event], **values: object) -> None:
        """An event that records nothing (output, notices, questions)."""
        self._emit(event_type(run_id=self.state.run_id, **values))

    def tell(self, event: ev.Event) -> None:
        """An event made elsewhere that records nothing."""
        self._emit(event)

    def recorded(self, step: Step) -> bool:
        """Whether the run ever took ``step`` (a step taken once per run: clean-up)."""
        return any(entry[0] == step.value for entry in self.state.history)

    def record(self, step: Step, subject: str = "", *events: ev.Event, save: bool = True) -> None:
        """Save the state as the caller changed it, with ``step`` in its history, then
        tell the front ends. Every method below ends here.

        ``save=False`` for a change no resume depends on (what an agent is doing this
        second): it is saved with the next step, and a busy agent costs no file writes."""
        state = self.state
        with self._lock:
            if step not in UNLISTED:
                state.history.append([step.value, subject, round(time.time(), 3)])
            if self.created and save:
                self.store.save(state)
        if self._kill_after in (step.value, f"{step.value}:{subject}"):
            os.kill(os.getpid(), signal.SIGKILL)  # a test's crash point; never set by users
        for event in events:
            self._emit(event)

    def _event(self, event_type: type[ev.Event], **values: object) -> ev.Event:
        return event_type(run_id=self.state.run_id, **values)

    # -- the run ---------------------------------------------------------------------

    def started(self, event: ev.Event) -> None:
        state = self.state
        if state.batch_index < len(state.batches):
            state.phase = RunPhase.BUILDING
        self.record(Step.STARTED, "", event)

    def batch_approved(self) -> None:
        self.state.batch_approved = True
        self.record(Step.BATCH_APPROVED, str(self.state.batch_index + 1))

    def batch_merged(self) -> None:
        state = self.state
        number = state.batch_index + 1
        state.batch_index += 1
        state.batch_approved = False
        self.record(Step.BATCH_MERGED, str(number))

    def conflicts_changed(
        self, history: list[dict[str, object]], events: Sequence[ev.Event]
    ) -> None:
        self.state.conflicts = history
        self.record(Step.CONFLICTS, "", *events)

    def base_caught_up(self, new_base: str) -> None:
        self.state.base_start = new_base
        self.state.validated_commit = ""  # the result changed: validated again
        self.record(Step.BASE_CAUGHT_UP, new_base)

    def validation_started(self, commands: Sequence[str]) -> None:
        state = self.state
        state.phase = RunPhase.VALIDATING
        state.validation = [ValidationState(command) for command in commands]
        state.validated_commit = ""
        self.record(Step.VALIDATION_STARTED)

    def validation_job_started(self, index: int, handle: JobHandle, event: ev.Event) -> None:
        record = self.state.validation[index]
        record.supervisor_pid, record.supervisor_start = handle.pid, handle.start_time
        self.record(Step.VALIDATION_STARTED, str(index + 1), event)

    def validation_ended(
        self,
        index: int,
        status: SupervisorStatus,
        passed: bool,
        validated_commit: str,
        event: ev.Event,
    ) -> None:
        """``validated_commit``: the head the last command passed on (else ''), so a
        resume from here does not validate it again."""
        record = self.state.validation[index]
        record.exit_code, record.reason, record.passed = status.exit_code, status.reason, passed
        self.state.validated_commit = validated_commit
        self.record(Step.VALIDATION_ENDED, str(index + 1), event)

    def awaiting_merge(self, validated_commit: str) -> None:
        """Checked and validated: what is left is the user's yes and the base's move."""
        self.state.phase = RunPhase.AWAITING_MERGE
        self.state.validated_commit = validated_commit
        self.record(Step.AWAITING_MERGE, validated_commit)

    def base_moved(self, old: str, new: str) -> None:
        state = self.state
        state.phase = RunPhase.MERGED
        state.merged_commit = new
        state.outcome = ""  # an earlier stop's ("not now"): the run is not finished yet
        self.record(
            Step.BASE_MOVED,
            new,
            self._event(ev.BaseMerged, base=state.base, old_commit=old, new_commit=new),
        )

    def cleaned(self, worktrees: list[str], branches: list[str], kept: tuple[str, ...]) -> None:
        """After `clean_run` (which marks the run cleaned when nothing was kept)."""
        self.record(
            Step.CLEANED,
            "",
            self._event(
                ev.CleanedUp, worktrees=tuple(worktrees), branches=tuple(branches), kept=kept
            ),
        )

    def concluded(self, outcome: Outcome, exit_code: int, message: str) -> None:
        state = self.state
        state.outcome, state.exit_code, state.message = outcome, exit_code, message
        if outcome.finished:
            state.phase = RunPhase.MERGED
        elif outcome is Outcome.INTERRUPTED:
            state.phase = RunPhase.INTERRUPTED
        elif outcome is Outcome.DETACHED:
            pass  # still running in the background; resume picks it up
        elif outcome is Outcome.ABORTED:
            if state.phase is not RunPhase.AWAITING_MERGE:
                state.phase = RunPhase.ABORTED
        elif state.phase not in (RunPhase.AWAITING_MERGE, RunPhase.MERGED):
            state.phase = RunPhase.FAILED
        event = self._event(
            ev.RunFinished,
            outcome=outcome,
            exit_code=exit_code,
            message=message,
            phase=state.phase.value,
        )
        self.record(Step.CONCLUDED, outcome, event)

    # -- one task --------------------------------------------------------------------

    def task_skipped(self, task: TaskState, phase: TaskPhase, reason: str) -> None:
        task.phase = phase
        event = self._event(ev.TaskSkipped, task_id=task.id, reason=reason, phase=phase.value)
        self.record(Step.TASK_SKIPPED, task.id, event)

    @staticmethod
    def worktree_ready(task: TaskState, start_commit: str) -> None:
        """Where the task's worktree starts (the conflict monitor diffs from it). Not a
        step of its own: saved with the agent's start, and worked out again by a resume
        that finds the worktree without a recorded start."""
        task.start_commit = start_commit

    def task_started(
        self,
        task: TaskState,
        handle: JobHandle,
        event: ev.Event,
        session_id: str = "",
        continued: bool = False,
    ) -> None:
        """Recorded before anything else can happen to the agent."""
        self._running(task, handle.pid, handle.start_time, time.time())
        task.session_id, task.continued = session_id, continued
        self.record(Step.TASK_STARTED, task.id, event)

    def task_adopted(self, task: TaskState, status: SupervisorStatus, start_commit: str) -> None:
        task.start_commit = task.start_commit or start_commit
        self._running(task, status.supervisor_pid, status.supervisor_start, status.started_at)
        event = self._event(
            ev.Notice,
            message=f"task '{task.id}': its agent was started by a tui-orch that stopped "
            "before recording it; following that agent instead of starting another",
        )
        self.record(Step.TASK_ADOPTED, task.id, event)

    def task_reported(self, task: TaskState, report: Report, backoff: float) -> None:
        """What its agent said of itself. Usage is the agent's own total: set, not added,
        so output read twice (a resume shows the last of it again) counts once. Only its
        activity changed: not saved until the next step (a tool call a second is no
        reason to write the run's state a second time). A rate limit that named no reset
        time is waited out for ``backoff`` seconds."""
        lasting = bool(
            report.usage
            or report.refusals
            or report.final_message is not None
            or (report.session_id and report.session_id != task.session_id)
        )
        if report.activity is not None:
            task.activity, task.tool = report.activity.value, report.tool
        if report.activity is Activity.RATE_LIMITED:
            lasting = True
            task.rate_limited_until = report.resets_at or time.time() + backoff
        task.session_id = report.session_id or task.session_id
        if report.usage is not None:
            usage = report.usage
            task.input_tokens, task.output_tokens = usage.input_tokens, usage.output_tokens
            task.cache_tokens = usage.cache_read_tokens + usage.cache_write_tokens
            task.cost_usd = usage.cost_usd
        new = [refusal for refusal in report.refusals if refusal not in task.refusals]
        task.refusals = (task.refusals + new)[:REFUSALS_KEPT]
        if report.final_message is not None:
            task.final_message = report.final_message[:FINAL_MESSAGE_KEPT]
        event = self._event(
            ev.AgentReported,
            task_id=task.id,
            activity=task.activity,
            tool=task.tool,
            tokens=task.tokens,
            cost_usd=task.spent_usd,
            refusals=len(task.refusals),
            session_id=task.session_id,
            until=task.rate_limited_until,
        )
        self.record(Step.TASK_REPORTED, task.id, event, save=lasting)

    def task_rate_limited(self, task: TaskState, event: ev.Event) -> None:
        """Its agent stopped at a rate limit: it will be started again at the reset."""
        task.rate_limit_waits += 1
        self.record(Step.TASK_RATE_LIMITED, task.id, event)

    @staticmethod
    def _running(task: TaskState, pid: int, start: str, started_at: float) -> None:
        # What the last attempt spent stays counted; this one reports its own.
        task.earlier_tokens, task.earlier_cost_usd = task.tokens, task.spent_usd
        task.input_tokens = task.output_tokens = task.cache_tokens = 0
        task.cost_usd = None
        task.phase = TaskPhase.RUNNING
        task.activity = task.tool = ""
        task.rate_limited_until = None
        task.supervisor_pid, task.supervisor_start = pid, start
        task.attempts += 1
        task.started_at = started_at
        task.ended_at = task.exit_code = None
        task.reason = task.message = ""

    def task_ended(
        self,
        task: TaskState,
        status: SupervisorStatus,
        succeeded: bool,
        reason: str,
        message: str,
        committed: CommitSummary | None = None,
    ) -> None:
        """How its agent ended; a success only with its work already committed
        (``committed``), so that no state on disk says succeeded without it."""
        task.ended_at = status.ended_at or time.time()
        task.exit_code = status.exit_code
        task.reason, task.message = reason, message
        task.agent_pid = status.agent_pid
        task.phase = TaskPhase.SUCCEEDED if succeeded else TaskPhase.FAILED
        events = [
            self._event(
                ev.AgentExited,
                task_id=task.id,
                exit_code=task.exit_code,
                reason=task.reason,
                duration=round(task.duration or 0.0, 3),
                message=task.message,
            )
        ]
        if succeeded and committed is not None:
            task.head = committed.head
            task.commits = committed.commits
            task.files_changed = list(committed.files)
            task.insertions, task.deletions = committed.insertions, committed.deletions
            if not committed.commits:
                task.phase = TaskPhase.NO_CHANGES
            events.append(
                self._event(
                    ev.TaskCommitted,
                    task_id=task.id,
                    commit=committed.head,
                    commits=committed.commits,
                    files_changed=len(committed.files),
                )
            )
        self.record(Step.TASK_ENDED, task.id, *events)

    def task_merged(self, task: TaskState, head: str, batch: int, commit: str) -> None:
        task.head = head
        task.phase = TaskPhase.MERGED
        event = self._event(ev.MergeDone, batch=batch, task_id=task.id, commit=commit)
        self.record(Step.TASK_MERGED, task.id, event)

    def jobs_stopped(self, stopped: Sequence[tuple[TaskState, SupervisorStatus | None]]) -> None:
        """Agents stopped on request (Ctrl-C, stop and quit): each failed, as stopped."""
        for task, status in stopped:
            task.phase = TaskPhase.FAILED
            task.reason = "stopped"
            if status is not None:
                task.exit_code = status.exit_code
                task.ended_at = status.ended_at
        self.record(Step.JOBS_STOPPED, ",".join(task.id for task, _ in stopped))
