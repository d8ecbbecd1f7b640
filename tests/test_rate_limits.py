"""An agent stopped by its provider's rate limit: with on_rate_limit: wait (the default)
it is started again at the reset, continuing its conversation, and the task finishes;
with fail, the task fails. The agent is a script speaking Claude Code's stream-json."""

from __future__ import annotations

import json
import time
from pathlib import Path

import yaml

from tests.conftest import run_cli
from tests.run_helpers import only_run, run_plan, script_agent, write_plan

# First run (a new session): a rate-limit event with a reset 2 s ahead, an error result,
# exit 1. Run with --resume (continuing): it does the work and succeeds.
AGENT = """
import json
with open(os.environ["RUNS_LOG"], "a") as runs:
    runs.write(" ".join(sys.argv[1:]) + "\\n")
session = sys.argv[sys.argv.index("--resume" if "--resume" in sys.argv else "--session-id") + 1]
say = lambda **event: print(json.dumps(event), flush=True)
say(type="system", subtype="init", cwd=os.getcwd(), session_id=session, model="m")
if "--resume" not in sys.argv:
    info = {"status": "rejected", "resetsAt": time.time() + 2, "rateLimitType": "five_hour"}
    say(type="rate_limit_event", rate_limit_info=info, session_id=session)
    say(type="result", subtype="error_during_execution", is_error=True, result="usage limit")
    sys.exit(1)
for name in FILES:
    pathlib.Path(name).write_text(f"written by {TASK}\\n")
say(type="result", subtype="success", is_error=False, result="done", session_id=session)
"""


def rate_limited_plan(tmp_path: Path, **top: object) -> Path:
    agent = script_agent(tmp_path, "limited", AGENT)
    plan = write_plan(tmp_path / "plan.yaml", [{"id": "a", "files": ["a.txt"]}], {"c": agent})
    data = yaml.safe_load(plan.read_text())
    data["agents"]["c"] = {
        "command": [*agent, "--session-id", "{session_id}"],
        "resume": [*agent, "--resume", "{session_id}"],
        "format": "claude-stream-json",
    }
    data.update(top)
    plan.write_text(yaml.safe_dump(data, sort_keys=False))
    return plan


def test_a_rate_limited_agent_goes_on_at_the_reset_in_the_same_conversation(
    repo: Path, tmp_path: Path
) -> None:
    runs = tmp_path / "runs.log"
    started = time.monotonic()
    result = run_cli(
        "run", str(rate_limited_plan(tmp_path)), "--repo", str(repo), "--headless", "--yes",
        cwd=repo, env={"RUNS_LOG": str(runs)},
    )  # fmt: skip
    assert result.code == 0, result.stdout + result.stderr
    assert time.monotonic() - started >= 2  # it waited for the reset
    assert "a | rate limited (rejected) until " in result.stdout
    assert "its agent hit its provider's rate limit; it goes on, continuing its conversation" in (
        result.stdout
    )
    first, second = runs.read_text().splitlines()
    session = first.split("--session-id ")[1]
    assert second.endswith(f"--resume {session}")  # the same conversation
    run_id = only_run(repo)
    status = run_cli("status", run_id, "--repo", str(repo), "--json", cwd=repo)
    (task,) = json.loads(status.stdout)["runs"][0]["tasks"]
    assert (task["state"], task["attempts"]) == ("merged", 2)


def test_with_on_rate_limit_fail_the_task_fails(repo: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs.log"
    plan = rate_limited_plan(tmp_path, on_rate_limit="fail")
    result = run_cli(
        "run", str(plan), "--repo", str(repo), "--headless", "--yes", cwd=repo,
        env={"RUNS_LOG": str(runs)},
    )  # fmt: skip
    assert result.code == 1
    assert "task 'a' failed: its agent exited with code 1" in result.stderr
    assert len(runs.read_text().splitlines()) == 1


def test_an_unknown_on_rate_limit_value_is_refused(repo: Path, tmp_path: Path) -> None:
    plan = rate_limited_plan(tmp_path, on_rate_limit="sleep")
    result = run_plan(plan, repo)
    assert result.code == 2
    assert "on_rate_limit: unknown value 'sleep'; known: wait, fail" in result.stderr
