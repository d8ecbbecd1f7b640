"""`tui-orch demo`: the plain demo and the conflicts demo, as a user runs them.

The runs go through the real CLI with `--pace 0`, so the demo agents do not wait at all; how
long they work at the default pace is read from the schedule they follow, not by waiting.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import CliResult, git, run_cli
from tui_orch.cli import build_parser
from tui_orch.demo.agent import parse_args, schedule, seconds
from tui_orch.demo.project import create_demo


def demo(directory: Path, *extra: str) -> CliResult:
    """`tui-orch demo --dir DIR --headless --yes --pace 0 [extra]`, as a user types it."""
    options = ["--dir", str(directory), "--headless", "--yes", "--pace", "0", *extra]
    return run_cli("demo", *options, cwd=directory.parent)


def status(repo: Path) -> dict[str, Any]:
    result = run_cli("status", "--repo", str(repo), "--json", cwd=repo)
    assert result.code == 0, result.stderr
    [run] = json.loads(result.stdout)["runs"]
    return run


def tasks_by_batch(run: dict[str, Any]) -> dict[int, list[str]]:
    batches: dict[int, list[str]] = {}
    for task in run["tasks"]:
        batches.setdefault(task["batch"], []).append(task["id"])
    return batches


def agent_seconds(plan_file: Path) -> dict[str, float]:
    """How long each task's demo agent works, from the plan's own agent commands."""
    plan = yaml.safe_load(plan_file.read_text())
    durations = {}
    for task in plan["tasks"]:
        command = plan["agents"][task.get("agent", plan["default_agent"])]["command"]
        assert command[1:3] == ["-m", "tui_orch.demo.agent"], command
        args = parse_args(command[3:])
        durations[task["id"]] = seconds(schedule(task["id"], task["files"], args), args.pace)
    return durations


def test_the_demo_runs_headless_and_its_work_lands_on_main(tmp_path: Path) -> None:
    directory = tmp_path / "demo"
    result = demo(directory)
    assert result.code == 0, result.stderr
    repo = directory / "repo"
    run = status(repo)
    assert run["outcome"] == "merged"
    assert {task["id"]: task["state"] for task in run["tasks"]} == dict.fromkeys(
        ["models", "docs", "stock", "service", "api"], "merged"
    )
    batches = tasks_by_batch(run)
    assert batches[1] == ["models", "docs", "stock"]  # three agents side by side
    assert [batches[2], batches[3]] == [["service"], ["api"]]  # then a chain
    # --pace 0: no agent waits (at the default pace each works 10-20 s)
    assert max(task["duration"] for task in run["tasks"]) < 5
    assert "== batch 1/3: models, docs, stock" in result.stdout
    # What the agents wrote is on main, and the demo's own tests pass on it.
    tracked = git(repo, "ls-tree", "-r", "--name-only", "main").splitlines()
    assert {"src/shop/api.py", "src/shop/inventory.py", "tests/test_inventory.py"} <= set(tracked)
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "branch", "--format=%(refname:short)") == "main"
    # The agents say what they do, as a coding agent would.
    log = run_cli("logs", "models", "--repo", str(repo), cwd=repo).stdout
    assert "editing src/shop/money.py: class Money" in log
    assert "> running pytest -q tests/test_models.py" in log


@pytest.mark.parametrize("variant", ["demo", "conflicts"])
def test_at_the_default_pace_each_agent_works_10_to_20_seconds(
    tmp_path: Path, variant: str
) -> None:
    default_pace = build_parser().parse_args(["demo"]).pace
    made = create_demo(tmp_path / "demo", pace=default_pace, variant=variant)
    durations = agent_seconds(made.plan)
    assert all(10 <= took <= 20 for took in durations.values()), durations
    first = [durations[task] for task in ("models", "docs", "stock")]
    gaps = [abs(a - b) for i, a in enumerate(first) for b in first[i + 1 :]]
    assert min(gaps) >= 0.5, f"batch 1 agents end together: {first}"
    # The same plan at pace 0 costs nothing.
    assert set(
        agent_seconds(create_demo(tmp_path / "fast", pace=0, variant=variant).plan).values()
    ) == {0}


def test_the_conflicts_demo_headless_holds_back_the_blocked_tasks(tmp_path: Path) -> None:
    directory = tmp_path / "demo"
    result = demo(directory, "--conflicts")
    repo = directory / "repo"
    # --yes approves every step but never overrides a block: the run stops, exit 1.
    assert result.code == 1, result.stderr
    assert "!! unowned_edit (block): task 'stock' changed README.md, which task 'docs' owns" in (
        result.stdout
    )
    assert (
        "!! predicted (block): merging tasks 'models' and 'docs' will conflict in "
        "src/shop/__init__.py" in result.stdout
    )
    sentence = result.stderr.strip().splitlines()[-1]
    assert sentence.startswith("tui-orch: task 'docs' was not merged because")
    assert "(and 1 more blocked task(s))" in sentence
    assert "'main' was not touched" in sentence
    assert "Traceback" not in result.stderr
    run = status(repo)
    assert {task["id"]: task["state"] for task in run["tasks"]} == {
        "models": "merged",
        "docs": "excluded",
        "stock": "excluded",
        "service": "skipped",
        "api": "skipped",
    }
    found = {
        (c["kind"], tuple(c["tasks"]), tuple(c["paths"]), c["policy"]) for c in run["conflicts"]
    }
    assert found == {
        ("unowned_edit", ("stock",), ("README.md",), "block"),
        ("unowned_edit", ("docs",), ("src/shop/__init__.py",), "block"),
        ("overlap", ("docs", "stock"), ("README.md",), "warn"),
        ("overlap", ("models", "docs"), ("src/shop/__init__.py",), "warn"),
        ("predicted", ("models", "docs"), ("src/shop/__init__.py",), "block"),
    }
    assert git(repo, "rev-list", "--count", "main") == "1"  # main not moved
    # The prediction is true, and the held-back edit to the README would merge cleanly.
    branch = {task["id"]: task["branch"] for task in run["tasks"]}
    integration = f"tui-orch/{run['run_id']}/integration"
    assert merges_cleanly(repo, integration, branch["stock"])
    assert not merges_cleanly(repo, integration, branch["docs"])


def merges_cleanly(repo: Path, ours: str, theirs: str) -> bool:
    done = subprocess.run(
        ["git", "merge-tree", "--write-tree", ours, theirs], cwd=repo, capture_output=True
    )
    assert done.returncode in (0, 1), done.stderr
    return done.returncode == 0
