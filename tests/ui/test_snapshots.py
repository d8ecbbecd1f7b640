"""SVG snapshots of the cockpit's screens, from real demo agents held at a gate.

Deterministic by construction: a frozen clock (elapsed times read 0s), a fixed run id,
a fixed terminal size, and agents that have printed all their lines and wait.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.pilot import Pilot

from tests.ui.conftest import (
    FROZEN_NOW,
    DemoApp,
    MakeApp,
    screen_name,
    start_run_by_hand,
    wait_until,
)
from tui_orch.engine.agents.adapters.claude_stream import ClaudeStreamAdapter
from tui_orch.engine.run import events as ev
from tui_orch.launch_spec import Launch
from tui_orch.ui.app import OrchApp
from tui_orch.ui.bridge import PendingOutput
from tui_orch.ui.messages import EngineEventArrived
from tui_orch.ui.widgets.log_view import LogView

SAMPLES = Path(__file__).parent.parent / "samples" / "claude"

SIZE = (120, 34)
SnapCompare = Callable[..., bool]


async def at_plan(setup: DemoApp, pilot: Pilot[object]) -> None:
    app = setup.app
    await wait_until(pilot, lambda: screen_name(app) == "PlanScreen" and app.screen.report)


async def mid_run(setup: DemoApp, pilot: Pilot[object]) -> None:
    """Batch 1 running, both agents done printing and waiting at the gate."""
    await at_plan(setup, pilot)
    await pilot.press("a")
    app = setup.app
    await wait_until(
        pilot,
        lambda: all(
            (pane := app.dashboard._pane(key)) is not None
            and any("go-ahead" in line for line in pane.lines)
            # The header counts lines at the dashboard's tick (twice a second): wait
            # for the count of every line shown, or a slow machine snaps "0 lines".
            and f"{pane.line_count} lines" in pane.header.plain
            for key in ("models", "docs")
        ),
    )
    await pilot.pause(0.3)


async def at_merge(setup: DemoApp, pilot: Pilot[object]) -> None:
    await mid_run(setup, pilot)
    setup.open_gate()
    await wait_until(pilot, lambda: screen_name(setup.app) == "MergeApprovalScreen")
    await pilot.pause(0.2)


def run_before(setup: DemoApp, step: Callable[[DemoApp, Pilot[object]], Awaitable[None]]):  # type: ignore[no-untyped-def]
    async def before(pilot: Pilot[object]) -> None:
        await step(setup, pilot)

    return before


def test_plan_screen(snap_compare: SnapCompare, make_app: MakeApp) -> None:
    setup = make_app()
    assert snap_compare(setup.app, terminal_size=SIZE, run_before=run_before(setup, at_plan))


def test_dashboard_mid_run(snap_compare: SnapCompare, make_app: MakeApp) -> None:
    setup = make_app()
    assert snap_compare(setup.app, terminal_size=SIZE, run_before=run_before(setup, mid_run))


def test_merge_approval(snap_compare: SnapCompare, make_app: MakeApp) -> None:
    setup = make_app()
    assert snap_compare(setup.app, terminal_size=SIZE, run_before=run_before(setup, at_merge))


def test_log_viewer(snap_compare: SnapCompare, make_app: MakeApp) -> None:
    setup = make_app()

    async def open_log(setup: DemoApp, pilot: Pilot[object]) -> None:
        await mid_run(setup, pilot)
        await pilot.press("1", "l")
        view = setup.app.screen.query_one(LogView)
        await wait_until(pilot, lambda: view.line_count >= 14)
        await pilot.press("slash", *"src/shop/money", "enter")
        await pilot.pause(0.2)

    assert snap_compare(setup.app, terminal_size=SIZE, run_before=run_before(setup, open_log))


def test_help(snap_compare: SnapCompare, make_app: MakeApp) -> None:
    setup = make_app()

    async def open_help(setup: DemoApp, pilot: Pilot[object]) -> None:
        await mid_run(setup, pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.3)

    assert snap_compare(setup.app, terminal_size=SIZE, run_before=run_before(setup, open_help))


def test_batch_approval(snap_compare: SnapCompare, make_app: MakeApp) -> None:
    setup = make_app()

    async def at_batch_two(setup: DemoApp, pilot: Pilot[object]) -> None:
        await at_merge(setup, pilot)
        await pilot.press("a")
        await wait_until(pilot, lambda: screen_name(setup.app) == "BatchApprovalScreen")
        await pilot.pause(0.3)

    assert snap_compare(setup.app, terminal_size=SIZE, run_before=run_before(setup, at_batch_two))


# -- 80x24: the smallest terminal a user will try ------------------------------------------

SMALL = (80, 24)
CONFLICTING = {
    "task_agents": {
        "models": ["--edit-unowned", "README.md"],
        "docs": ["--edit-unowned", "README.md"],
    },
    "conflicts": {"interval": "0.2s", "overlap": "warn"},
}


async def conflicts_seen(setup: DemoApp, pilot: Pilot[object]) -> None:
    """Batch 1 running, its agents at the gate, every conflict in the panel."""
    await mid_run(setup, pilot)
    panel = setup.app.dashboard.query_one("#conflicts-panel")
    await wait_until(pilot, lambda: len(panel.rows_by_key) == 4)
    setup.app.clear_notifications()  # toasts come and go; the screen under them is the point
    await pilot.pause(0.3)


def test_dashboard_with_conflicts_at_80x24(snap_compare: SnapCompare, make_app: MakeApp) -> None:
    setup = make_app(**CONFLICTING)
    assert snap_compare(
        setup.app, terminal_size=SMALL, run_before=run_before(setup, conflicts_seen)
    )


def test_blocked_merge_at_80x24(snap_compare: SnapCompare, make_app: MakeApp) -> None:
    setup = make_app(**CONFLICTING)

    async def blocked_merge(setup: DemoApp, pilot: Pilot[object]) -> None:
        await conflicts_seen(setup, pilot)
        setup.open_gate()
        await wait_until(pilot, lambda: screen_name(setup.app) == "MergeApprovalScreen")
        await pilot.pause(0.3)
        await pilot.press("x")  # models in, its problem approved; docs stays held back
        setup.app.clear_notifications()
        await pilot.pause(0.2)

    assert snap_compare(setup.app, terminal_size=SMALL, run_before=run_before(setup, blocked_merge))


def test_quit_question_at_80x24(snap_compare: SnapCompare, make_app: MakeApp) -> None:
    setup = make_app()

    async def ask_to_quit(setup: DemoApp, pilot: Pilot[object]) -> None:
        await mid_run(setup, pilot)
        await pilot.press("q")
        await pilot.pause(0.3)

    assert snap_compare(setup.app, terminal_size=SMALL, run_before=run_before(setup, ask_to_quit))


def test_panes_rendering_claude_code_streams(snap_compare: SnapCompare) -> None:
    """Two recorded Claude Code streams as the engine hands them to the dashboard: its
    adapter's lines and reports. One agent mid-run (running Write), one done whose
    every edit was refused: its header says so."""
    app = OrchApp(Launch(), clock=lambda: FROZEN_NOW)

    async def feed(pilot: Pilot[object]) -> None:
        dashboard = app.dashboard
        start_run_by_hand(dashboard, [["alpha", "beta"]], "claude")
        for event in (
            ev.BatchStarted(run_id="r", number=1, total=1, task_ids=("alpha", "beta")),
            *(
                ev.AgentStarted(
                    run_id="r",
                    task_id=t,
                    agent="claude",
                    pid=1,
                    worktree="",
                    branch="",
                    log_path="",
                )
                for t in ("alpha", "beta")
            ),
        ):
            dashboard.apply_event(EngineEventArrived(event))
        for task_id, sample, upto in (
            ("alpha", "write_two_files.jsonl", 2),
            ("beta", "refused_under_dot_git.jsonl", None),
        ):
            adapter = ClaudeStreamAdapter()
            raw = (SAMPLES / sample).read_text(encoding="utf-8").splitlines()[:upto]
            reports = [adapter.read(line) for line in raw]
            lines = [line for report in reports for line in report.lines]
            dashboard.show_output(task_id, PendingOutput(deque(lines), len(lines)))
            last = reports[-1]
            reported = ev.AgentReported(
                run_id="r",
                task_id=task_id,
                activity=last.activity.value if last.activity else "",
                tool=last.tool,
                tokens=last.usage.tokens if last.usage else 0,
                cost_usd=last.usage.cost_usd if last.usage else None,
                refusals=sum(len(report.refusals) for report in reports),
            )
            dashboard.apply_event(EngineEventArrived(reported))
        for event in (
            ev.AgentExited(run_id="r", task_id="beta", exit_code=0, reason="exited", duration=1),
            ev.TaskCommitted(run_id="r", task_id="beta", commit="c0", commits=0, files_changed=0),
        ):
            dashboard.apply_event(EngineEventArrived(event))
        dashboard.tick()
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=SIZE, run_before=feed)
