"""Run state on disk, so a run survives the death of the process that drives it.

Each run lives in ``<git common dir>/tui-orch/runs/<run-id>/``: ``state.json`` (written
atomically at every step), a copy of the plan, ``logs/`` and one directory per job.
Being under the git dir, none of it ever shows up as untracked files.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from dataclasses import dataclass, field, fields
from enum import StrEnum
from pathlib import Path

from tui_orch.engine.agents.exits import AgentExit
from tui_orch.engine.agents.jobs import JobFiles, JobHandle, write_json_atomic
from tui_orch.engine.run.preconditions import PreconditionFailed
from tui_orch.engine.run.run_types import Outcome

STATE_VERSION = 1


class TaskPhase(StrEnum):
    PENDING = "pending"
    SKIPPED = "skipped"
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # agent exited 0, work committed on the task branch
    NO_CHANGES = "no-changes"  # agent exited 0 but changed nothing: nothing to merge
    FAILED = "failed"  # exited non-zero, timed out, stopped or could not start
    MERGED = "merged"
    EXCLUDED = "excluded"  # kept out of the merge: by the user, or blocked by a policy


class RunPhase(StrEnum):
    BUILDING = "building"
    VALIDATING = "validating"
    AWAITING_MERGE = "awaiting-merge"
    MERGED = "merged"
    FAILED = "failed"
    ABORTED = "aborted"
    INTERRUPTED = "interrupted"


@dataclass
class TaskState:
    """Everything known about one task in one run."""

    id: str
    batch: int
    branch: str
    worktree: str
    phase: TaskPhase = TaskPhase.PENDING
    start_commit: str = ""
    head: str = ""
    supervisor_pid: int | None = None
    supervisor_start: str = ""
    agent_pid: int | None = None
    exit_code: int | None = None
    reason: str = ""
    message: str = ""
    started_at: float | None = None
    ended_at: float | None = None
    commits: int = 0
    files_changed: list[str] = field(default_factory=list)
    insertions: int = 0
    deletions: int = 0
    attempts: int = 0
    # What a structured agent said of itself (see engine/agents/adapters).
    session_id: str = ""
    continued: bool = False  # its latest attempt went on with the session before it
    activity: str = ""  # thinking, running-tool, rate-limited, done, failed ('' for text)
    tool: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cache_tokens: int = 0
    cost_usd: float | None = None  # only as reported by the agent
    # What its earlier attempts reported (each CLI counts one process, not the session).
    earlier_tokens: int = 0
    earlier_cost_usd: float | None = None
    refusals: list[str] = field(default_factory=list)  # tool calls refused, one line each
    final_message: str = ""
    rate_limited_until: float | None = None  # its agent reported a rate limit, till then
    rate_limit_waits: int = 0  # how often it was started again after one

    @property
    def handle(self) -> JobHandle | None:
        if self.supervisor_pid is None:
            return None
        return JobHandle(self.supervisor_pid, self.supervisor_start)

    @property
    def tokens(self) -> int:
        """Every token its agent reported, in every attempt: input, output and cache."""
        return self.input_tokens + self.output_tokens + self.cache_tokens + self.earlier_tokens

    @property
    def spent_usd(self) -> float | None:
        """The cost its agent reported, in every attempt (None: it reported none)."""
        if self.cost_usd is None and self.earlier_cost_usd is None:
            return None
        return (self.cost_usd or 0.0) + (self.earlier_cost_usd or 0.0)

    @property
    def shown_state(self) -> str:
        """The task's state in a word, as the front ends show it ("timed-out", not
        "failed", for an agent that ran out of time)."""
        if self.phase is TaskPhase.FAILED:
            return AgentExit(self.reason, self.exit_code).state
        return self.phase.value

    @property
    def duration(self) -> float | None:
        if self.started_at is None:
            return None
        return (self.ended_at or time.time()) - self.started_at


@dataclass
class ValidationState:
    command: str
    exit_code: int | None = None
    reason: str = ""
    passed: bool | None = None
    supervisor_pid: int | None = None
    supervisor_start: str = ""

    @property
    def handle(self) -> JobHandle | None:
        if self.supervisor_pid is None:
            return None
        return JobHandle(self.supervisor_pid, self.supervisor_start)


@dataclass
class RunState:
    """One run of one plan in one repository."""

    run_id: str
    repo: str
    plan_source: str
    base: str
    base_start: str
    integration_branch: str
    integration_worktree: str
    worktree_root: str
    batches: list[list[str]]
    tasks: dict[str, TaskState]
    phase: RunPhase = RunPhase.BUILDING
    batch_index: int = 0
    batch_approved: bool = False
    validation: list[ValidationState] = field(default_factory=list)
    outcome: str = ""
    exit_code: int | None = None
    message: str = ""
    merged_commit: str = ""
    validated_commit: str = ""  # the integration head that passed every check
    cleaned: bool = False
    conflicts: list[dict[str, object]] = field(default_factory=list)
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    # Every step the journal recorded: [step, subject, when] (see journal.py).
    history: list[list[object]] = field(default_factory=list)
    version: int = STATE_VERSION

    @property
    def finished(self) -> bool:
        """Nothing left to do: the base moved (or there was nothing to move it for) and
        the run concluded. A driver killed between the move and the end of its clean-up
        leaves a merged run that is not finished: `resume` finishes it."""
        known = self.outcome in tuple(Outcome)
        return self.phase is RunPhase.MERGED and known and Outcome(self.outcome).finished

    def to_dict(self) -> dict[str, object]:
        """A shallow copy per object (the enums are strings): `asdict` deep-copies
        everything and costs ten times as much, on every save of a run."""
        data = dict(vars(self))
        data["tasks"] = {task_id: dict(vars(task)) for task_id, task in self.tasks.items()}
        data["validation"] = [dict(vars(check)) for check in self.validation]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> RunState:
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values["tasks"] = {
            task_id: TaskState(**{**task, "phase": TaskPhase(task["phase"])})
            for task_id, task in dict(values["tasks"]).items()  # type: ignore[call-overload]
        }
        values["validation"] = [ValidationState(**v) for v in values.get("validation", [])]  # type: ignore[attr-defined]
        values["phase"] = RunPhase(values.get("phase", RunPhase.BUILDING))
        return cls(**values)  # type: ignore[arg-type]


class UnreadableRun(PreconditionFailed):
    """A run's state file is missing, truncated or not ours: say so, and how to clean it."""


