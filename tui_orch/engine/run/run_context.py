"""What every step of a run shares: its plan, repository, journal, and how it reports."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tui_orch.engine.agents.adapters.report import OutputAdapter
from tui_orch.engine.conflicts.monitor import Conflict, ConflictMonitor
from tui_orch.engine.plans.plan import Plan
from tui_orch.engine.repository.worktrees import Workspace
from tui_orch.engine.run import events as ev
from tui_orch.engine.run.approvals import Approver
from tui_orch.engine.run.journal import RunJournal
from tui_orch.engine.run.run_types import RunOptions
from tui_orch.engine.run.state import RunState, RunStore
from tui_orch.tables import dollars

if TYPE_CHECKING:
    from tui_orch.engine.run.building import LiveBuild


class RunContext:
    """One run's fixed parts, and the little the steps hand each other while it runs."""

    def __init__(
        self,
        plan: Plan,
        workspace: Workspace,
        journal: RunJournal,
        approver: Approver,
        options: RunOptions,
        monitor: ConflictMonitor,
        resumed: bool,
    ) -> None:
        self.plan = plan
        self.workspace = workspace
        self.journal = journal  # every change to the run's state goes through it
        self.approver = approver
        self.options = options
        self.monitor = monitor
        self.resumed = resumed
        self.live_build: LiveBuild | None = None  # the batch being built, while it is
        # On resume, restart only these failed tasks (the others are asked about at merge time).
        self.restart_only: frozenset[str] | None = None
        self.kept_after_cleanup: tuple[str, ...] = ()  # what clean-up kept, with why
        self.adapters: dict[str, OutputAdapter] = {}  # how each agent's output reads

    @property
    def state(self) -> RunState:
        return self.journal.state

    @property
    def store(self) -> RunStore:
        return self.journal.store

    def over_budget(self) -> str:
        """Why no more agents may start ('' while the run is within its budget_usd): the
        cost its agents reported so far has reached it."""
        budget = self.plan.budget_usd
        spent = sum(t.spent_usd or 0.0 for t in self.state.tasks.values())
        if budget is None or spent < budget:
            return ""
        copy = self.store.plan_copy(self.state.run_id)
        return (
            f"the run's budget of ${budget:g} is spent ({dollars(spent)} reported by its agents), "
            f"so no more agents start; raise budget_usd in {copy} and run "
            f"`tui-orch resume {self.state.run_id}` to go on"
        )

    def emit(self, event_type: type[ev.Event], **values: object) -> None:
        """An event that changes nothing in the run (output, a notice)."""
        self.journal.emit(event_type, **values)

    def report_conflicts(self, appeared: list[Conflict], gone: list[Conflict]) -> None:
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


class RunSteps:
    """A group of a run's steps (building a batch; finishing): an object given the run's
    context, its journal among it, not a mixin of the orchestrator."""

    def __init__(self, run: RunContext) -> None:
        self.run = run
        # Fixed for the run: named here so that each step reads as it did.
        self.plan, self.workspace, self.journal = run.plan, run.workspace, run.journal
        self.state, self.store = run.state, run.store
        self.approver, self.options, self.monitor = run.approver, run.options, run.monitor
        self.resumed = run.resumed
