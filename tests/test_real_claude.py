"""The real Claude Code CLI as a tui-orch agent, against a scripted model server.

The CLI (npm package ``@anthropic-ai/claude-code``) runs unchanged: its own prompt
handling, permission checks and ``Write`` tool. Only the model is replaced, by
``tests/scripted_model_server.py`` on 127.0.0.1, which answers each task with ``Write``
calls for the files the task owns. So these tests prove that the files the real CLI
writes in its worktree reach ``main``, with no network and no account.

The CLI is looked for in ``.cache/claude-code`` (``npm install --prefix .cache/claude-code
@anthropic-ai/claude-code``), then on PATH; without it the tests skip.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import git, run_cli
from tests.real_agents import REAL_AGENTS
from tests.run_helpers import branches, head, run_plan
from tests.scripted_model_server import ScriptedModelServer, file_content
from tui_orch.engine.plans.profiles import builtin_profiles


@pytest.fixture
def claude(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI's path; and no ANTHROPIC_* / CLAUDE* variable of the developer's own
    (a token, Bedrock or Vertex, a config dir) can send it anywhere but our server."""
    for name in list(os.environ):
        if name.startswith(("ANTHROPIC_", "CLAUDE")):
            monkeypatch.delenv(name)
    return REAL_AGENTS["claude"].find()


@pytest.fixture
def model(tmp_path: Path) -> Any:
    """The scripted model server; its requests are also in requests.jsonl for debugging."""
    with ScriptedModelServer(log_path=tmp_path / "requests.jsonl") as server:
        yield server


# All the CLI needs to work non-interactively against the server (see tests/real_agents.py).
claude_env = REAL_AGENTS["claude"].configure


def claude_command(claude: Path) -> list[str]:
    """tui-orch's built-in `claude` profile, with the CLI's absolute path.

    `--permission-mode acceptEdits` is needed: without it print mode denies every Write
    ("... but you haven't granted it yet") and still exits 0."""
    command = list(builtin_profiles()["claude"].command)
    return [str(claude), *command[1:]]


TASKS = {
    "alpha": ["src/alpha.py", "docs/alpha.md"],
    "beta": ["src/beta.py"],
    "gamma": ["notes/gamma.txt"],
}


def write_claude_plan(path: Path, claude: Path, env: dict[str, str]) -> Path:
    plan = {
        "base": "main",
        "default_agent": "claude",
        "agents": {
            "claude": {
                "command": claude_command(claude),
                "resume": [str(claude), *builtin_profiles()["claude"].resume[1:]],
                "format": builtin_profiles()["claude"].format,
                "env": env,
                "timeout": "45s",
            }
        },
        "tasks": [
            {"id": task, "prompt": f"Create the {task} files.", "files": files}
            for task, files in TASKS.items()
        ],
    }
    path.write_text(yaml.safe_dump(plan, sort_keys=False), encoding="utf-8")
    return path


def test_real_claude_edits_are_merged_into_main(
    repo: Path,
    tmp_path: Path,
    claude: Path,
    model: ScriptedModelServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data_home = tmp_path / "data"  # worktrees go to $XDG_DATA_HOME/tui-orch/worktrees
    monkeypatch.setenv("XDG_DATA_HOME", str(data_home))
    plan = write_claude_plan(tmp_path / "plan.yaml", claude, claude_env(tmp_path / "home", model))
    before = head(repo)

    started = time.monotonic()
    result = run_plan(plan, repo)
    elapsed = time.monotonic() - started

    debug = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}\nrequests: {model.log_path}"
    assert result.code == 0, debug
    assert head(repo) != before, debug
    for task, files in TASKS.items():
        for relative in files:
            assert git(repo, "show", f"main:{relative}") + "\n" == file_content(task, relative)
    assert git(repo, "status", "--porcelain") == ""

    # The files came from the CLI's own Write tool, one call per file, each succeeding,
    # each in the task's worktree (outside the repository, in the data dir).
    writes = [use for use in model.tool_uses() if use["name"] == "Write"]
    written = sorted(Path(use["input"]["file_path"]) for use in writes)
    assert len(written) == sum(len(files) for files in TASKS.values()), written
    for path in written:
        assert data_home.resolve() in path.parents and repo not in path.parents, path
    results = model.tool_results()
    assert len(results) == len(writes)
    assert not any(r.get("is_error") for r in results), results
    assert all(
        r.headers.get("x-api-key") == "test-key" for r in model.requests if r.method == "POST"
    )
    assert elapsed < 60

    # Its stream read as lines a person reads, not JSON; what it reported recorded.
    assert "alpha | → Write src/alpha.py" in result.stdout, debug
    assert not any(line.split("| ", 1)[-1].startswith("{") for line in result.stdout.splitlines())
    status = run_cli("status", "--repo", str(repo), "--json", cwd=repo)
    tasks = json.loads(status.stdout)["runs"][-1]["tasks"]
    for task in tasks:
        assert task["activity"] == "done" and task["refusals"] == [], task
        assert task["cost_usd"] > 0 and task["tokens"] > 0 and task["session_id"], task
    log = (repo / ".git" / "tui-orch" / "runs").glob("*/logs/alpha.log")
    assert next(log).read_text().startswith('{"type":"system"')  # the raw stream, on disk


