"""Resume from any step: the driver is killed (SIGKILL) right after the journal records
a step, and `tui-orch resume` finishes the run, each step done exactly once.

The kill comes from the journal's fault-injection point (TUI_ORCH_KILL_AFTER), in a real
`tui-orch run --headless --yes`; agents and the validation are real processes under
their supervisors, so they outlive the driver as they would after a crash.
"""

from __future__ import annotations

import json
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import git, run_cli
from tests.run_helpers import branches, only_run, script_agent, worktree_paths, write_plan

# Each agent notes every run of itself outside the repository, then writes its files.
AGENT = """
with open(os.environ["RUNS_LOG"], "a") as runs:
    runs.write(TASK + "\\n")
time.sleep(0.3)
for name in FILES:
    pathlib.Path(name).write_text(f"written by {TASK}\\n")
print(f"{TASK} done", flush=True)
"""

VALIDATE = """\
import os, pathlib, sys, time
with open(os.environ["RUNS_LOG"], "a") as runs:
    runs.write("validate\\n")
time.sleep(0.3)
sys.exit(0 if all(pathlib.Path(n).exists() for n in ("a.txt", "b.txt", "c.txt")) else 1)
"""

# Where to kill the driver: every kind of step of a two-batch run with a validation.
KILL_POINTS = [
    "started",
    "batch-approved:1",
    "task-started:a",
    "task-ended:a",
    "task-merged:a",
    "batch-merged:1",
    "batch-approved:2",
    "task-merged:c",
    "validation-started:1",
    "validation-ended:1",
    "awaiting-merge",
    "base-moved",
    "cleaned",
]


def two_batch_plan(tmp_path: Path) -> Path:
    agent = script_agent(tmp_path, "agent", AGENT)
    validate = tmp_path / "validate.py"
    validate.write_text(VALIDATE, encoding="utf-8")
    return write_plan(
        tmp_path / "plan.yaml",
        [
            {"id": "a", "files": ["a.txt"]},
            {"id": "b", "files": ["b.txt"]},
            {"id": "c", "files": ["c.txt"], "depends_on": ["a"]},
        ],
        {"script": agent},
        validate=[[sys.executable, str(validate)]],
    )


def history(repo: Path, run_id: str) -> list[tuple[str, str]]:
    state = json.loads((repo / ".git" / "tui-orch" / "runs" / run_id / "state.json").read_text())
    return [(step, subject) for step, subject, _at in state["history"]]


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_run_killed_after_any_step_is_finished_by_resume(
    repo: Path, tmp_path: Path, point: str
) -> None:
    plan = two_batch_plan(tmp_path)
    runs_log = tmp_path / "runs.log"
    env = {"RUNS_LOG": str(runs_log)}
    killed = run_cli(
        "run",
        str(plan),
        "--repo",
        str(repo),
        "--headless",
        "--yes",
        cwd=repo,
        env={**env, "TUI_ORCH_KILL_AFTER": point},
    )
    assert killed.code == -signal.SIGKILL, (killed.stdout, killed.stderr)
    run_id = only_run(repo)
    step, _, subject = point.partition(":")
    recorded = history(repo, run_id)  # the step was on disk before the kill
    assert any(s == step and subject in ("", about) for s, about in recorded), recorded

    if point in ("base-moved", "cleaned"):
        status = run_cli("status", run_id, "--repo", str(repo), "--json", cwd=repo)
        view = json.loads(status.stdout)["runs"][0]
        assert view["phase"] == "merged" and not view["finished"], status.stdout
        assert f"tui-orch resume {run_id}" in view["message"]

    resumed = run_cli("resume", "--repo", str(repo), "--headless", "--yes", cwd=repo, env=env)
    assert resumed.code == 0, (resumed.stdout, resumed.stderr)
    assert "merged 3 tasks into 'main'" in resumed.stdout

    for name in ("a", "b", "c"):
        assert git(repo, "show", f"main:{name}.txt") == f"written by {name}"
    # Each agent and the validation ran once: none was started again over a live one.
    assert Counter(runs_log.read_text().split()) == {"a": 1, "b": 1, "c": 1, "validate": 1}
    steps = Counter(history(repo, run_id))
    for once in [
        *(("task-started", t) for t in "abc"),
        *(("task-merged", t) for t in "abc"),
        ("batch-merged", "1"),
        ("batch-merged", "2"),
        ("validation-started", "1"),
        ("base-moved", git(repo, "rev-parse", "main")),
        ("cleaned", ""),
        ("concluded", "merged"),
    ]:
        assert steps[once] == 1, (once, steps)
    # One merge commit per task on main: nothing merged twice.
    merges = git(repo, "log", "--merges", "--format=%s", "main").splitlines()
    assert sorted(merges) == sorted(
        [
            "tui-orch: merge task 'a' (batch 1)",
            "tui-orch: merge task 'b' (batch 1)",
            "tui-orch: merge task 'c' (batch 2)",
        ]
    )
    assert branches(repo) == ["main"]
    assert [Path(p).resolve() for p in worktree_paths(repo)] == [repo.resolve()]
    status = run_cli("status", run_id, "--repo", str(repo), "--json", cwd=repo)
    view = json.loads(status.stdout)["runs"][0]
    assert (view["phase"], view["cleaned"], view["finished"]) == ("merged", True, True)


