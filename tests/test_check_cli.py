"""`tui-orch check` on good plans, `--version`, `--help`, and the documented example."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_PLAN, PROJECT_ROOT, git, run_cli

COMMANDS = ["check", "triage", "agents"]


def test_example_plan_prints_its_batches(repo: Path) -> None:
    result = run_cli("check", str(EXAMPLE_PLAN), cwd=repo)
    assert result.code == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert f"repo      {repo.resolve()}" in lines
    assert "base      main" in lines
    assert (
        "mode      parallel: 13 files in 5 tasks (parallel agents, each in its own worktree)"
        in lines
    )
    table = lines[next(i for i, line in enumerate(lines) if line.startswith("batch")) :]
    assert re.match(r"batch\s+task\s+agent\s+files\s+depends on$", table[0])
    assert re.match(r"1\s+models\s+claude\s+src/shop/models.py\s+-$", table[1])
    assert re.match(r"\s+docs\s+aider-docs\s+docs/discounts.md\s+-$", table[4])
    assert re.match(r"2\s+service\s+claude\s+src/shop/discounts.py\s+models$", table[6])
    assert re.match(r"3\s+api\s+claude\s+src/shop/api.py\s+service$", table[9])
    assert "3 batches, 5 tasks, at most 2 agents at once (max_parallel 4)" in lines


def test_example_plan_as_json(repo: Path) -> None:
    result = run_cli("check", str(EXAMPLE_PLAN), "--json", cwd=repo)
    assert result.code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["ok"] is True
    assert data["mode"] == "parallel"
    assert [[t["id"] for t in b["tasks"]] for b in data["batches"]] == [
        ["models", "docs"],
        ["service"],
        ["api", "cli"],
    ]
    service = data["batches"][1]["tasks"][0]
    assert service["timeout"] == 1800
    assert service["depends_on"] == ["models"]


def test_outside_a_repository_the_plan_is_still_checked(outside_repo: Path) -> None:
    result = run_cli("check", str(EXAMPLE_PLAN), cwd=outside_repo)
    assert result.code == 0, result.stderr
    assert "repo      none (not inside a git repository; pass --repo DIR to check one)" in (
        result.stdout.splitlines()
    )


def test_base_defaults_to_the_checked_out_branch(repo: Path) -> None:
    git(repo, "switch", "-q", "-c", "feature")
    plan = repo / "plan.yaml"
    plan.write_text(
        textwrap.dedent(
            """\
            default_agent: claude
            tasks:
              - {id: one, prompt: do it, files: [a.py, b.py]}
            """
        )
    )
    result = run_cli("check", "plan.yaml", "--json", cwd=repo)
    assert json.loads(result.stdout)["base"] == "feature"


def test_repo_option_points_at_another_repository(repo: Path, outside_repo: Path) -> None:
    result = run_cli("check", str(EXAMPLE_PLAN), "--repo", str(repo), "--json", cwd=outside_repo)
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["repo"] == str(repo.resolve())


def test_triage_warning_is_shown(outside_repo: Path) -> None:
    (outside_repo / "plan.yaml").write_text(
        textwrap.dedent(
            """\
            default_agent: claude
            tasks:
              - {id: a, prompt: x, files: [a.py, b.py]}
              - {id: b, prompt: x, files: [c.py]}
              - {id: c, prompt: x, files: [d.py]}
            """
        )
    )
    result = run_cli("check", "plan.yaml", cwd=outside_repo)
    assert result.code == 0
    assert (
        "warning   4 files split across 3 parallel agents: overhead exceeds benefit; "
        "one agent, working sequentially would be quicker"
    ) in result.stdout.splitlines()


def test_version(tmp_path: Path) -> None:
    result = run_cli("--version", cwd=tmp_path)
    assert result.code == 0
    assert re.fullmatch(r"tui-orch \d+\.\d+\.\d+\n", result.stdout)


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_every_command_has_help(command: str | None, tmp_path: Path) -> None:
    args = [command, "--help"] if command else ["--help"]
    result = run_cli(*args, cwd=tmp_path)
    assert result.code == 0
    assert result.stdout.startswith("usage: tui-orch")
    if command is None:
        for name in COMMANDS:
            assert name in result.stdout


def test_no_command_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli(cwd=tmp_path)
    assert result.code == 2
    assert "the following arguments are required: COMMAND" in result.stderr


def test_the_documented_example_is_the_bundled_one() -> None:
    """docs/plan.md shows the full example; it must be exactly the file the tests load."""
    text = (PROJECT_ROOT / "docs" / "plan.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL)
    assert EXAMPLE_PLAN.read_text() in blocks
    assert (PROJECT_ROOT / "docs" / "example-plan.yaml").read_text() == EXAMPLE_PLAN.read_text()
