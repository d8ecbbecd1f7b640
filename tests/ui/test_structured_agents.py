"""A structured agent (Claude Code's stream, recorded) in the app: the merge question
says what it was refused and what it said last, so refused work never looks fine."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.run_helpers import script_agent, write_plan
from tests.ui.conftest import screen_name, wait_until
from tui_orch.engine.run.orchestrator import RunOptions
from tui_orch.launch_spec import Launch
from tui_orch.ui.app import OrchApp

SAMPLE = Path(__file__).parent.parent / "samples" / "claude" / "refused_under_dot_git.jsonl"


async def test_the_merge_question_lists_refused_tool_calls_and_the_final_message(
    repo: Path, tmp_path: Path
) -> None:
    agent = script_agent(
        tmp_path,
        "replay",
        f"""
        import json
        recorded = pathlib.Path({str(SAMPLE)!r}).read_text().splitlines()
        for line in recorded:
            print(line, flush=True)
        for name in FILES:
            pathlib.Path(name).write_text("some of the work\\n")
        """,
    )
    plan = write_plan(tmp_path / "plan.yaml", [{"id": "alpha", "files": ["a.txt"]}], {"c": agent})
    data = yaml.safe_load(plan.read_text())
    data["agents"]["c"]["format"] = "claude-stream-json"
    plan.write_text(yaml.safe_dump(data))

    app = OrchApp(Launch(plan=plan, repo=repo, options=RunOptions(poll_interval=0.05)))
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: screen_name(app) == "PlanScreen" and app.screen.report)
        await pilot.press("a")
        await wait_until(pilot, lambda: screen_name(app) == "MergeApprovalScreen")
        merge = app.screen
        await wait_until(pilot, lambda: merge.query_one("#merge-table").row_count == 1)
        row = merge.query_one("#merge-table").get_row("alpha")
        assert "⚠ 2 tool calls refused" in str(row[-1])
        detail = str(merge.query_one("#merge-detail").render())
        assert "⚠ 2 tool calls refused:" in detail
        assert "Write src/alpha.py: Claude requested permissions to edit" in detail
        assert "its final message:\n    done" in detail
        assert "reported cost: $0.0006" in detail
        pane = app.dashboard.panes["alpha"]
        assert "⚠ 2 tool calls refused" in pane.badge_row.plain


async def test_a_structured_agent_s_log_reads_as_its_pane_and_r_shows_the_raw_stream(
    tmp_path: Path,
) -> None:
    from tui_orch.ui.screens.log_viewer import LogScreen
    from tui_orch.ui.widgets.log_view import LogView

    log = tmp_path / "alpha.log"
    log.write_text((SAMPLE.parent / "write_two_files.jsonl").read_text())
    app = OrchApp(Launch())
    async with app.run_test(size=(120, 30)) as pilot:
        app.push_screen(LogScreen("Log  alpha", log, "claude-stream-json"))
        await wait_until(pilot, lambda: app.screen.query_one(LogView).line_count == 7)
        first = app.screen
        view = first.query_one(LogView)
        await pilot.pause()
        shown = [view.line_text(number) for number in range(7)]
        assert shown[1:3] == ["→ Write src/alpha.py", "→ Write docs/alpha.md"]
        assert shown[-1] == "✔ done"
        await pilot.press("r")
        assert view.raw and view.line_text(1).startswith('{"type":"assistant"')
        await pilot.press("r")
        assert view.line_text(1) == "→ Write src/alpha.py"

        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is not first)
        app.push_screen(LogScreen("Log  text", log))  # a text agent's log: no `r`
        await wait_until(pilot, lambda: screen_name(app) == "LogScreen")
        assert app.screen.check_action("toggle_raw", ()) is False
