"""The real Codex and Gemini CLIs as tui-orch agents, against the scripted model server.

Each CLI runs unchanged through tui-orch's built-in profile (`codex exec --json
--sandbox workspace-write`, `gemini -p ... --output-format stream-json --approval-mode
auto_edit`): its own prompt handling, sandbox or workspace checks, and file tools (Codex's
`apply_patch`, Gemini's `write_file`). Only the model is replaced, by the server on
127.0.0.1 speaking the OpenAI Responses API (Codex) or the Gemini API (Gemini CLI). So
these tests prove that what the real CLIs write in their worktrees reaches `main`, that
their streams read as lines, and that a retry continues the same conversation.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import git, run_cli
from tests.real_agents import REAL_AGENTS, RealAgent
from tests.run_helpers import head, run_plan
from tests.scripted_model_server import ScriptedModelServer, file_content

TASKS = {
    "alpha": ["src/alpha.py", "docs/alpha.md"],
    "beta": ["src/beta.py"],
    "gamma": ["notes/gamma.txt"],
}
# How each CLI's file writes read in its pane.
WRITE_LINE = {"codex": "→ Add src/alpha.py", "gemini": "→ Write src/alpha.py"}


@pytest.fixture(params=["codex", "gemini"])  # Claude Code: tests/test_real_claude.py
def agent(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> RealAgent:
    """Each CLI in turn; none of the developer's own keys or endpoints reach it."""
    for name in list(os.environ):
        if name.startswith(("OPENAI_", "CODEX_", "GEMINI_", "GOOGLE_")):
            monkeypatch.delenv(name)
    return REAL_AGENTS[request.param]


@pytest.fixture
def model(tmp_path: Path) -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer(log_path=tmp_path / "requests.jsonl") as server:
        yield server


def plan_for(agent: RealAgent, tmp_path: Path, model: ScriptedModelServer) -> Path:
    cli = agent.find()
    env = agent.configure(tmp_path / "home", model)
    return agent.write_plan(tmp_path / "plan.yaml", cli, env, TASKS)


def task_rows(repo: Path) -> dict[str, dict[str, object]]:
    status = run_cli("status", "--repo", str(repo), "--json", cwd=repo)
    return {task["id"]: task for task in json.loads(status.stdout)["runs"][-1]["tasks"]}


def test_real_cli_edits_are_merged_into_main(
    agent: RealAgent,
    repo: Path,
    tmp_path: Path,
    model: ScriptedModelServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    plan = plan_for(agent, tmp_path, model)
    before = head(repo)

    result = run_plan(plan, repo)

    debug = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}\nrequests: {model.log_path}"
    assert result.code == 0, debug
    assert head(repo) != before, debug
    for task, files in TASKS.items():
        for relative in files:
            assert git(repo, "show", f"main:{relative}") + "\n" == file_content(task, relative)
    assert git(repo, "status", "--porcelain") == ""
    # The stream read as lines a person reads, not JSON; what it reported recorded.
    assert f"alpha | {WRITE_LINE[agent.profile]}" in result.stdout, debug
    assert not any(line.split("| ", 1)[-1].startswith("{") for line in result.stdout.splitlines())
    for task in task_rows(repo).values():
        assert task["activity"] == "done" and task["refusals"] == [], task
        assert task["tokens"] and task["session_id"], task
        assert task["cost_usd"] is None, task  # tokens only: no price invented
    assert all("test-key" in json.dumps(r.headers) for r in model.requests if r.method == "POST"), (
        "a request went out without the test key"
    )


