"""budget_usd: a task's cap passed to agents that take one; the run's total, as its
agents report it, checked as results arrive: over it, no more agents start."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.conftest import run_cli
from tests.run_helpers import only_run, run_plan, script_agent, write_plan

SAMPLE = Path(__file__).parent / "samples" / "claude" / "write_two_files.jsonl"
REPLAY = f"""
import json
for line in pathlib.Path({str(SAMPLE)!r}).read_text().splitlines():
    print(line, flush=True)  # a recorded Claude Code stream: it reports $0.0006
print(" ".join(sys.argv[1:]), flush=True)
for name in FILES:
    pathlib.Path(name).write_text(f"written by {{TASK}}\\n")
"""


def structured_plan(tmp_path: Path, **top: object) -> Path:
    agent = script_agent(tmp_path, "replay", REPLAY)
    plan = write_plan(
        tmp_path / "plan.yaml",
        [
            {"id": "a", "files": ["a.txt"], "budget_usd": 0.5},
            {"id": "b", "files": ["b.txt"], "depends_on": ["a"]},
        ],
        {"c": agent},
        **top,
    )
    data = yaml.safe_load(plan.read_text())
    data["agents"]["c"].update(format="claude-stream-json", budget_flag="--max-budget-usd")
    plan.write_text(yaml.safe_dump(data, sort_keys=False))
    return plan


def test_a_run_over_its_budget_starts_no_more_agents_and_says_so(
    repo: Path, tmp_path: Path
) -> None:
    result = run_plan(structured_plan(tmp_path, budget_usd=0.0005), repo)
    assert result.code == 1, result.stdout + result.stderr
    run_id = only_run(repo)
    assert (
        "tui-orch: batch 2 was not started: the run's budget of $0.0005 is spent ($0.0006 "
        "reported by its agents), so no more agents start; raise budget_usd in "
    ) in result.stderr
    assert f"and run `tui-orch resume {run_id}` to go on" in result.stderr
    status = run_cli("status", run_id, "--repo", str(repo), "--json", cwd=repo)
    tasks = {t["id"]: t for t in json.loads(status.stdout)["runs"][0]["tasks"]}
    assert tasks["a"]["state"] == "merged" and tasks["b"]["state"] == "pending"
    # The task's own cap reached its agent with the profile's flag.
    assert "a | --max-budget-usd 0.5" in result.stdout


def test_a_run_within_its_budget_runs_to_the_end(repo: Path, tmp_path: Path) -> None:
    result = run_plan(structured_plan(tmp_path, budget_usd=1), repo)
    assert result.code == 0, result.stdout + result.stderr
    assert "b | " in result.stdout and "merged 2 tasks" in result.stdout


def test_a_budget_that_is_not_an_amount_is_refused(repo: Path, tmp_path: Path) -> None:
    plan = structured_plan(tmp_path, budget_usd="lots")
    result = run_cli("check", str(plan), "--repo", str(repo), cwd=repo)
    assert result.code == 2
    assert "budget_usd: expected an amount of US dollars such as 5 or 2.50" in result.stderr


# Replays the recorded stream ($0.0006, 40 tokens) each attempt; fails the first one.
RETRIED = REPLAY.replace(
    'print(" ".join(sys.argv[1:]), flush=True)',
    'marker = pathlib.Path(os.environ["MARKER"])\n'
    "if not marker.exists():\n"
    "    marker.write_text('tried')\n"
    "    sys.exit(1)",
)


def test_what_every_attempt_spent_is_counted(repo: Path, tmp_path: Path) -> None:
    """Each CLI reports one process's usage, not the session's: a task retried once has
    spent both attempts' tokens and cost, in status and against the budget."""
    agent = script_agent(tmp_path, "retried", RETRIED)
    plan = write_plan(tmp_path / "plan.yaml", [{"id": "a", "files": ["a.txt"]}], {"c": agent})
    data = yaml.safe_load(plan.read_text())
    data["agents"]["c"]["format"] = "claude-stream-json"
    plan.write_text(yaml.safe_dump(data, sort_keys=False))
    env = {"MARKER": str(tmp_path / "marker")}
    first = run_cli("run", str(plan), "--repo", str(repo), "--headless", "--yes", cwd=repo, env=env)
    assert first.code == 1, first.stdout + first.stderr
    again = run_cli("resume", "--repo", str(repo), "--headless", "--yes", cwd=repo, env=env)
    assert again.code == 0, again.stdout + again.stderr
    status = run_cli("status", "--repo", str(repo), "--json", cwd=repo)
    (task,) = json.loads(status.stdout)["runs"][0]["tasks"]
    assert (task["attempts"], task["tokens"]) == (2, 80)
    assert abs(task["cost_usd"] - 0.0012) < 1e-9
