"""The decisions the engine asks a person (or a `--yes`) to make.

The engine awaits an `Approver` at each decision point: before a batch starts, before
a batch's branches merge into the integration branch, and before the base branch moves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from tui_orch.engine.plan import Task


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


@dataclass(frozen=True)
class MergeDecision:
    """Merge the batch (minus excluded tasks), or stop the run before merging."""

    approved: bool
    exclude: frozenset[str] = frozenset()
    override: frozenset[str] = frozenset()  # blocked tasks the user chose to merge anyway

    @classmethod
    def approve(
        cls, exclude: frozenset[str] = frozenset(), override: frozenset[str] = frozenset()
    ) -> MergeDecision:
        return cls(True, exclude, override)

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

    async def approve_batch(self, request: BatchRequest) -> BatchDecision: ...

    async def approve_merge(self, request: MergeRequest) -> MergeDecision: ...

    async def approve_final(self, request: FinalRequest) -> bool: ...

    async def approve_problems(self, request: ProblemsRequest) -> bool: ...


class ApproveEverything:
    """The `--yes` approver: every batch, every merge, the final move (blocks stay blocks)."""

    async def approve_batch(self, request: BatchRequest) -> BatchDecision:
        return BatchDecision.approve()

    async def approve_merge(self, request: MergeRequest) -> MergeDecision:
        return MergeDecision.approve()

    async def approve_final(self, request: FinalRequest) -> bool:
        return True

    async def approve_problems(self, request: ProblemsRequest) -> bool:
        """Never: `--yes` approves every step, but does not override a blocking policy."""
        return False
