"""Agent profiles layer: built-in, then user config, then the repo's, then the plan's."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from tests.conftest import run_cli


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


def agents(repo: Path) -> dict[str, dict[str, object]]:
    result = run_cli("agents", "--json", cwd=repo)
    assert result.code == 0, result.stderr
    return {a["name"]: a for a in json.loads(result.stdout)["agents"]}


def test_builtin_profiles_need_no_config(repo: Path) -> None:
    profiles = agents(repo)
    assert {"claude", "codex", "gemini", "aider"} <= set(profiles)
    assert profiles["claude"]["source"] == "built-in"


def test_repo_overrides_user_and_plan_overrides_repo(repo: Path, isolated_config: Path) -> None:
    user_file = isolated_config / "tui-orch" / "config.yaml"
    write(
        user_file,
        """\
        default_agent: mine
        agents:
          mine: {command: [mine-user]}
          claude: {command: [claude-user, "{prompt}"]}
        """,
    )
    write(
        repo / ".tui-orch.yaml",
        """\
        agents:
          claude: {command: [claude-repo, "{prompt}"], timeout: 5m}
        """,
    )
    profiles = agents(repo)
    assert profiles["mine"]["command"] == ["mine-user"]
    assert profiles["mine"]["source"] == str(user_file)
    assert profiles["claude"]["command"] == ["claude-repo", "{prompt}"]
    assert profiles["claude"]["timeout"] == 300

    write(
        repo / "plan.yaml",
        """\
        agents:
          claude: {command: [claude-plan, "{prompt}"]}
        tasks:
          - {id: a, prompt: x, files: [a.py], agent: claude}
          - {id: b, prompt: x, files: [b.py]}
        """,
    )
    result = run_cli("check", "plan.yaml", "--json", cwd=repo)
    assert result.code == 0, result.stderr
    checked = json.loads(result.stdout)
    tasks = [t for batch in checked["batches"] for t in batch["tasks"]]
    assert [t["agent"] for t in tasks] == ["claude", "mine"]  # user's default_agent applies
    assert checked["agents"]["claude"]["command"] == ["claude-plan", "{prompt}"]
    assert checked["agents"]["claude"]["source"] == "plan.yaml"


def test_agents_table_marks_the_default(repo: Path) -> None:
    write(repo / ".tui-orch.yaml", "default_agent: codex\n")
    result = run_cli("agents", cwd=repo)
    assert result.code == 0
    assert any(line.startswith("codex (default)") for line in result.stdout.splitlines())
