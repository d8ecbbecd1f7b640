"""What every step of a run shares: its plan, repository, state, and how it reports."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tui_orch.engine.conflicts.monitor import Conflict, ConflictMonitor
from tui_orch.engine.plans.plan import Plan
from tui_orch.engine.repository.worktrees import Workspace
from tui_orch.engine.run import events as ev
from tui_orch.engine.run.approvals import Approver
from tui_orch.engine.run.journal import RunJournal
from tui_orch.engine.run.run_types import RunOptions
from tui_orch.engine.run.state import (
    RunState,
    RunStore,
)

if TYPE_CHECKING:
    from tui_orch.engine.run.building import LiveBuild


class RunContext:
    """The fields and plumbing the step mixins rely on; `Orchestrator` fills them in."""

    plan: Plan
    workspace: Workspace
    store: RunStore
    state: RunState
    approver: Approver
    options: RunOptions
    monitor: ConflictMonitor
    resumed: bool
    journal: RunJournal  # every change to the state goes through it
    _live_build: LiveBuild | None  # the batch being built, while it is
    # On resume, restart only these failed tasks (the others are asked about at merge time).
    restart_only: frozenset[str] | None
    kept_after_cleanup: tuple[str, ...]  # what clean-up kept (unmerged work), with why

    def emit(self, event_type: type[ev.Event], **values: object) -> None:
        """An event that changes nothing in the run (output, a notice)."""
        self.journal.emit(event_type, **values)

    def _report_conflicts(self, appeared: list[Conflict], gone: list[Conflict]) -> None:
        if not appeared and not gone:
            return
        run_id = self.state.run_id
        events: list[ev.Event] = [
            ev.ConflictDetected(
                run_id=run_id,
                conflict_kind=conflict.kind,
                tasks=conflict.tasks,
                paths=conflict.paths,
                message=conflict.message,
                policy=conflict.policy,
                blocks=conflict.blocks,
                owner=conflict.owner,
            )
            for conflict in appeared
        ]
        events += [
            ev.ConflictResolved(
                run_id=run_id,
                conflict_kind=conflict.kind,
                tasks=conflict.tasks,
                paths=conflict.paths,
                message=conflict.message,
            )
            for conflict in gone
        ]
        self.journal.conflicts_changed([c.to_dict() for c in self.monitor.history], events)
