"""`tui-orch demo --conflicts` in the app: conflicts seen while three agents run, two tasks
held back on the merge screen, one taken in by the user, and the run ending with a move."""

from __future__ import annotations

import subprocess
from pathlib import Path

from textual.widgets import DataTable

from tests.ui.conftest import MakeApp, at_plan, screen_name, wait_until
from tui_orch.ui.widgets.agent_pane import AgentPane

SIZE = (120, 36)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


async def test_the_conflicts_demo_from_first_badge_to_the_final_move(make_app: MakeApp) -> None:
    setup = make_app(gated=True, variant="conflicts", conflicts={"interval": "0.2s"})
    app, repo = setup.app, setup.demo.repo
    async with app.run_test(size=SIZE) as pilot:
        await at_plan(pilot, app)
        await pilot.press("a")
        panel = app.dashboard.query_one("#conflicts-panel")
        await wait_until(pilot, lambda: len(panel.rows_by_key) == 5)
        assert len(app.orchestrator.running_task_ids()) == 3  # seen while all three run
        panes: dict[str, AgentPane] = {
            key: found for key in ("models", "docs", "stock") if (found := app.dashboard._pane(key))
        }
        assert "not its file: README.md" in panes["stock"].badges
        assert "will conflict: src/shop/__init__.py" in panes["docs"].badges
        assert all(pane.has_class("-conflict") for pane in panes.values())

        setup.open_gate()
        await wait_until(pilot, lambda: screen_name(app) == "MergeApprovalScreen")
        merge = app.screen
        assert set(merge.request.blocked) == {"docs", "stock"}
        assert merge.excluded == {"docs", "stock"}  # held back until someone says otherwise
        # Pushed from the engine's task: its widgets exist only once it is composed.
        await wait_until(pilot, lambda: bool(merge.query("#merge-table")))
        table = merge.query_one("#merge-table", DataTable)
        await wait_until(pilot, lambda: table.row_count == 3)
        table.move_cursor(row=table.get_row_index("stock"))
        await pilot.press("x")  # take 'stock' in: its README edit merges cleanly
        assert merge.excluded == {"docs"}
        await pilot.press("a")
        for _batch in (2, 3):
            await wait_until(pilot, lambda: screen_name(app) == "BatchApprovalScreen")
            await pilot.press("a")
            await wait_until(pilot, lambda: screen_name(app) == "MergeApprovalScreen")
            await pilot.press("a")
        await wait_until(pilot, lambda: screen_name(app) == "FinalApprovalScreen")
        await wait_until(pilot, lambda: bool(app.screen.query("#final-move")))
        await pilot.press("y")
        await wait_until(pilot, lambda: app.dashboard.facts.phase == "merged")
    state = app.orchestrator.state
    assert {task_id: task.phase.value for task_id, task in state.tasks.items()} == {
        "models": "merged",
        "docs": "excluded",
        "stock": "merged",
        "service": "merged",
        "api": "merged",
    }
    assert git(repo, "show", "main:README.md").startswith("# shop: items, orders and stock levels")
    assert git(repo, "show", "main:src/shop/__init__.py").startswith('"""A tiny shop: money')
    assert "docs/usage.md" not in git(repo, "ls-tree", "-r", "--name-only", "main")
    assert state.tasks["docs"].branch in git(repo, "branch", "--format=%(refname:short)")
