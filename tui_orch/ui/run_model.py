"""What the app knows of a run: one model, changed only by the engine's events.

Every widget draws from it (panes, run tree, status bar, the keys offered) and the app
acts on it (which log to open, which diff, whether `x` applies); no one reads engine
objects, which engine threads change. A task's output is kept here whether or not a
pane shows it yet, so output that arrives before the agent's start (the two come by
different routes: output batched per frame, events as messages) needs no special case:
a pane made later starts with what its task printed so far.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tui_orch.engine.agents.exits import AgentExit
from tui_orch.engine.run import events as ev
from tui_orch.tables import dollars

VALIDATOR_KEY = "validate"  # the validation's pane and output, beside the tasks'
TAIL_KEEP = 400  # lines of output kept per task: a pane shows a tail, the log has it all
RESTARTABLE_STATES = ("failed", "stopped", "timed-out")  # what `r` applies to
QUIET_AFTER = 60.0  # seconds without a line before a running agent shows as quiet


@dataclass
class TaskClock:
    """When a task started and ended, by the app's clock (frozen in snapshot tests)."""

    started: float | None = None
    ended: float | None = None

    def elapsed(self, now: float) -> float | None:
        if self.started is None:
            return None
        return max(0.0, (self.ended if self.ended is not None else now) - self.started)


@dataclass
class TaskModel:
    """One task (or the validation) as the app shows it."""

    id: str
    agent: str = ""
    state: str = "pending"
    clock: TaskClock = field(default_factory=TaskClock)
    files_changed: int | None = None
    badges_by_key: dict[object, str] = field(default_factory=dict)  # one per conflict
    worktree: str = ""
    log_path: str = ""
    start_commit: str = ""
    output_format: str = "text"
    activity: str = ""  # what a structured agent says it is doing (see AgentReported)
    tool: str = ""
    tokens: int = 0
    cost_usd: float | None = None
    refusals: int = 0
    rate_limited_until: float | None = None
    last_heard: float | None = None  # when it last printed (or started), by the app's clock
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_KEEP))
    line_count: int = 0  # every line it printed, more than the tail holds

    @property
    def badges(self) -> list[str]:
        return list(dict.fromkeys(self.badges_by_key.values()))

    def quiet_for(self, now: float) -> float:
        """Seconds a running agent has printed nothing (0 unless it is running)."""
        if self.state != "running" or self.last_heard is None:
            return 0.0
        return max(0.0, now - self.last_heard)

    def report_at(self, now: float) -> str:
        """`report`, and for an agent silent a minute or more, for how long: a text
        agent says nothing of its own state, and silence is what a person watches for."""
        quiet = self.quiet_for(now)
        if quiet < QUIET_AFTER:
            return self.report
        return " · ".join(part for part in (f"quiet {int(quiet // 60)}m", self.report) if part)

    @property
    def report(self) -> str:
        """A structured agent's own news, short: `Write · 1.2k tok · $0.03` (refusals are
        a badge: a header too narrow for everything must not hide them)."""
        parts = []
        if self.activity == "rate-limited" and self.rate_limited_until:
            until = time.strftime("%H:%M", time.localtime(self.rate_limited_until))
            parts.append(f"rate-limited until {until}")
        elif self.state == "running" and self.activity:
            parts.append(self.tool if self.activity == "running-tool" else self.activity)
        if self.tokens:
            parts.append(f"{_count(self.tokens)} tok")
        if self.cost_usd is not None:
            parts.append(dollars(self.cost_usd))
        return " · ".join(parts)


@dataclass
class RunModel:
    """The run: its tasks by id, in plan order, and where it is."""

    run_id: str = ""
    repo: str = ""
    batches: list[list[str]] = field(default_factory=list)
    tasks: dict[str, TaskModel] = field(default_factory=dict)

    def task(self, task_id: str) -> TaskModel:
        found = self.tasks.get(task_id)
        if found is None:
            found = self.tasks[task_id] = TaskModel(task_id)
        return found

    def states(self) -> dict[str, str]:
        return {task_id: task.state for task_id, task in self.tasks.items()}

    def running(self) -> list[str]:
        """The tasks whose agents run now (the validation is not a task)."""
        return [
            task_id
            for task_id, task in self.tasks.items()
            if task.state == "running" and task_id != VALIDATOR_KEY
        ]

    def usage(self) -> str:
        """The run's tokens and the cost its agents reported: `120 tok · $0.0018`."""
        tokens = sum(task.tokens for task in self.tasks.values())
        costs = [task.cost_usd for task in self.tasks.values() if task.cost_usd is not None]
        parts = [f"{_count(tokens)} tok"] if tokens else []
        if costs:
            parts.append(dollars(sum(costs)))
        return " · ".join(parts)

    def add_output(
        self, key: str, lines: Iterable[str], count: int, now: float | None = None
    ) -> TaskModel:
        task = self.task(key)
        task.last_heard = now if now is not None else task.last_heard
        task.tail.extend(lines)
        task.line_count += count
        return task

    def apply(self, event: ev.Event, now: float) -> None:
        """Bring the model up to date with one event (``now``: the app's clock)."""
        match event:
            case ev.RunStarted():
                self.run_id, self.repo = event.run_id, event.repo
                self.batches = [list(batch) for batch in event.batches]
                for snapshot in event.tasks:
                    task = self.task(snapshot.id)
                    task.agent, task.state = snapshot.agent, snapshot.state
                    task.worktree, task.log_path = snapshot.worktree, snapshot.log_path
                    task.start_commit = snapshot.start_commit
                    task.clock = TaskClock(snapshot.started_at, snapshot.ended_at)
                    task.output_format = snapshot.output_format
            case ev.TaskSkipped():
                self.task(event.task_id).state = event.phase
            case ev.AgentStarted():
                task = self.task(event.task_id)
                task.clock = TaskClock(started=now)
                task.last_heard = now
                task.state, task.agent = "running", event.agent
                task.activity = task.tool = ""  # a new attempt: nothing reported yet
                task.rate_limited_until = None
                task.worktree, task.log_path = event.worktree, event.log_path
                task.start_commit = event.start_commit or task.start_commit
            case ev.AgentExited():
                task = self.task(event.task_id)
                if task.clock.started is None:  # it started before the app was there
                    task.clock.started = now - event.duration
                task.clock.ended = now
                task.state = AgentExit(event.reason, event.exit_code).state
            case ev.AgentReported():
                task = self.task(event.task_id)
                task.activity, task.tool = event.activity, event.tool
                task.tokens, task.cost_usd = event.tokens, event.cost_usd
                task.refusals = event.refusals
                task.rate_limited_until = event.until
            case ev.TaskCommitted() if event.commits == 0:
                self.task(event.task_id).state = "no-changes"
            case ev.TaskCommitted():
                self.task(event.task_id).files_changed = event.files_changed
            case ev.MergeDone():
                self.task(event.task_id).state = "merged"
            case ev.ValidationStarted():
                validation = self.task(VALIDATOR_KEY)
                validation.clock = TaskClock(started=now)
                validation.state, validation.agent = "running", event.command
                validation.log_path = event.log_path
            case ev.ValidationResult():
                validation = self.task(VALIDATOR_KEY)
                if validation.clock.started is None:
                    validation.clock.started = now
                validation.clock.ended = now
                validation.state = "passed" if event.passed else "failed"

    def log_of(self, key: str) -> Path | None:
        task = self.tasks.get(key)
        return Path(task.log_path) if task is not None and task.log_path else None


def _count(number: int) -> str:
    return f"{number / 1000:.1f}k" if number >= 1000 else str(number)
