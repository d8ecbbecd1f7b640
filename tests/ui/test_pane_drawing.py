"""A pane draws again only what changed: Textual asks every pane under any change on the
screen for all its rows, and a pane with nothing new gives its last answer; a clock that
turns over draws its header row alone. What the screen shows stays right throughout."""

from __future__ import annotations

from textual.geometry import Region

from tests.ui.conftest import start_run_by_hand, wait_until
from tui_orch.engine.run import events as ev
from tui_orch.launch_spec import Launch
from tui_orch.ui.app import OrchApp
from tui_orch.ui.messages import EngineEventArrived
from tui_orch.ui.widgets.agent_pane import AgentPane


def rows(pane: AgentPane) -> list[str]:
    """The pane's rows as it hands them to Textual (borders included)."""
    width, height = pane.outer_size
    return [strip.text for strip in pane.render_lines(Region(0, 0, width, height))]


def screen_text(app: OrchApp) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def test_a_pane_with_nothing_new_is_not_drawn_again_and_shows_the_right_rows() -> None:
    clock = [1000.0]
    # The dashboard alone, fed the engine's events by hand, on a clock of our own.
    app = OrchApp(Launch(), clock=lambda: clock[0])
    async with app.run_test(size=(120, 30)) as pilot:
        dashboard = app.dashboard
        start_run_by_hand(dashboard, [["left", "right"]], "demo")
        event = ev.BatchStarted(run_id="r", number=1, total=1, task_ids=("left", "right"))
        dashboard.apply_event(EngineEventArrived(event))
        for task_id in ("left", "right"):
            started = ev.AgentStarted(
                run_id="r", task_id=task_id, agent="demo", pid=1, worktree="", branch="",
                log_path="",
            )  # fmt: skip
            dashboard.apply_event(EngineEventArrived(started))
        left, right = dashboard.panes["left"], dashboard.panes["right"]
        right.add_lines(["right says one"], 1)
        await pilot.pause()
        await wait_until(pilot, lambda: "right says one" in screen_text(app))

        before = right.render_lines(Region(0, 0, *right.outer_size))
        # Output for the neighbour: this pane answers with the very same rows.
        left.add_lines(["left says two"], 1)
        await wait_until(pilot, lambda: "left says two" in screen_text(app))
        assert right.render_lines(Region(0, 0, *right.outer_size)) is before
        assert "right says one" in screen_text(app)

        # The clock turns over: the header row is drawn again, the body rows are kept.
        clock[0] += 65
        dashboard.tick()
        await pilot.pause()
        after = right.render_lines(Region(0, 0, *right.outer_size))
        assert after is not before
        header = next(y for y, row in enumerate(rows(right)) if "running" in row)
        assert "1m05s" in after[header].text and "1m05s" not in before[header].text
        assert [strip for y, strip in enumerate(after) if y != header] == [
            strip for y, strip in enumerate(before) if y != header
        ]
        assert all(after[y] is before[y] for y in range(len(after)) if y != header)
        await wait_until(pilot, lambda: screen_text(app).count("1m05s") == 2)

        # A new look (another theme) draws every row again.
        app.theme = "textual-light" if app.theme != "textual-light" else "textual-dark"
        await pilot.pause()
        relit = right.render_lines(Region(0, 0, *right.outer_size))
        assert all(relit[y] is not after[y] for y in range(len(after)))
        assert "right says one" in screen_text(app)
