"""What the engine tells its front ends, as plain dataclasses.

Front ends subscribe with a callback; the TUI turns events into messages, the headless
runner into lines of text or JSON. Nothing here knows who is listening.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import ClassVar


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of all engine events; ``kind`` names the event in the JSON stream."""

    kind: ClassVar[str] = "event"
    run_id: str
    at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {"event": self.kind}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, tuple):
                value = [asdict(v) if isinstance(v, TaskSnapshot) else v for v in value]
            data[item.name] = value
        return data


EventSink = Callable[[Event], None]


@dataclass(frozen=True)
class TaskSnapshot:
    """A task as a run (new or resumed) starts with it: front ends need no engine object."""

    id: str
    agent: str
    state: str  # a word, as front ends show it (see TaskState.shown_state)
    worktree: str
    branch: str
    log_path: str
    start_commit: str
    started_at: float | None = None  # its agent's last start and end (wall clock)
    ended_at: float | None = None
    output_format: str = "text"  # its profile's: how its log reads (see agents/adapters)


@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    kind: ClassVar[str] = "run_started"
    plan: str
    repo: str
    base: str
    base_commit: str
    batches: tuple[tuple[str, ...], ...]
    state_dir: str
    resumed: bool = False
    tasks: tuple[TaskSnapshot, ...] = ()  # every task of the plan, in plan order


@dataclass(frozen=True, kw_only=True)
class BatchStarted(Event):
    kind: ClassVar[str] = "batch_started"
    number: int
    total: int
    task_ids: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class TaskSkipped(Event):
    kind: ClassVar[str] = "task_skipped"
    task_id: str
    reason: str
    phase: str = "skipped"  # or "excluded": built, but kept out of the merge


@dataclass(frozen=True, kw_only=True)
class AgentStarted(Event):
    kind: ClassVar[str] = "agent_started"
    task_id: str
    agent: str
    pid: int | None
    worktree: str
    branch: str
    log_path: str
    start_commit: str = ""  # what its worktree started from: its diff is against it


@dataclass(frozen=True, kw_only=True)
class AgentReported(Event):
    """What a structured agent said of itself: what it is doing, its tokens and cost
    (as it reported them), the tool calls refused to it so far."""

    kind: ClassVar[str] = "agent_reported"
    task_id: str
    activity: str
    tool: str = ""
    tokens: int = 0
    cost_usd: float | None = None
    refusals: int = 0
    session_id: str = ""
    until: float | None = None  # rate-limited: till when


@dataclass(frozen=True, kw_only=True)
class AgentOutput(Event):
    """New lines from one agent since the last event for it: always a batch, never one line."""

    kind: ClassVar[str] = "agent_output"
    task_id: str
    lines: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class AgentExited(Event):
    kind: ClassVar[str] = "agent_exited"
    task_id: str
    exit_code: int | None
    reason: str  # exited, timeout, stopped, failed-to-start, lost
    duration: float
    message: str = ""


@dataclass(frozen=True, kw_only=True)
class TaskCommitted(Event):
    kind: ClassVar[str] = "task_committed"
    task_id: str
    commit: str
    commits: int
    files_changed: int


@dataclass(frozen=True, kw_only=True)
class MergeDone(Event):
    kind: ClassVar[str] = "merge_done"
    batch: int
    task_id: str
    commit: str


@dataclass(frozen=True, kw_only=True)
class MergeConflict(Event):
    kind: ClassVar[str] = "merge_conflict"
    batch: int
    task_id: str
    paths: tuple[str, ...]
    with_tasks: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class ValidationStarted(Event):
    kind: ClassVar[str] = "validation_started"
    command: str
    index: int
    total: int
    log_path: str


@dataclass(frozen=True, kw_only=True)
class ValidationOutput(Event):
    kind: ClassVar[str] = "validation_output"
    lines: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class ValidationResult(Event):
    kind: ClassVar[str] = "validation_result"
    passed: bool
    command: str
    exit_code: int | None
    reason: str = "exited"


@dataclass(frozen=True, kw_only=True)
class BaseMerged(Event):
    kind: ClassVar[str] = "base_merged"
    base: str
    old_commit: str
    new_commit: str


@dataclass(frozen=True, kw_only=True)
class CleanedUp(Event):
    kind: ClassVar[str] = "cleaned_up"
    worktrees: tuple[str, ...]
    branches: tuple[str, ...]
    kept: tuple[str, ...] = ()  # what holds unmerged work, with why: never removed


@dataclass(frozen=True, kw_only=True)
class ConflictDetected(Event):
    """A conflict appeared: an unowned edit, an overlap, a predicted or interface conflict."""

    kind: ClassVar[str] = "conflict_detected"
    conflict_kind: str
    tasks: tuple[str, ...]
    paths: tuple[str, ...]
    message: str
    policy: str  # warn or block
    blocks: tuple[str, ...] = ()
    owner: str | None = None


@dataclass(frozen=True, kw_only=True)
class ConflictResolved(Event):
    """A conflict reported earlier is gone (the agent undid the change)."""

    kind: ClassVar[str] = "conflict_resolved"
    conflict_kind: str
    tasks: tuple[str, ...]
    paths: tuple[str, ...]
    message: str


@dataclass(frozen=True, kw_only=True)
class Notice(Event):
    """Something the user should know that stops nothing (e.g. predictions are off)."""

    kind: ClassVar[str] = "notice"
    message: str


@dataclass(frozen=True, kw_only=True)
class RunFinished(Event):
    """The run is over for now; ``outcome`` is merged, failed, aborted or interrupted."""

    kind: ClassVar[str] = "run_finished"
    outcome: str
    exit_code: int
    message: str
    phase: str = ""  # where the run stands now ("awaiting-merge" after "not now")