def test_real_claude_refuses_to_write_under_dot_git(
    repo: Path, tmp_path: Path, claude: Path, model: ScriptedModelServer
) -> None:
    """Why worktrees must not live under `.git/`: there, in acceptEdits mode, the CLI
    calls every file "a sensitive file", writes nothing, and still exits 0, so the task
    would look done with no work. tui-orch now refuses such a worktree root up front."""
    worktree = repo / ".git" / "tui-orch" / "worktrees" / "alpha"
    git(repo, "worktree", "add", "-q", "-b", "alpha", str(worktree))
    prompt = (
        "Create the file.\n\n---\nYou are working on task 'alpha' (alpha).\n"
        "Create or edit only these files:\n- src/alpha.py\n"
    )
    values = {"{prompt}": prompt, "{session_id}": str(uuid.uuid4())}
    argv = [values.get(part, part) for part in claude_command(claude)]
    done = subprocess.run(
        argv,
        cwd=worktree,
        env={**os.environ, **claude_env(tmp_path / "home", model)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=45,
    )

    assert done.returncode == 0, done.stderr
    assert not (worktree / "src" / "alpha.py").exists()
    [result] = model.tool_results()
    assert result.get("is_error") and "sensitive file" in str(result["content"]), result

    plan = write_claude_plan(tmp_path / "plan.yaml", claude, claude_env(tmp_path / "home", model))
    refused = run_plan(plan, repo, "--worktree-root", str(repo / ".git" / "somewhere"))
    assert refused.code == 2, refused.stdout + refused.stderr
    assert "inside the repository" in refused.stdout + refused.stderr
    assert not [name for name in branches(repo) if name.startswith("tui-orch/")]


async def test_real_claude_in_the_app_shows_readable_steps_and_the_run_s_cost(
    repo: Path,
    tmp_path: Path,
    claude: Path,
    model: ScriptedModelServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same plan in the cockpit (Pilot): each pane shows the agent's steps as lines
    (no JSON), its header the tokens and cost it reported, the status bar the run's sum;
    approving merges it."""
    from tests.ui.conftest import screen_name, wait_until
    from tui_orch.engine.run.orchestrator import RunOptions
    from tui_orch.launch_spec import Launch
    from tui_orch.ui.app import OrchApp
    from tui_orch.ui.widgets.status_bar import StatusBar

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    plan = write_claude_plan(tmp_path / "plan.yaml", claude, claude_env(tmp_path / "home", model))
    app = OrchApp(Launch(plan=plan, repo=repo, options=RunOptions(poll_interval=0.05)))
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: screen_name(app) == "PlanScreen" and app.screen.report)
        await pilot.press("a")
        await wait_until(pilot, lambda: screen_name(app) == "MergeApprovalScreen", timeout=60)
        dashboard = app.dashboard
        for task in TASKS:
            lines = dashboard.panes[task].lines
            assert any(line.startswith("→ Write ") for line in lines), lines
            assert not any(line.startswith("{") for line in lines), lines
            assert "tok · $" in dashboard.panes[task].header.plain
        costs = [dashboard.model.tasks[task].cost_usd for task in TASKS]
        assert all(cost and cost > 0 for cost in costs)
        await pilot.pause(0.6)  # the status bar is brought up to date at the next tick
        bar = str(dashboard.query_one(StatusBar).render())
        assert f"${sum(costs):.4f}" in bar, bar  # type: ignore[arg-type]
        await pilot.press("a")
        await wait_until(pilot, lambda: screen_name(app) == "FinalApprovalScreen", timeout=30)
        await pilot.press("y")
        await wait_until(pilot, lambda: dashboard.facts.phase == "merged", timeout=30)
    for task, files in TASKS.items():
        for relative in files:
            assert git(repo, "show", f"main:{relative}") + "\n" == file_content(task, relative)


def test_agents_check_confirms_the_claude_profile_and_names_a_misspelt_flag(
    repo: Path, claude: Path
) -> None:
    """`tui-orch agents --check` runs the installed CLI's --help: the built-in profile's
    flags are all accepted; a profile with `--output-formt` has that flag named."""
    path = f"{claude.parent}{os.pathsep}{os.environ['PATH']}"
    listed = run_cli("agents", "--repo", str(repo), cwd=repo, env={"PATH": path})
    claude_row = next(line for line in listed.stdout.splitlines() if line.startswith("claude"))
    assert "(Claude Code)" in claude_row  # its version, from `claude --version`
    good = run_cli("agents", "--check", "claude", "--repo", str(repo), cwd=repo, env={"PATH": path})
    assert good.code == 0, good.stdout + good.stderr
    assert "claude: every flag it passes is accepted by claude" in good.stdout
    (repo / ".tui-orch.yaml").write_text(
        "agents:\n  typo:\n    command: [claude, -p, '{prompt}', --output-formt, stream-json]\n"
    )
    bad = run_cli("agents", "--check", "typo", "--repo", str(repo), cwd=repo, env={"PATH": path})
    assert bad.code == 1, bad.stdout + bad.stderr
    assert "typo: --output-formt is not an option of claude" in bad.stdout


def test_a_retried_task_continues_its_claude_conversation(
    repo: Path,
    tmp_path: Path,
    claude: Path,
    model: ScriptedModelServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first attempt of 'beta' fails (the model answers with an API error); resume
    retries it with `claude --resume` on the session we gave it: the model sees the
    earlier conversation, then a note of what went wrong, and the work is merged."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    model.fail_once.add("beta")
    plan = write_claude_plan(tmp_path / "plan.yaml", claude, claude_env(tmp_path / "home", model))
    first = run_plan(plan, repo)
    assert first.code == 1, first.stdout + first.stderr
    assert "task 'beta' failed" in first.stderr
    status = run_cli("status", "--repo", str(repo), "--json", cwd=repo)
    (run,) = json.loads(status.stdout)["runs"]
    session = next(t for t in run["tasks"] if t["id"] == "beta")["session_id"]
    assert session

    again = run_cli("resume", "--repo", str(repo), "--headless", "--yes", cwd=repo)
    assert again.code == 0, again.stdout + again.stderr
    assert git(repo, "show", "main:src/beta.py") + "\n" == file_content("beta", "src/beta.py")
    # One request holds both attempts: the task as first given, then the note.
    continued = [
        body
        for body in model.messages()
        if "Your previous attempt at task 'beta'" in json.dumps(body)
        and "You are working on task 'beta'" in json.dumps(body)
    ]
    assert continued, "the retry did not continue the first conversation"
    note = json.dumps(continued[0])
    assert "scripted failure" in note  # what went wrong, in the agent's own words
    status = run_cli("status", "--repo", str(repo), "--json", cwd=repo)
    beta = next(t for t in json.loads(status.stdout)["runs"][0]["tasks"] if t["id"] == "beta")
    assert (beta["attempts"], beta["session_id"]) == (2, session)
    log = next((repo / ".git" / "tui-orch" / "runs").glob("*/logs/beta.log")).read_text()
    assert f"--- tui-orch: attempt 2 (continuing session {session}) ---" in log


def test_a_rate_limited_claude_goes_on_after_the_wait_in_the_same_session(
    repo: Path,
    tmp_path: Path,
    claude: Path,
    model: ScriptedModelServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The model answers 'beta''s first request with HTTP 429 (and tells the CLI not to
    retry): the real CLI ends with an API error 429, the task shows as rate-limited,
    waits the plan's rate_limit_wait, goes on in the same session with `--resume`, and
    the run merges without anyone asking."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    model.rate_limit_once.add("beta")
    plan = write_claude_plan(tmp_path / "plan.yaml", claude, claude_env(tmp_path / "home", model))
    data = yaml.safe_load(plan.read_text())
    plan.write_text(yaml.safe_dump({**data, "rate_limit_wait": "2s"}, sort_keys=False))
    started = time.monotonic()

    result = run_plan(plan, repo)

    assert result.code == 0, result.stdout + result.stderr
    assert time.monotonic() - started >= 2  # it waited
    assert "beta  | rate limited: API Error: Request rejected (429)" in result.stdout
    assert "task 'beta': its agent hit its provider's rate limit; it goes on" in result.stdout
    assert git(repo, "show", "main:src/beta.py") + "\n" == file_content("beta", "src/beta.py")
    status = run_cli("status", "--repo", str(repo), "--json", cwd=repo)
    beta = next(t for t in json.loads(status.stdout)["runs"][0]["tasks"] if t["id"] == "beta")
    assert (beta["state"], beta["attempts"]) == ("merged", 2)
    log = next((repo / ".git" / "tui-orch" / "runs").glob("*/logs/beta.log")).read_text()
    assert f"--- tui-orch: attempt 2 (continuing session {beta['session_id']}) ---" in log
