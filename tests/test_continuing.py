"""A retry goes on with the failed attempt's conversation when the agent can; when going
on failed too (a CLI may have kept no session to resume: Gemini CLI answers "No
previous sessions found" when the first attempt failed before the model spoke), the
next retry starts afresh instead of failing the same way for ever."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.conftest import run_cli
from tests.run_helpers import script_agent, write_plan

# A text agent that logs how it was started. Started fresh the first time: fails.
# Asked to resume: fails, as a CLI with no such session does. Fresh again: works.
AGENT = """
runs_log = pathlib.Path(os.environ["RUNS_LOG"])
earlier = runs_log.read_text().splitlines() if runs_log.exists() else []
with runs_log.open("a") as runs:
    runs.write(" ".join(sys.argv[1:]) + "\\n")
if "--resume" in sys.argv:
    print("Error resuming session: No previous sessions found for this project.")
    sys.exit(42)
if not earlier:
    print("failing the first attempt")
    sys.exit(1)
for name in FILES:
    pathlib.Path(name).write_text(f"written by {TASK}\\n")
"""


def test_a_retry_after_a_failed_continuation_starts_afresh(repo: Path, tmp_path: Path) -> None:
    agent = script_agent(tmp_path, "agent", AGENT)
    plan = write_plan(tmp_path / "plan.yaml", [{"id": "a", "files": ["a.txt"]}], {"c": agent})
    data = yaml.safe_load(plan.read_text())
    data["agents"]["c"] = {
        "command": [*agent, "--session-id", "{session_id}"],
        "resume": [*agent, "--resume", "{session_id}"],
    }
    plan.write_text(yaml.safe_dump(data, sort_keys=False))
    runs = tmp_path / "runs.log"
    env = {"RUNS_LOG": str(runs)}

    first = run_cli("run", str(plan), "--repo", str(repo), "--headless", "--yes", cwd=repo, env=env)
    assert first.code == 1, first.stdout + first.stderr
    second = run_cli("resume", "--repo", str(repo), "--headless", "--yes", cwd=repo, env=env)
    assert second.code == 1, second.stdout + second.stderr
    third = run_cli("resume", "--repo", str(repo), "--headless", "--yes", cwd=repo, env=env)

    assert third.code == 0, third.stdout + third.stderr
    started = runs.read_text().splitlines()
    session = started[0].split("--session-id ")[1]
    assert started[1] == f"--resume {session}"  # the first retry went on with it
    assert started[2].startswith("--session-id ") and session not in started[2]  # afresh
