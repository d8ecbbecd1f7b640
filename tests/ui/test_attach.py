"""`tui-orch attach`: the app reopened on a run whose agents still run, its panes filled
from the logs, the run going on from where it was."""

from __future__ import annotations

from tests.conftest import run_cli
from tests.ui.conftest import RUN_ID, MakeApp, screen_name, start_batch_one, wait_until
from tui_orch.engine.run.launch import latest_with_live_agents
from tui_orch.launch_spec import Launch
from tui_orch.ui.app import OrchApp

SIZE = (120, 40)


async def test_attach_reopens_the_app_with_the_panes_filled_from_the_logs(
    make_app: MakeApp,
) -> None:
    setup = make_app(gated=True)
    app, repo = setup.app, setup.demo.repo
    async with app.run_test(size=SIZE) as pilot:
        await start_batch_one(pilot, app)
        panes = app.dashboard.panes
        await wait_until(
            pilot,
            lambda: all(any("go-ahead" in line for line in panes[t].lines) for t in panes),
        )
        before = {task_id: pane.lines for task_id, pane in panes.items()}
        await pilot.press("q", "d")  # quit, the agents left running at their gate

    assert latest_with_live_agents(repo) == RUN_ID  # what `attach` opens by default
    no_terminal = run_cli("attach", "--repo", str(repo), cwd=repo)
    assert no_terminal.code != 0
    assert f"tui-orch resume {RUN_ID} --headless" in no_terminal.stderr

    # As `tui-orch attach` opens it (the test's options only poll faster).
    options = app.launch.options
    attached = OrchApp(Launch(repo=repo, resume_run_id=RUN_ID, resume=True, options=options))
    async with attached.run_test(size=SIZE) as pilot:
        dashboard = attached.dashboard
        await wait_until(
            pilot,
            lambda: (
                set(dashboard.panes) == set(before)
                and all(
                    dashboard.panes[t].lines[-len(seen) :] == seen for t, seen in before.items()
                )
            ),
        )
        assert all(dashboard.panes[t].state == "running" for t in before)
        # Their clocks go on from their start, not from the attach.
        assert all(dashboard.model.tasks[t].clock.started for t in before)
        setup.open_gate()  # the agents finish: the run goes on to its merge question
        # The question opens over the dashboard the user is on.
        await wait_until(pilot, lambda: screen_name(attached) == "MergeApprovalScreen")
        merge = attached.screen
        await wait_until(pilot, lambda: merge.query_one("#merge-table").row_count == 2)
        assert all(dashboard.panes[t].state == "succeeded" for t in before)


def test_attach_without_a_running_agent_says_what_to_do_instead(tmp_path: object) -> None:
    from tests.conftest import git

    repo = tmp_path / "repo"  # type: ignore[operator]
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "commit", "-q", "--allow-empty", "-m", "initial")
    result = run_cli("attach", "--repo", str(repo), cwd=repo)
    assert result.code != 0
    assert "no run has agents running; `tui-orch resume`" in result.stderr
    assert "Traceback" not in result.stderr
