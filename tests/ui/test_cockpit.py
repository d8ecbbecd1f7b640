"""The cockpit driven as a user would: keys in, screens and the repository checked."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from textual.widgets import Static
from textual.widgets._footer import FooterKey

from tests.ui.conftest import (
    MakeApp,
    at_plan,
    screen_name,
    start_batch_one,
    start_run_by_hand,
    wait_until,
)
from tui_orch.engine.agents.jobs import is_alive
from tui_orch.engine.repository.worktrees import Workspace
from tui_orch.engine.run import events as ev
from tui_orch.engine.run.state import RunStore, TaskPhase
from tui_orch.launch_spec import Launch
from tui_orch.ui import line_index
from tui_orch.ui.app import OrchApp
from tui_orch.ui.line_index import LineIndex
from tui_orch.ui.messages import EngineEventArrived
from tui_orch.ui.screens.dashboard import DashboardScreen
from tui_orch.ui.screens.diff_viewer import SHOWN_DIFF_LINES, DiffScreen
from tui_orch.ui.screens.help import HelpModal
from tui_orch.ui.screens.log_viewer import LogScreen
from tui_orch.ui.screens.plan import PlanScreen
from tui_orch.ui.widgets.agent_pane import AgentPane
from tui_orch.ui.widgets.batch_table import BatchTable
from tui_orch.ui.widgets.log_view import LogView
from tui_orch.ui.widgets.run_tree import RunTree

SIZE = (120, 36)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def pane(app: object, task_id: str) -> AgentPane:
    dashboard = app.dashboard  # type: ignore[attr-defined]
    found = dashboard._pane(task_id)
    assert found is not None, f"no pane for {task_id}"
    return found


async def approve_every_batch(pilot: object, app: OrchApp) -> None:
    """Merge each batch and start the next, up to the final approval."""
    approvals = ("MergeApprovalScreen", "BatchApprovalScreen", "FinalApprovalScreen")
    while True:
        await wait_until(pilot, lambda: screen_name(app) in approvals)
        if screen_name(app) == "FinalApprovalScreen":
            return
        answered = app.screen
        await pilot.press("a")  # type: ignore[attr-defined]
        await wait_until(pilot, lambda answered=answered: app.screen is not answered)


async def test_a_whole_run_through_every_approval(make_app: MakeApp) -> None:
    setup = make_app(gated=False)
    app, repo = setup.app, setup.demo.repo
    base_before = git(repo, "rev-parse", "main")
    async with app.run_test(size=SIZE) as pilot:
        await at_plan(pilot, app)
        table = app.screen.query_one(BatchTable)
        assert table.row_count == 4
        await pilot.press("a")
        for batch in (1, 2, 3):
            await wait_until(pilot, lambda: screen_name(app) == "MergeApprovalScreen")
            assert app.screen.request.number == batch
            await pilot.press("a")
            if batch < 3:
                await wait_until(pilot, lambda: screen_name(app) == "BatchApprovalScreen")
                assert app.screen.request.number == batch + 1
                await pilot.press("a")
        await wait_until(pilot, lambda: screen_name(app) == "FinalApprovalScreen")
        await wait_until(pilot, lambda: bool(app.screen.query("#final-move")))  # composed
        assert "fast-forward 'main'" in str(app.screen.query_one("#final-move").render())
        await pilot.press("y")
        await wait_until(pilot, lambda: app.dashboard.facts.phase == "merged")
        assert all(pane(app, key).state in ("merged", "passed") for key in ["api", "validate"])
        assert app.dashboard.task_states == {
            "models": "merged",
            "docs": "merged",
            "service": "merged",
            "api": "merged",
            "validate": "passed",
        }
        tree = app.dashboard.query_one(RunTree)
        assert [str(node.label) for node in tree.root.children] == [
            "✔ batch 1",
            "✔ batch 2",
            "✔ batch 3",
        ]
    assert git(repo, "rev-parse", "main") != base_before
    assert (repo / "src/shop/api.py").exists()
    assert git(repo, "branch", "--format=%(refname:short)") == "main"
    assert len(git(repo, "worktree", "list").splitlines()) == 1


async def test_plan_screen_skips_a_task_and_its_dependents(make_app: MakeApp) -> None:
    setup = make_app(gated=False)
    app = setup.app
    async with app.run_test(size=SIZE) as pilot:
        await at_plan(pilot, app)
        table = app.screen.query_one(BatchTable)
        assert table.current_task_id == "models"
        await pilot.press("s")
        assert table.skipped == {"models"}
        # Its dependents are shown skipped with it, and the user is told.
        assert table.get_row("service")[-1] == "skipped: dependency"
        assert table.get_row("api")[-1] == "skipped: dependency"
        assert table.get_row("docs")[-1] == ""
        assert any(
            "Skipping 'models' also skips 'api', 'service'" in n.message for n in app._notifications
        )
        await pilot.press("down", "down")  # 'service', in batch 2: not skippable here
        await pilot.press("s")
        assert table.skipped == {"models"}
        await pilot.press("a")
        await wait_until(pilot, lambda: screen_name(app) == "MergeApprovalScreen")
        assert [o.task_id for o in app.screen.request.outcomes] == ["docs"]
        assert app.dashboard.task_states["models"] == "skipped"
        assert app.dashboard.task_states["service"] == "skipped"
        assert app.dashboard.task_states["api"] == "skipped"
        await pilot.press("a")
        await wait_until(pilot, lambda: screen_name(app) == "FinalApprovalScreen")
        await wait_until(pilot, lambda: bool(app.screen.query("#final-move")))  # composed
        move = str(app.screen.query_one("#final-move", Static).render())
        assert "tasks merged: docs" in move
        assert "⊘ models: skipped" in move and "⊘ api: skipped" in move
        await pilot.press("y")
        await wait_until(pilot, lambda: app.dashboard.facts.phase == "merged")
    assert (setup.demo.repo / "docs/usage.md").exists()
    assert not (setup.demo.repo / "src/shop/models.py").exists()


async def test_the_plan_approved_on_screen_runs_even_if_its_file_changed_since(
    make_app: MakeApp,
) -> None:
    """What the user saw checked and approved is what runs; an edit made to the file
    after it was shown (without `r` to re-check) changes nothing, and the run keeps the
    approved text as its plan."""
    setup = make_app()
    app = setup.app
    plan_file = setup.demo.plan
    approved = plan_file.read_text()
    async with app.run_test(size=SIZE) as pilot:
        await at_plan(pilot, app)
        changed = approved.replace("max_parallel: 4", "max_parallel: 1", 1)
        assert changed != approved
        plan_file.write_text(changed)
        await pilot.press("a")
        await wait_until(pilot, lambda: len(app.orchestrator.running_task_ids()) == 2)
        orchestrator = app.orchestrator
        assert orchestrator.plan.max_parallel != 1
        assert orchestrator.store.plan_copy(orchestrator.state.run_id).read_text() == approved
        setup.open_gate()


async def test_editing_the_plan_rechecks_it_and_shows_errors_with_lines(
    make_app: MakeApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = make_app()
    app = setup.app
    breaker = tmp_path / "break_plan.py"
    breaker.write_text(
        textwrap.dedent(
            """\
            import pathlib, sys
            path = pathlib.Path(sys.argv[1])
            text = path.read_text()
            if "max_paralel" in text:
                path.write_text(text.replace("max_paralel: 4", "max_parallel: 2"))
            else:
                path.write_text(text.replace("max_parallel: 4", "max_paralel: 4"))
            """
        )
    )
    monkeypatch.setenv("EDITOR", f"{sys.executable} {breaker}")
    monkeypatch.delenv("VISUAL", raising=False)
    async with app.run_test(size=SIZE) as pilot:
        await at_plan(pilot, app)
        await pilot.press("e")
        await wait_until(pilot, lambda: bool(app.screen.problems))
        problem_text = str(app.screen.query_one("#plan-problems").render())
        assert "plan.yaml:5: max_paralel: unknown field (did you mean 'max_parallel'?)" in (
            problem_text
        )
        assert app.screen.has_class("-invalid")
        await pilot.press("a")  # refused: the plan has problems
        assert screen_name(app) == "PlanScreen"
        await pilot.press("e")  # the "editor" fixes it
        await wait_until(pilot, lambda: app.screen.report is not None and not app.screen.problems)
        assert app.screen.report.plan.max_parallel == 2
        await pilot.press("q")
    assert app.return_code == 0


async def test_dashboard_keys_on_live_agents(make_app: MakeApp) -> None:
    setup = make_app(gated=True)
    app = setup.app
    async with app.run_test(size=SIZE) as pilot:
        await at_plan(pilot, app)
        await pilot.press("a")
        await wait_until(
            pilot,
            lambda: all(
                any("go-ahead" in line for line in pane(app, key).lines)
                for key in ("models", "docs")
            ),
        )
        dashboard = app.dashboard
        assert [p.task_id for p in dashboard.query(AgentPane)] == ["models", "docs"]
        assert pane(app, "models").state == "running"
        assert "2 running" in str(dashboard.query_one("#status-bar").render())

        await pilot.press("2")
        assert dashboard.selected_task() == "docs"
        await pilot.press("z")
        assert dashboard.zoomed is pane(app, "docs")
        assert not pane(app, "models").display  # docs alone, over the whole pane area
        assert pane(app, "docs").region.width > dashboard.query_one("#pane-grid").size.width - 3
        await pilot.press("z")
        assert dashboard.zoomed is None and pane(app, "models").display
        assert pane(app, "docs").region.width < dashboard.query_one("#pane-grid").size.width / 2 + 2

        await pilot.press("l")
        assert isinstance(app.screen, LogScreen)
        view = app.screen.query_one(LogView)
        await wait_until(pilot, lambda: view.line_count >= 10)
        assert view.line_text(0) == "> task docs: 3 files to write"
        await pilot.press("slash")
        await pilot.press(*"wrote", "enter")
        assert len(view.matches) == 3
        assert view.line_text(view.matches[0]).startswith("  wrote docs/usage.md")
        await pilot.press("n")
        assert view.match_index == 1
        await pilot.press("N", "N")
        assert view.match_index == 2  # wraps around
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)

        await pilot.press("1", "d")  # models is still running: its files are uncommitted
        assert isinstance(app.screen, DiffScreen)
        await wait_until(pilot, lambda: len(app.screen.changes) == 3)
        assert [c.path for c in app.screen.changes] == [
            "src/shop/models.py",
            "src/shop/money.py",
            "tests/test_models.py",
        ]
        await pilot.press("escape")

        await pilot.press("1", "x")  # stop models: asked first
        assert screen_name(app) == "ConfirmModal"
        await pilot.press("n")  # not after all
        assert pane(app, "models").state == "running"
        await pilot.press("x", "y")
        await wait_until(pilot, lambda: pane(app, "models").state == "stopped")
        worktree = Path(app.orchestrator.state.tasks["models"].worktree)
        assert (worktree / "src/shop/money.py").exists()
        assert pane(app, "docs").state == "running"  # only the one agent stopped

        setup.open_gate()  # docs finishes: the merge question lists models as stopped
        await wait_until(pilot, lambda: screen_name(app) == "MergeApprovalScreen")
        merge = app.screen
        await wait_until(pilot, lambda: merge.query_one("#merge-table").row_count == 2)
        assert merge.request.failed == {"models": "stopped"}
        assert merge.query_one("#merge-table").get_row("models")[1].plain == "stopped: left out"
        store = RunStore(Workspace(setup.demo.repo).common)
        assert store.load(app.orchestrator.state.run_id).tasks["models"].reason == "stopped"

        await pilot.press("escape", "1", "r")  # from the panes: restart models only
        await wait_until(pilot, lambda: app.orchestrator.state.tasks["models"].attempts == 2)
        await wait_until(
            pilot,
            lambda: screen_name(app) == "MergeApprovalScreen" and not app.screen.request.failed,
        )
        assert {o.task_id for o in app.screen.request.outcomes} == {"models", "docs"}
        await pilot.press("s")  # stop before merging; branches kept
        await wait_until(pilot, lambda: app.dashboard.facts.phase == "aborted")


async def test_r_restarts_the_focused_task_while_the_others_run(make_app: MakeApp) -> None:
    setup = make_app(gated=True)
    app = setup.app
    async with app.run_test(size=SIZE) as pilot:
        await start_batch_one(pilot, app)
        await wait_until(pilot, lambda: pane(app, "models").line_count > 0)
        footer_keys = lambda: {b.binding.key for b in app.screen.active_bindings.values()}  # noqa: E731
        await pilot.press("1")
        assert "x" in footer_keys() and "r" not in footer_keys()  # running: stop, not restart
        await pilot.press("x", "y")
        await wait_until(pilot, lambda: pane(app, "models").state == "stopped")
        assert "r" in footer_keys() and "x" not in footer_keys()
        docs = app.orchestrator.state.tasks["docs"]
        await pilot.press("r")  # docs still runs (held at the gate): models starts again now
        await wait_until(pilot, lambda: pane(app, "models").state == "running")
        assert app.orchestrator.state.tasks["models"].attempts == 2
        assert docs.phase.value == "running" and docs.attempts == 1
        tree = app.dashboard.query_one("#run-tree")
        assert "running" in tree._labels["docs"]  # the others keep their state words
        setup.open_gate()
        await wait_until(pilot, lambda: screen_name(app) == "MergeApprovalScreen")
        merge = app.screen
        assert not merge.request.failed
        assert {o.task_id for o in merge.request.outcomes} == {"models", "docs"}
        await pilot.press("s")
        await wait_until(pilot, lambda: app.dashboard.facts.phase == "aborted")


async def test_quit_while_agents_run_asks_and_can_leave_them_running(make_app: MakeApp) -> None:
    setup = make_app(gated=True)
    app = setup.app
    async with app.run_test(size=SIZE) as pilot:
        await start_batch_one(pilot, app)
        await pilot.press("q")
        assert screen_name(app) == "QuitModal"
        await pilot.press("c")
        assert isinstance(app.screen, DashboardScreen)
        await pilot.press("q", "d")
    run = app.orchestrator.state
    store = RunStore(Workspace(setup.demo.repo).common)
    # The app is gone; its agents are not: they wait at their gate, under their supervisors.
    assert store.load(run.run_id).tasks["models"].phase is TaskPhase.RUNNING
    assert all(is_alive(store.load(run.run_id).tasks[t].handle) for t in ("models", "docs"))


async def test_quit_and_stop_agents(make_app: MakeApp) -> None:
    setup = make_app(gated=True)
    app = setup.app
    async with app.run_test(size=SIZE) as pilot:
        await start_batch_one(pilot, app)
        await pilot.press("q", "s")
        await wait_until(pilot, lambda: not app.is_running, timeout=20)
    store = RunStore(Workspace(setup.demo.repo).common)
    state = store.load(app.orchestrator.state.run_id)
    assert state.outcome == "interrupted"
    assert {t.reason for t in state.tasks.values() if t.batch == 1} == {"stopped"}
    assert app.return_code == 130


async def test_help_lists_the_keys_of_the_screen(make_app: MakeApp) -> None:
    setup = make_app()
    app = setup.app
    async with app.run_test(size=SIZE) as pilot:
        await at_plan(pilot, app)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpModal)
        assert "edit the plan in `$EDITOR`" in app.screen.screen_help
        await pilot.press("escape")
        assert isinstance(app.screen, PlanScreen)


async def test_the_palette_offers_what_applies_once_with_keys_as_typed(make_app: MakeApp) -> None:
    setup = make_app()
    app = setup.app
    async with app.run_test(size=SIZE) as pilot:
        await start_batch_one(pilot, app)
        await pilot.press("1")
        commands = {command.title: command.help for command in app.get_system_commands(app.screen)}
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert len(titles) == len(set(titles))  # each once: no second quit
        assert commands["Open the task's full log"] == "key l"
        assert commands["Help for this screen"] == "key ?"  # not question_mark,f1
        assert commands["Stop the task's agent"] == "key x"
        assert "Restart the failed task in its worktree" not in commands  # nothing failed
        assert "Open the approval the run is waiting for" not in commands  # nothing waits
        assert commands["Go to pane 2: docs"] == "key 2"
        assert "Theme" in commands and "Quit" not in commands  # Textual's quit never asked
        await pilot.press("ctrl+p")
        await pilot.press(*"full log")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, LogScreen))


async def test_output_reaches_panes_in_batches(make_app: MakeApp) -> None:
    setup = make_app(gated=False, task_agents={"models": ["--flood", "20000"]})
    app = setup.app
    deliveries: list[tuple[str, int]] = []
    show_output = app.dashboard.show_output

    def counting(key, pending):  # type: ignore[no-untyped-def]
        deliveries.append((key, pending.count))
        show_output(key, pending)

    app.dashboard.show_output = counting  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await at_plan(pilot, app)
        await pilot.press("a")
        await wait_until(pilot, lambda: screen_name(app) == "MergeApprovalScreen")
        models = [count for key, count in deliveries if key == "models"]
        assert sum(models) == pane(app, "models").line_count >= 20000
        # Lines arrive in batches, one delivery per frame at most, never one per line.
        assert 0 < len(models) < sum(models) / 100
        assert len(pane(app, "models").lines) <= 400


async def test_live_conflicts_show_in_panel_badges_and_the_merge_screen(make_app: MakeApp) -> None:
    setup = make_app(
        gated=True,
        task_agents={
            "models": ["--edit-unowned", "README.md"],
            "docs": ["--edit-unowned", "README.md"],
        },
        conflicts={"interval": "0.2s", "overlap": "warn"},
    )
    app = setup.app
    async with app.run_test(size=SIZE) as pilot:
        await at_plan(pilot, app)
        await pilot.press("a")
        panel = app.dashboard.query_one("#conflicts-panel")
        # Seen while both agents still run (they wait at the gate).
        await wait_until(pilot, lambda: len(panel.rows_by_key) == 4)
        assert len(app.orchestrator.running_task_ids()) == 2
        assert {key[0] for key in panel.rows_by_key} == {"unowned_edit", "overlap", "predicted"}
        assert panel.display
        # Blocking ones first, then by kind and tasks, whatever order they were found in.
        shown = [
            (
                str(panel.get_cell_at((row, 1))),
                panel.get_cell_at((row, 0)),
                panel.get_cell_at((row, 2)),
            )
            for row in range(panel.row_count)
        ]
        assert shown == sorted(shown, key=lambda row: (row[0] != "block", row[1], row[2]))
        assert shown[0][0] == "block"
        models = pane(app, "models")
        assert "not its file: README.md" in models.badges
        assert "will conflict: README.md" in models.badges
        assert models.has_class("-conflict")
        # Four conflicts, one toast: the rest are counted, and the panel lists them all.
        conflict_toasts = [n for n in app._notifications if n.title.endswith(("(block)", "(warn)"))]
        assert len(conflict_toasts) == 1
        assert app.dashboard.toasts.kinds["conflicts"].held == 3
        # The status bar counts what the panel lists (four rows), not tasks.
        assert "⚠ 4 conflicts" in str(app.dashboard.query_one("#status-bar").render())

        setup.open_gate()
        await wait_until(pilot, lambda: screen_name(app) == "MergeApprovalScreen")
        merge = app.screen
        await wait_until(pilot, lambda: merge.query_one("#merge-table").row_count >= 2)
        assert set(merge.request.blocked) == {"models", "docs"}
        assert merge.excluded == {"models", "docs"}  # blocked tasks start held back
        x_label = lambda: app.screen.active_bindings["x"].binding.description  # noqa: E731
        outcome = lambda: str(merge.query_one("#merge-outcome").render())  # noqa: E731
        # Before `a`, the screen says what happens to the tasks held back.
        assert "the run goes on without models, docs" in outcome()
        assert x_label() == "Merge anyway"  # on a blocked row, x says what it does there
        await pilot.press("x")  # include 'models': the approval naming its problem
        assert merge.excluded == {"docs"}
        assert x_label() == "Leave out"
        assert "a: merge models into" in outcome()
        table = merge.query_one("#merge-table")
        table.move_cursor(row=table.get_row_index("docs"))
        await pilot.press("x")  # both sides of a predicted conflict: warned
        assert "models and docs are predicted to conflict in README.md" in outcome()
        await pilot.press("x")  # docs out again: no warning
        assert "predicted to conflict" not in outcome()
        assert "the run goes on without docs" in outcome()
        await pilot.press("a")
        await approve_every_batch(pilot, app)  # the run went on without docs
        final = str(app.screen.query_one("#final-move").render())
        assert "docs: excluded" in final
        await pilot.press("y")
        await wait_until(pilot, lambda: app.dashboard.facts.phase == "merged")
    state = app.orchestrator.state
    assert state.tasks["models"].phase.value == "merged"
    assert state.tasks["docs"].phase.value == "excluded"
    assert "kept" in state.message  # docs's branch holds unmerged work: kept, and said so
    assert git(setup.demo.repo, "branch", "--list", state.tasks["docs"].branch)


async def test_the_remaining_keys_of_every_screen(make_app: MakeApp) -> None:
    """tab, log f/g/G, merge d, batch approval s/x, final n: each does what it says."""
    setup = make_app(gated=True)
    app = setup.app
    async with app.run_test(size=SIZE) as pilot:
        await at_plan(pilot, app)
        await pilot.press("r")  # re-check: still the same good plan
        await wait_until(pilot, lambda: app.screen.report is not None)
        await pilot.press("a")
        await wait_until(pilot, lambda: len(app.orchestrator.running_task_ids()) == 2)
        await wait_until(pilot, lambda: app.dashboard._pane("docs") is not None)
        await pilot.press("1")
        assert app.dashboard.selected_task() == "models"
        await pilot.press("tab")
        assert app.dashboard.selected_task() == "docs"

        await pilot.press("l")
        view = app.screen.query_one(LogView)
        await wait_until(pilot, lambda: view.line_count > 5)
        assert view.follow
        await pilot.press("f")
        assert not view.follow
        await pilot.press("g")
        assert view.scroll_offset.y == 0
        await pilot.press("G", "escape")

        setup.open_gate()
        await wait_until(pilot, lambda: screen_name(app) == "MergeApprovalScreen")
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, DiffScreen))
        await wait_until(pilot, lambda: len(app.screen.changes) == 3)
        await pilot.press("escape")
        await pilot.press("a")
        await wait_until(pilot, lambda: screen_name(app) == "BatchApprovalScreen")
        batch = app.screen
        await pilot.press("s")
        assert batch.query_one(BatchTable).skipped == {"service"}
        await pilot.press("s")  # un-skip
        assert batch.query_one(BatchTable).skipped == set()
        await pilot.press("x")  # stop the run here
        await wait_until(pilot, lambda: app.dashboard.facts.phase == "aborted")
    state = app.orchestrator.state
    assert state.batch_index == 1 and state.phase.value == "aborted"
    assert "stopped before batch 2 at your request" in state.message


async def test_final_approval_can_say_not_now(make_app: MakeApp) -> None:
    setup = make_app(gated=False)
    app, repo = setup.app, setup.demo.repo
    before = git(repo, "rev-parse", "main")
    async with app.run_test(size=SIZE) as pilot:
        await at_plan(pilot, app)
        await pilot.press("a")
        await approve_every_batch(pilot, app)
        await pilot.press("n")
        # Not aborted: the validated result waits for its merge (as `status` says).
        await wait_until(pilot, lambda: app.dashboard.facts.phase == "awaiting-merge")
    assert git(repo, "rev-parse", "main") == before
    assert app.orchestrator.state.phase.value == "awaiting-merge"
    integration = app.orchestrator.state.integration_branch
    assert git(repo, "branch", "--list", integration)


async def test_the_footer_keeps_its_keys_across_panes(
    make_app: MakeApp,
) -> None:
    """Tab between panes leaves the footer as it is (no rebuild while agents stream); back
    from another screen it shows the dashboard's keys again."""
    setup = make_app()
    app = setup.app
    async with app.run_test(size=SIZE) as pilot:
        await start_batch_one(pilot, app)
        dashboard = app.dashboard
        await wait_until(pilot, lambda: isinstance(app.focused, AgentPane))
        await pilot.pause()
        keys_before = list(dashboard.query(FooterKey))
        assert "Stop agent" in [key.description for key in keys_before]
        await pilot.press("tab")
        await wait_until(pilot, lambda: app.focused is pane(app, "docs"))
        await pilot.pause()
        assert list(dashboard.query(FooterKey)) == keys_before  # the same widgets
        app.push_screen(HelpModal("help"))
        await wait_until(pilot, lambda: screen_name(app) == "HelpModal")
        await pilot.press("escape")
        await wait_until(pilot, lambda: screen_name(app) == "DashboardScreen")
        await pilot.pause()
        assert [key.description for key in dashboard.query(FooterKey)] == [
            key.description for key in keys_before
        ]


