"""What every step of a run shares: its plan, repository, state, and how it reports."""

from __future__ import annotations

import threading

from tui_orch.engine import events as ev
from tui_orch.engine.approvals import (
    Approver,
)
from tui_orch.engine.conflicts import ConflictMonitor
from tui_orch.engine.plan import Plan
from tui_orch.engine.run_types import RunOptions
from tui_orch.engine.state import (
    RunState,
    RunStore,
)
from tui_orch.engine.worktrees import Workspace


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

    def emit(self, event_type: type[ev.Event], **values: object) -> None:
        self._emit(event_type(run_id=self.state.run_id, **values))

    def _save(self) -> None:
        if self._created:
            with self._save_lock:  # some steps run in worker threads
                self.store.save(self.state)