class RunStore:
    """The runs of one repository, under its common git dir."""

    def __init__(self, git_common_dir: Path) -> None:
        self.root = git_common_dir / "tui-orch" / "runs"

    def new_run_id(self) -> str:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime())
        return f"{stamp}-{secrets.token_hex(2)}"

    def run_dir(self, run_id: str) -> Path:
        return self.root / run_id

    def plan_copy(self, run_id: str) -> Path:
        return self.run_dir(run_id) / "plan.yaml"

    def task_files(self, run_id: str, task_id: str) -> JobFiles:
        run_dir = self.run_dir(run_id)
        return JobFiles(run_dir / "jobs" / task_id, run_dir / "logs" / f"{task_id}.log")

    def validation_files(self, run_id: str, index: int) -> JobFiles:
        run_dir = self.run_dir(run_id)
        return JobFiles(
            run_dir / "jobs" / f"validate-{index + 1}",
            run_dir / "logs" / f"validate-{index + 1}.log",
        )

    def save(self, state: RunState) -> None:
        state.updated_at = time.time()
        directory = self.run_dir(state.run_id)
        directory.mkdir(parents=True, exist_ok=True)
        write_json_atomic(directory / "state.json", state.to_dict())

    def load(self, run_id: str) -> RunState:
        path = self.run_dir(run_id) / "state.json"
        try:
            return RunState.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise UnreadableRun(
                f"the state of run {run_id} ({path}) cannot be read ({type(error).__name__}: "
                f"{error}); `tui-orch clean {run_id}` still removes its worktrees and branches"
            ) from None

    def run_ids(self) -> list[str]:
        """All runs, oldest first (ids start with their creation time)."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "state.json").is_file())

    def all(self) -> list[RunState]:
        """Every run whose state can be read."""
        runs = []
        for run_id in self.run_ids():
            with contextlib.suppress(UnreadableRun):
                runs.append(self.load(run_id))
        return runs