async def test_sixteen_new_panes_appear_four_per_frame() -> None:
    """Drawing sixteen new panes at once holds the screen for one long frame; the first
    four show at once and the others over the next frames, and all of them end up shown."""
    app = OrchApp(Launch())  # the dashboard alone, fed the engine's events by hand
    task_ids = [f"task-{number}" for number in range(1, 17)]
    async with app.run_test(size=(200, 60)) as pilot:
        dashboard = app.dashboard
        start_run_by_hand(dashboard, [task_ids], "flood")
        event = ev.BatchStarted(run_id="r", number=1, total=1, task_ids=tuple(task_ids))
        dashboard.apply_event(EngineEventArrived(event))
        panes = [dashboard.panes[task_id] for task_id in task_ids]
        assert [pane.visible for pane in panes] == [True] * 4 + [False] * 12
        shown: list[int] = []  # how many panes are shown after each screen refresh

        def count() -> None:
            shown.append(sum(pane.visible for pane in panes))
            if shown[-1] < len(panes) and len(shown) < 20:
                app.call_after_refresh(count)

        app.call_after_refresh(count)
        await wait_until(pilot, lambda: bool(shown) and shown[-1] == len(panes))
        # Never more than four new panes drawn by one refresh.
        steps = [after - before for before, after in zip([4, *shown], shown, strict=False)]
        assert all(0 <= step <= 4 for step in steps), shown
        # The next batch reuses the panes: none of them is hidden again.
        event = ev.BatchStarted(run_id="r", number=2, total=2, task_ids=tuple(task_ids[:6]))
        dashboard.apply_event(EngineEventArrived(event))
        assert all(pane.visible for pane in dashboard.panes.values())


