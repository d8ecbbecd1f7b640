"""Apps for UI tests: the real cockpit over the real engine and real demo agents.

Determinism for snapshots: a frozen clock, a fixed run id, and demo agents that stop
at a gate (``--wait-for``) so a mid-run screen always shows the same lines.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from textual.css.query import NoMatches
from textual.pilot import Pilot

from tui_orch.demo.project import Demo, create_demo
from tui_orch.engine.repository.worktrees import Workspace
from tui_orch.engine.run import events as ev
from tui_orch.engine.run.orchestrator import RunOptions
from tui_orch.engine.run.runs import stop_run
from tui_orch.engine.run.state import RunStore
from tui_orch.launch_spec import Launch
from tui_orch.ui.app import OrchApp
from tui_orch.ui.messages import EngineEventArrived
from tui_orch.ui.screens.dashboard import DashboardScreen

FROZEN_NOW = 1_800_000_000.0
RUN_ID = "20270115-080000-demo"


@dataclass
class DemoApp:
    app: OrchApp
    demo: Demo
    gate: Path

    def open_gate(self) -> None:
        self.gate.touch()


MakeApp = Callable[..., DemoApp]


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[MakeApp]:
    """Build a demo app; afterwards, let gated agents finish and stop anything left."""
    made: list[DemoApp] = []

    def build(
        gated: bool = True,
        task_agents: dict[str, list[str]] | None = None,
        frozen_clock: bool = True,
        conflicts: dict[str, str] | None = None,
        variant: str = "two-lane",  # two tasks side by side: what most tests name and count
    ) -> DemoApp:
        gate = tmp_path / f"go-{len(made)}"
        options = ["--wait-for", str(gate)] if gated else []
        demo = create_demo(
            tmp_path / f"demo-{len(made)}",
            pace=0,
            agent_options=options,
            task_agents=task_agents,
            conflicts=conflicts,
            variant=variant,
        )
        app = OrchApp(
            Launch(
                plan=demo.plan,
                repo=demo.repo,
                options=RunOptions(run_id=RUN_ID, poll_interval=0.05, grace=1.0),
            ),
            clock=(lambda: FROZEN_NOW) if frozen_clock else __import__("time").time,
        )
        made.append(DemoApp(app, demo, gate))
        return made[-1]

    yield build
    for item in made:
        item.open_gate()
        store = RunStore(Workspace(item.demo.repo).common)
        for run in store.all():
            stop_run(store, run, grace=1.0)


async def wait_until(
    pilot: Pilot[object], condition: Callable[[], bool], timeout: float = 30
) -> None:
    """Let the app run until condition holds (the engine works in real time)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not _holds(condition):
        if loop.time() > deadline:
            raise AssertionError(
                f"timed out waiting for {condition.__doc__ or condition}; {describe(pilot.app)}"
            )
        await pilot.pause(0.05)


def _holds(condition: Callable[[], bool]) -> bool:
    """A condition that looks for a widget of a screen still being composed (pushed, its
    children not mounted yet) does not hold yet; it does not fail."""
    try:
        return bool(condition())
    except NoMatches:
        return False


def describe(app: object) -> str:
    """What the app was doing, so a timeout in CI can be understood afterwards."""
    if not isinstance(app, OrchApp):
        return ""
    dashboard = app.dashboard
    panes = {key: (pane.state, pane.line_count) for key, pane in dashboard.panes.items()}
    state = app.orchestrator.state if app.orchestrator else None
    return (
        f"screen {type(app.screen).__name__}, phase {dashboard.facts.phase}, "
        f"tasks {dashboard.task_states}, panes (state, lines) {panes}, "
        f"engine worker {app.engine_worker.state if app.engine_worker else None}, "
        f"run message {state.message if state else ''!r}"
    )


async def at_plan(pilot: Pilot[object], app: OrchApp) -> None:
    """Wait until the plan screen shows a checked plan."""
    await wait_until(pilot, lambda: screen_name(app) == "PlanScreen" and app.screen.report)


async def start_batch_one(pilot: Pilot[object], app: OrchApp) -> None:
    """From the plan screen, start the run and wait until both batch 1 agents run."""
    await at_plan(pilot, app)
    await pilot.press("a")
    await wait_until(pilot, lambda: len(app.orchestrator.running_task_ids()) == 2)


def screen_name(app: OrchApp) -> str:
    return type(app.screen).__name__


def start_run_by_hand(dashboard: DashboardScreen, batches: list[list[str]], agent: str) -> None:
    """The RunStarted the engine sends first, for tests that feed the dashboard alone."""
    snapshots = tuple(
        ev.TaskSnapshot(task_id, agent, "pending", "", "", "", "")
        for batch in batches
        for task_id in batch
    )
    started = ev.RunStarted(
        run_id="r",
        plan="plan.yaml",
        repo="",
        base="main",
        base_commit="",
        batches=tuple(tuple(batch) for batch in batches),
        state_dir="",
        tasks=snapshots,
    )
    dashboard.apply_event(EngineEventArrived(started))