def test_a_retried_task_continues_its_conversation(
    agent: RealAgent,
    repo: Path,
    tmp_path: Path,
    model: ScriptedModelServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first attempt of 'beta' fails after its first tool call (the model answers
    with an API error); resume retries it on the recorded session (`codex exec resume`,
    `gemini --resume`): the model sees the first attempt's prompt, then the note of what
    went wrong."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    model.fail_after_tools.add("beta")
    plan = plan_for(agent, tmp_path, model)
    first = run_plan(plan, repo)
    assert first.code == 1, first.stdout + first.stderr
    assert "task 'beta' failed" in first.stderr
    session = task_rows(repo)["beta"]["session_id"]
    assert session

    again = run_cli("resume", "--repo", str(repo), "--headless", "--yes", cwd=repo)

    assert again.code == 0, again.stdout + again.stderr
    assert git(repo, "show", "main:src/beta.py") + "\n" == file_content("beta", "src/beta.py")
    continued = [
        r.body
        for r in model.requests
        if "Your previous attempt at task 'beta'" in json.dumps(r.body)
        and "You are working on task 'beta'" in json.dumps(r.body)
    ]
    assert continued, "the retry did not continue the first conversation"
    assert "scripted failure" in json.dumps(continued[0])  # what went wrong, as it said
    beta = task_rows(repo)["beta"]
    assert (beta["attempts"], beta["session_id"]) == (2, session)


def test_agents_check_confirms_the_built_in_profile_and_names_a_misspelt_flag(
    agent: RealAgent, repo: Path
) -> None:
    """`tui-orch agents --check NAME` reads the installed CLI's help (for Codex, that of
    `codex exec`): every flag of the built-in profile, to start and to resume, is there;
    a profile passing `--jsonn` has that flag named."""
    cli = agent.find()
    path = {"PATH": f"{cli.parent}{os.pathsep}{os.environ['PATH']}"}
    good = run_cli("agents", "--check", agent.profile, "--repo", str(repo), cwd=repo, env=path)
    assert good.code == 0, good.stdout + good.stderr
    assert f"{agent.profile}: every flag it passes is accepted by {agent.profile}" in good.stdout
    command = {"codex": "[codex, exec, --jsonn, '{prompt}']", "gemini": "[gemini, --jsonn]"}
    (repo / ".tui-orch.yaml").write_text(
        f"agents:\n  typo:\n    command: {command[agent.profile]}\n", encoding="utf-8"
    )
    bad = run_cli("agents", "--check", "typo", "--repo", str(repo), cwd=repo, env=path)
    assert bad.code == 1, bad.stdout + bad.stderr
    assert f"typo: --jsonn is not an option of {agent.profile}" in bad.stdout


async def test_the_real_cli_in_the_app_shows_readable_steps_and_tokens(
    agent: RealAgent,
    repo: Path,
    tmp_path: Path,
    model: ScriptedModelServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same plan in the cockpit (Pilot): each pane shows the agent's steps as lines,
    its header the tokens it reported (no price: these CLIs report none); approving
    merges it."""
    from tests.ui.conftest import screen_name, wait_until
    from tui_orch.engine.run.orchestrator import RunOptions
    from tui_orch.launch_spec import Launch
    from tui_orch.ui.app import OrchApp

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    plan = plan_for(agent, tmp_path, model)
    app = OrchApp(Launch(plan=plan, repo=repo, options=RunOptions(poll_interval=0.05)))
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: screen_name(app) == "PlanScreen" and app.screen.report)
        await pilot.press("a")
        await wait_until(pilot, lambda: screen_name(app) == "MergeApprovalScreen", timeout=60)
        dashboard = app.dashboard
        writes = WRITE_LINE[agent.profile].rsplit(" ", 1)[0] + " "  # "→ Add ", "→ Write "
        for task in TASKS:
            lines = dashboard.panes[task].lines
            assert any(line.startswith(writes) for line in lines), lines
            assert not any(line.startswith("{") for line in lines), lines
            header = dashboard.panes[task].header.plain
            assert " tok" in header and "$" not in header, header
        await pilot.press("a")
        await wait_until(pilot, lambda: screen_name(app) == "FinalApprovalScreen", timeout=30)
        await pilot.press("y")
        await wait_until(pilot, lambda: dashboard.facts.phase == "merged", timeout=30)
    for task, files in TASKS.items():
        for relative in files:
            assert git(repo, "show", f"main:{relative}") + "\n" == file_content(task, relative)