async def test_a_search_follows_a_growing_log(tmp_path: Path) -> None:
    """While the agent still writes, new lines that match join the matches, including a
    line that was half written when searched; nothing else is searched again."""
    log = tmp_path / "agent.log"
    log.write_bytes(b"start\nfound one\nhalf a li")
    app = OrchApp(Launch())
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(LogScreen("Log  agent", log))
        await pilot.pause()
        view = app.screen.query_one(LogView)
        await pilot.press("slash", *"FOUND", "enter")
        assert view.matches == [1]
        with open(log, "ab") as writer:
            writer.write(b"ne, found\nnothing\nfound three\n")
        await wait_until(pilot, lambda: view.line_count == 5)
        assert view.matches == [1, 2, 4]
        assert view.line_text(2) == "half a line, found"


async def test_a_huge_diff_shows_its_start_and_says_where_the_rest_is(repo: Path) -> None:
    """An agent that wrote a 5,000-line file: the diff shows the first lines, then one line
    naming the file, instead of highlighting all of it while the screen waits."""
    start = git(repo, "rev-parse", "HEAD")
    generated = repo / "generated.py"
    generated.write_text("".join(f"value_{n} = {n}\n" for n in range(5000)))
    app = OrchApp(Launch())
    async with app.run_test(size=SIZE) as pilot:
        screen = DiffScreen("gen", repo, start)
        app.push_screen(screen)
        await wait_until(pilot, lambda: len(screen.changes) == 1)
        text = screen.query_one("#diff-text", Static)

        def shown() -> list[str]:
            return str(getattr(text.content, "code", "")).splitlines()

        await wait_until(pilot, lambda: len(shown()) > 1)
        shown_lines = shown()
        assert len(shown_lines) == SHOWN_DIFF_LINES + 1
        assert "+value_0 = 0" in shown_lines
        assert shown_lines[-1].endswith(f"more lines not shown; the file: {generated}")


