"""What every step of a run shares: its plan, repository, state, and how it reports."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from tui_orch.engine.conflicts.monitor import Conflict, ConflictMonitor
from tui_orch.engine.plans.plan import Plan
from tui_orch.engine.repository.worktrees import Workspace
from tui_orch.engine.run import events as ev
from tui_orch.engine.run.approvals import (
    Approver,
)
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
    _emit: ev.EventSink
    _created: bool
    _save_lock: threading.Lock
    _live_build: LiveBuild | None  # the batch being built, while it is
    # On resume, restart only these failed tasks (the others are asked about at merge time).
    restart_only: frozenset[str] | None
    kept_after_cleanup: tuple[str, ...]  # what clean-up kept (unmerged work), with why

    def emit(self, event_type: type[ev.Event], **values: object) -> None:
        self._emit(event_type(run_id=self.state.run_id, **values))

    def _save(self) -> None:
        if self._created:
            with self._save_lock:  # some steps run in worker threads
                self.store.save(self.state)

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
