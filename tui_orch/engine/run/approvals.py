"""The decisions the engine asks a person (or a `--yes`) to make.

The engine awaits an `Approver` at each decision point: before a batch starts, before
a batch's branches merge into the integration branch, and before the base branch moves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from tui_orch.engine.plans.plan import Task


@dataclass(frozen=True)
class BatchRequest:
    """A batch about to start: which tasks, and which of them the user may skip."""

    run_id: str
    number: int
    total: int
    tasks: tuple[Task, ...]


@dataclass(frozen=True)
class BatchDecision:
    """Start the batch (minus skipped tasks), or abort the run."""

    approved: bool
    skip: frozenset[str] = frozenset()

    @classmethod
    def approve(cls, skip: frozenset[str] = frozenset()) -> BatchDecision:
        return cls(True, skip)

    @classmethod
    def abort(cls) -> BatchDecision:
        return cls(False)


@dataclass(frozen=True)
class TaskOutcome:
    """What one finished task produced, as shown before its merge."""

    task_id: str
    branch: str
    commits: int
    files_changed: tuple[str, ...]
    insertions: int
    deletions: int
    # The agent's last lines, shown for a task that changed nothing (why not?).
    last_lines: tuple[str, ...] = ()
    # What a structured agent reported: its tool calls refused, its final message, cost.
    refusals: tuple[str, ...] = ()
    final_message: str = ""
    cost_usd: float | None = None

    @property
    def changed(self) -> bool:
        """False when the agent exited 0 without changing a file: nothing to merge."""
        return self.commits > 0


@dataclass(frozen=True)
class MergeRequest:
    """A built batch whose branches are about to merge into the integration branch."""

    run_id: str
    number: int
    total: int
    integration_branch: str
    outcomes: tuple[TaskOutcome, ...]
    warnings: tuple[str, ...] = ()
    # Task id -> why its merge is blocked; it merges only if the decision overrides it.
    blocked: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Task id -> how its agent failed, in a few words; nothing of it can merge.
    failed: dict[str, str] = field(default_factory=dict)
    # Task id -> the later tasks that need it, left out with it if it is left out.
    dependents: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Tasks (of this batch) whose merges are predicted to conflict, and where.
    predicted: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class MergeDecision:
    """Merge the batch (minus excluded tasks), restart failed tasks first, or stop.

    Blocked and failed tasks stop the run unless the decision names them in
    ``go_on_without``: someone saw them and chose to go on without them (and the tasks
    that depend on them). `--yes` never does, so in CI a block or a failure still stops.
    """

    approved: bool
    exclude: frozenset[str] = frozenset()
    override: frozenset[str] = frozenset()  # blocked tasks the user chose to merge anyway
    go_on_without: frozenset[str] = frozenset()
    restart: frozenset[str] = frozenset()  # failed tasks to run again; asked again after

    @classmethod
    def approve(
        cls,
        exclude: frozenset[str] = frozenset(),
        override: frozenset[str] = frozenset(),
        go_on_without: frozenset[str] = frozenset(),
    ) -> MergeDecision:
        return cls(True, exclude, override, go_on_without)

    @classmethod
    def restart_tasks(cls, task_ids: frozenset[str]) -> MergeDecision:
        return cls(True, restart=task_ids)

    @classmethod
    def abort(cls) -> MergeDecision:
        return cls(False)


@dataclass(frozen=True)
class FinalRequest:
    """The exact branch move that will happen if approved."""

    run_id: str
    base: str
    old_commit: str
    new_commit: str
    integration_branch: str
    validation: tuple[str, ...] = field(default_factory=tuple)
    checked_out_in: str | None = None
    merged: tuple[str, ...] = ()  # the tasks whose work the move brings in
    left_out: tuple[str, ...] = ()  # each task not brought in, with why ("docs: skipped")


@dataclass(frozen=True)
class ProblemsRequest:
    """Problems whose policy is block, found on the integrated result: go on anyway?"""

    run_id: str
    kind: str
    problems: tuple[str, ...]


class Approver(Protocol):
    """Answers the engine's questions; the TUI asks the user, headless may say yes."""

    # Whether a batch with failed tasks is put to it (restart them, go on without them):
    # only where a person sees the failures; otherwise a failure stops the run.
    asks_about_failures: bool

    async def approve_batch(self, request: BatchRequest) -> BatchDecision: ...

    async def approve_merge(self, request: MergeRequest) -> MergeDecision: ...

    async def approve_final(self, request: FinalRequest) -> bool: ...

    async def approve_problems(self, request: ProblemsRequest) -> bool: ...


class ApproveEverything:
    """The `--yes` approver: every batch, every merge, the final move (blocks stay blocks)."""

    asks_about_failures = False  # in CI, a failed task stops the run

    async def approve_batch(self, request: BatchRequest) -> BatchDecision:
        return BatchDecision.approve()

    async def approve_merge(self, request: MergeRequest) -> MergeDecision:
        return MergeDecision.approve()

    async def approve_final(self, request: FinalRequest) -> bool:
        return True

    async def approve_problems(self, request: ProblemsRequest) -> bool:
        """Never: `--yes` approves every step, but does not override a blocking policy."""
        return False
