"""The app's one model of a run: changed by engine events only, drawn by every widget."""

from __future__ import annotations

from collections import deque

from tests.ui.conftest import start_run_by_hand, wait_until
from tui_orch.engine.run import events as ev
from tui_orch.launch_spec import Launch
from tui_orch.ui.app import OrchApp
from tui_orch.ui.bridge import PendingOutput
from tui_orch.ui.messages import EngineEventArrived
from tui_orch.ui.run_model import RunModel


def started(task_id: str, start_commit: str = "abc") -> ev.AgentStarted:
    return ev.AgentStarted(
        run_id="r",
        task_id=task_id,
        agent="demo",
        pid=1,
        worktree=f"/w/{task_id}",
        branch=f"b/{task_id}",
        log_path=f"/logs/{task_id}.log",
        start_commit=start_commit,
    )


def test_the_model_follows_a_task_from_its_events_in_any_order() -> None:
    model = RunModel()
    model.add_output("a", ["printed before its start was heard of"], 1)
    model.apply(started("a"), now=10.0)
    model.add_output("a", ["and after"], 1)
    task = model.tasks["a"]
    assert (task.state, task.line_count, list(task.tail)) == (
        "running",
        2,
        ["printed before its start was heard of", "and after"],
    )
    assert (task.worktree, task.start_commit, str(model.log_of("a"))) == (
        "/w/a",
        "abc",
        "/logs/a.log",
    )
    assert model.running() == ["a"]
    model.apply(
        ev.AgentExited(run_id="r", task_id="a", exit_code=None, reason="timeout", duration=5),
        now=15.0,
    )
    assert (task.state, task.clock.elapsed(99.0)) == ("timed-out", 5.0)
    assert model.running() == []


async def test_output_that_arrives_before_the_agent_s_start_is_on_its_pane() -> None:
    """Output is drained once a frame, events come as messages: a task's first lines can
    come before its pane exists. The model holds them; the pane starts from it."""
    app = OrchApp(Launch())  # the dashboard alone, fed the engine's events by hand
    async with app.run_test(size=(120, 30)) as pilot:
        dashboard = app.dashboard
        start_run_by_hand(dashboard, [["left", "right"]], "demo")
        dashboard.show_output("left", PendingOutput(deque(["one", "two"]), 2))
        batch = ev.BatchStarted(run_id="r", number=1, total=1, task_ids=("left", "right"))
        dashboard.apply_event(EngineEventArrived(batch))
        dashboard.show_output("left", PendingOutput(deque(["three"]), 1))
        dashboard.apply_event(EngineEventArrived(started("left")))
        pane = dashboard.panes["left"]
        await wait_until(pilot, lambda: pane.lines == ["one", "two", "three"])
        assert (pane.line_count, pane.state) == (3, "running")
        assert dashboard.panes["right"].lines == []


def test_what_agents_report_adds_up_for_the_run() -> None:
    model = RunModel()
    for task_id, tokens, cost in (("a", 40, 0.0006), ("b", 1500, 0.02), ("c", 900, None)):
        model.apply(started(task_id), now=0.0)
        reported = ev.AgentReported(
            run_id="r", task_id=task_id, activity="running-tool", tool="Edit", tokens=tokens,
            cost_usd=cost,
        )  # fmt: skip
        model.apply(reported, now=1.0)
    assert model.tasks["a"].report == "Edit · 40 tok · $0.0006"
    assert model.tasks["c"].report == "Edit · 900 tok"  # no cost reported: none invented
    assert model.usage() == "2.4k tok · $0.02"


def test_a_running_agent_silent_for_a_minute_shows_as_quiet() -> None:
    model = RunModel()
    model.apply(started("a"), now=100.0)
    task = model.tasks["a"]
    assert task.report_at(159.0) == ""
    assert task.report_at(160.0) == "quiet 1m"
    model.add_output("a", ["a line"], 1, now=200.0)
    assert task.report_at(250.0) == ""
    assert task.report_at(400.0) == "quiet 3m"
    model.apply(
        ev.AgentExited(run_id="r", task_id="a", exit_code=0, reason="exited", duration=300),
        now=400.0,
    )
    assert task.report_at(900.0) == ""  # an agent that ended is not quiet, it is done