def test_a_run_killed_after_it_concluded_has_nothing_left_to_resume(
    repo: Path, tmp_path: Path
) -> None:
    plan = two_batch_plan(tmp_path)
    env = {"RUNS_LOG": str(tmp_path / "runs.log"), "TUI_ORCH_KILL_AFTER": "concluded"}
    killed = run_cli(
        "run", str(plan), "--repo", str(repo), "--headless", "--yes", cwd=repo, env=env
    )
    assert killed.code == -signal.SIGKILL
    resumed = run_cli("resume", "--repo", str(repo), "--headless", "--yes", cwd=repo)
    assert resumed.code == 2  # nothing to do: the answer to a wrong request
    assert "there is no unfinished run to resume" in resumed.stderr
    assert branches(repo) == ["main"]


def test_a_restart_killed_after_it_started_is_counted_once(repo: Path, tmp_path: Path) -> None:
    """A failed task retried by resume, the driver killed right after the retry started:
    the next resume follows that agent, so the task ran twice and says 2 attempts."""
    fixed = tmp_path / "fixed"
    agent = script_agent(
        tmp_path,
        "flaky",
        f"""
        with open(os.environ["RUNS_LOG"], "a") as runs:
            runs.write(TASK + "\\n")
        if not pathlib.Path({str(fixed)!r}).exists():
            sys.exit(3)
        time.sleep(0.5)
        pathlib.Path("a.txt").write_text("written by a\\n")
        """,
    )
    plan = write_plan(tmp_path / "plan.yaml", [{"id": "a", "files": ["a.txt"]}], {"a": agent})
    runs_log = tmp_path / "runs.log"
    env = {"RUNS_LOG": str(runs_log)}
    failed = run_cli(
        "run", str(plan), "--repo", str(repo), "--headless", "--yes", cwd=repo, env=env
    )
    assert failed.code == 1
    run_id = only_run(repo)
    fixed.touch()
    killed = run_cli(
        "resume", run_id, "--repo", str(repo), "--headless", "--yes", cwd=repo,
        env={**env, "TUI_ORCH_KILL_AFTER": "task-started:a"},
    )  # fmt: skip
    assert killed.code == -signal.SIGKILL
    resumed = run_cli(
        "resume", run_id, "--repo", str(repo), "--headless", "--yes", cwd=repo, env=env
    )
    assert resumed.code == 0, resumed.stderr
    assert runs_log.read_text().split() == ["a", "a"]  # the failure, then one retry
    status = run_cli("status", run_id, "--repo", str(repo), "--json", cwd=repo)
    (task,) = json.loads(status.stdout)["runs"][0]["tasks"]
    assert (task["state"], task["attempts"]) == ("merged", 2)
    log = (repo / ".git" / "tui-orch" / "runs" / run_id / "logs" / "a.log").read_text()
    assert log.count("--- tui-orch: attempt 2 ---") == 1 and "attempt 3" not in log
    assert [s for s, about in history(repo, run_id) if s == "task-started"] == ["task-started"] * 2


def test_an_interrupted_agent_s_partial_work_is_committed_before_its_restart(
    repo: Path, tmp_path: Path
) -> None:
    """Ctrl-C stops a run mid-task; resume restarts the task in its worktree, after a
    work-in-progress commit of what the stopped agent left: the new attempt builds on it
    and cannot lose it."""
    import subprocess
    import time

    started = tmp_path / "first-attempt-wrote"
    agent = script_agent(
        tmp_path,
        "slow",
        f"""
        note = pathlib.Path({str(started)!r})
        target = pathlib.Path("a.txt")
        if not note.exists():
            target.write_text("part 1\\n")
            note.touch()
            time.sleep(60)  # interrupted here
        target.write_text(target.read_text() + "part 2\\n")
        """,
    )
    plan = write_plan(tmp_path / "plan.yaml", [{"id": "a", "files": ["a.txt"]}], {"a": agent})
    command = [sys.executable, "-m", "tui_orch", "run", str(plan), "--repo", str(repo)]
    driver = subprocess.Popen(
        [*command, "--headless", "--yes"], cwd=repo, stdout=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 30
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    driver.send_signal(signal.SIGINT)  # Ctrl-C: the agent is stopped, its work kept
    out, _ = driver.communicate(timeout=30)
    assert driver.returncode == 130, out
    run_id = only_run(repo)

    resumed = run_cli("resume", run_id, "--repo", str(repo), "--headless", "--yes", cwd=repo)
    assert resumed.code == 0, resumed.stderr
    assert git(repo, "show", "main:a.txt") == "part 1\npart 2"
    subjects = git(repo, "log", "--format=%s", "main").splitlines()
    wip = "tui-orch: a: work in progress of attempt 1 (stopped)"
    assert wip in subjects
    wip_commit = git(repo, "log", "--format=%H", f"--grep={wip}", "main").split()[0]
    assert git(repo, "show", f"{wip_commit}:a.txt") == "part 1"