async def test_a_large_log_is_indexed_over_several_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log larger than one step of indexing is indexed a bounded step at a time (no
    long frame), and ends up whole, scrolled to its end (follow mode)."""
    monkeypatch.setattr(line_index, "INDEX_PER_CALL", 4096)
    steps: list[int] = []
    extend = LineIndex.extend

    def counting_extend(index: LineIndex, *args: object, **kwargs: object) -> bool:
        before = index.indexed
        grew = extend(index, *args, **kwargs)  # type: ignore[arg-type]
        steps.append(index.indexed - before)
        return grew

    monkeypatch.setattr(LineIndex, "extend", counting_extend)
    log = tmp_path / "agent.log"
    log.write_text("".join(f"line {n}\n" for n in range(20_000)))  # about 170 KB
    app = OrchApp(Launch())
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(LogScreen("Log  agent", log))
        await pilot.pause()
        view = app.screen.query_one(LogView)
        await wait_until(pilot, lambda: view.line_count == 20_000)
        await wait_until(pilot, lambda: view.scroll_offset.y == view.max_scroll_y > 0)
        assert view.line_text(19_999) == "line 19999"
    assert max(steps) <= 4096
    assert sum(steps) == log.stat().st_size


async def test_a_task_that_changed_nothing_shows_as_such_and_on_the_merge_screen(
    make_app: MakeApp,
) -> None:
    setup = make_app(gated=True, task_agents={"docs": ["--no-changes"]})
    app = setup.app
    async with app.run_test(size=SIZE) as pilot:
        await start_batch_one(pilot, app)
        setup.open_gate()
        await wait_until(pilot, lambda: screen_name(app) == "MergeApprovalScreen")
        assert pane(app, "docs").state == "no-changes"
        assert "∅ docs" in pane(app, "docs").header.plain
        assert "no changes" in pane(app, "docs").header.plain
        assert pane(app, "docs").has_class("-no-changes")
        merge = app.screen
        # Composed and filled as it mounts, after the screen is pushed.
        await wait_until(pilot, lambda: merge.query_one("#merge-table").row_count == 2)
        table = merge.query_one("#merge-table")
        assert table.get_row("docs")[1].plain == "no changes: nothing to merge"
        assert table.get_row("models")[1].plain == "will merge"
        table.move_cursor(row=table.get_row_index("docs"))
        await pilot.pause()
        detail = str(merge.query_one("#merge-detail").render())
        assert "docs: its agent exited 0 without changing a file; its last lines:" in detail
        assert "> task docs: done, 0 files written" in detail
        await pilot.press("a")
        await wait_until(pilot, lambda: screen_name(app) == "BatchApprovalScreen")
        tree_labels = [str(node.label) for node in app.dashboard.query_one(RunTree).root.children]
        assert tree_labels[0].startswith("✔ batch 1")  # a task with no changes is done too
    state = app.orchestrator.state
    assert state.tasks["docs"].phase is TaskPhase.NO_CHANGES
    assert state.tasks["models"].phase is TaskPhase.MERGED


def resume_app(setup: object) -> OrchApp:
    """The app as `tui-orch resume RUN` opens it, on the run the first app left."""
    from tests.ui.conftest import RUN_ID

    demo = setup.demo  # type: ignore[attr-defined]
    options = setup.app.launch.options  # type: ignore[attr-defined]
    return OrchApp(Launch(repo=demo.repo, resume_run_id=RUN_ID, resume=True, options=options))


async def test_resume_in_the_app_after_stopping_at_the_merge_screen(make_app: MakeApp) -> None:
    setup = make_app(gated=False)
    app = setup.app
    async with app.run_test(size=SIZE) as pilot:
        await at_plan(pilot, app)
        await pilot.press("a")
        await wait_until(pilot, lambda: screen_name(app) == "MergeApprovalScreen")
        await pilot.press("s")
        await wait_until(pilot, lambda: app.dashboard.facts.phase == "aborted")

    resumed = resume_app(setup)
    async with resumed.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: screen_name(resumed) == "MergeApprovalScreen")
        tree = resumed.dashboard.query_one(RunTree)
        assert "models" in str(tree.root.children[0].children[0].label)
        await pilot.press("a")
        await wait_until(pilot, lambda: screen_name(resumed) == "BatchApprovalScreen")
    state = resumed.orchestrator.state
    assert {state.tasks[t].phase for t in ("models", "docs")} == {TaskPhase.MERGED}


async def test_resume_in_the_app_after_not_now_and_after_detaching(make_app: MakeApp) -> None:
    setup = make_app(gated=True)
    app = setup.app
    async with app.run_test(size=SIZE) as pilot:
        await start_batch_one(pilot, app)
        await pilot.press("q", "d")  # leave the agents running

    resumed = resume_app(setup)
    async with resumed.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: resumed.orchestrator is not None)
        await wait_until(pilot, lambda: len(resumed.orchestrator.running_task_ids()) == 2)
        assert resumed.dashboard.task_states["models"] == "running"
        setup.open_gate()
        await approve_every_batch(pilot, resumed)
        await pilot.press("n")
        await wait_until(pilot, lambda: resumed.dashboard.facts.phase == "awaiting-merge")

    again = resume_app(setup)
    async with again.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: screen_name(again) == "FinalApprovalScreen")
        await pilot.press("y")
        await wait_until(pilot, lambda: again.dashboard.facts.phase == "merged")
    assert git(setup.demo.repo, "show", "main:src/shop/api.py")


async def test_the_quit_question_is_readable_at_80x24_and_the_palette_asks_it(
    make_app: MakeApp,
) -> None:
    setup = make_app(gated=True)
    app = setup.app
    async with app.run_test(size=(80, 24)) as pilot:
        await start_batch_one(pilot, app)
        await pilot.press("q")
        assert screen_name(app) == "QuitModal"
        body = app.screen.query_one("#quit-body")
        assert body.size.width >= 70  # was 6 columns: the choices off screen
        shown = "\n".join(
            str(static.render()) for static in app.screen.query(Static) if static.size.width
        )
        for choice in ("d  quit and leave them running", "s  stop them", "c  cancel"):
            assert choice in shown
        assert body.region.right <= 80 and body.region.bottom <= 24
        await pilot.press("c")
        await app.action_quit()  # what the palette's "Quit" runs
        await pilot.pause()
        assert screen_name(app) == "QuitModal"
        await pilot.press("d")


async def test_a_task_that_ran_out_of_time_says_timed_out(make_app: MakeApp) -> None:
    import yaml

    setup = make_app(gated=False, task_agents={"docs": ["--hang"]})
    plan = yaml.safe_load(setup.demo.plan.read_text())
    next(t for t in plan["tasks"] if t["id"] == "docs")["timeout"] = "1s"
    setup.demo.plan.write_text(yaml.safe_dump(plan, sort_keys=False))
    app = setup.app
    async with app.run_test(size=SIZE) as pilot:
        await at_plan(pilot, app)
        await pilot.press("a")
        await wait_until(pilot, lambda: app.dashboard.task_states.get("docs") == "timed-out")
        await pilot.pause(0.2)
        docs = pane(app, "docs")
        assert "⏱ docs" in docs.header.plain and "timed out" in docs.header.plain
        assert docs.has_class("-timed-out")
        tree = app.dashboard.query_one(RunTree)
        assert "timed out" in str(tree.root.children[0].children[1].label)
        # The merge question says so too, and the run can go on without it.
        await wait_until(pilot, lambda: screen_name(app) == "MergeApprovalScreen")
        assert app.screen.request.failed == {"docs": "timed out"}


async def test_enter_on_the_plan_screen_starts_the_run(make_app: MakeApp) -> None:
    setup = make_app(gated=True)
    app = setup.app
    async with app.run_test(size=SIZE) as pilot:
        await at_plan(pilot, app)
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(app.orchestrator.running_task_ids()) == 2)
        assert isinstance(app.screen, DashboardScreen)
        await pilot.press("q", "s")


async def test_blocking_problems_are_listed_one_per_line_as_plain_text() -> None:
    from textual.app import App

    from tui_orch.engine.run.approvals import ProblemsRequest
    from tui_orch.ui.screens.problems import ProblemsScreen

    problems = ("src/a.py imports [b] from src/b.py, which is gone", "src/c.py does not compile")
    screen = ProblemsScreen(ProblemsRequest("run", "interfaces", problems))

    class Host(App[None]):
        def on_mount(self) -> None:
            self.push_screen(screen)

    async with Host().run_test(size=SIZE) as pilot:
        await pilot.pause()
        shown = str(screen.query_one("#problems-list", Static).render())
    assert shown.splitlines() == [f"⚠ {problem}" for problem in problems]


async def test_an_approval_waits_and_never_takes_keys_typed_for_a_search(
    make_app: MakeApp,
) -> None:
    from textual.widgets import Input

    setup = make_app(gated=True)
    app = setup.app
    async with app.run_test(size=SIZE) as pilot:
        await start_batch_one(pilot, app)
        await pilot.press("1", "l", "slash", *"mod")
        assert screen_name(app) == "LogScreen"
        setup.open_gate()  # batch 1 ends: the merge approval arrives mid-search
        await wait_until(pilot, lambda: app.pending_approvals == 1)
        assert any(n.title == "approval waiting" for n in app._notifications)
        await pilot.press(*"els", "a", "a")
        search = app.screen.query_one("#log-search", Input)
        assert screen_name(app) == "LogScreen"
        assert search.value == "modelsaa"  # every key went where it was typed
        assert app.orchestrator.state.tasks["models"].phase is TaskPhase.SUCCEEDED
        await pilot.press("escape", "escape")  # close the search, then the log
        assert isinstance(app.screen, DashboardScreen)
        bar = str(app.dashboard.query_one("#status-bar").render())
        assert "approval waiting: press a" in bar
        await pilot.press("a")
        assert screen_name(app) == "MergeApprovalScreen"
        await pilot.press("escape")  # later: back to the panes, the question still waits
        assert isinstance(app.screen, DashboardScreen)
        assert app.pending_approvals == 1
        await pilot.press("a", "a")  # open it again, and merge
        await wait_until(pilot, lambda: screen_name(app) == "BatchApprovalScreen")
    state = app.orchestrator.state
    assert {state.tasks[t].phase for t in ("models", "docs")} == {TaskPhase.MERGED}


def write_user_config(text: str) -> Path:
    """The user's own config file (under this test's XDG_CONFIG_HOME), as they wrote it."""
    from tui_orch.engine.plans.config import user_config_path

    config = user_config_path()
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(text)
    return config


async def test_a_light_theme_gives_a_light_diff_and_is_remembered(make_app: MakeApp) -> None:
    config = write_user_config("# my settings\nconfirm_stop: true\n")
    setup = make_app(gated=True)
    app = setup.app
    async with app.run_test(size=SIZE) as pilot:
        await start_batch_one(pilot, app)
        await wait_until(pilot, lambda: pane(app, "models").line_count > 3)
        await pilot.press("1", "d")
        await wait_until(pilot, lambda: app.screen.diff_text is not None)
        assert app.screen.syntax_theme == "ansi_dark"
        app.theme = "textual-light"  # as the palette's Theme entry does
        await wait_until(pilot, lambda: app.screen.syntax_theme == "ansi_light")
        await wait_until(pilot, lambda: "theme: textual-light" in config.read_text())
    # Saved beside the user's own lines, and the next app starts with it.
    assert config.read_text() == "# my settings\nconfirm_stop: true\ntheme: textual-light\n"
    again = make_app(gated=True)
    async with again.app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert again.app.theme == "textual-light"
        await pilot.press("q")


async def test_confirm_stop_false_makes_x_stop_without_asking(make_app: MakeApp) -> None:
    write_user_config("confirm_stop: false\n")
    setup = make_app(gated=True)
    app = setup.app
    async with app.run_test(size=SIZE) as pilot:
        await start_batch_one(pilot, app)
        await pilot.press("1", "x")
        assert screen_name(app) == "DashboardScreen"  # no question
        await wait_until(pilot, lambda: pane(app, "models").state == "stopped")
        await pilot.press("q", "s")
