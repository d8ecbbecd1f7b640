"""Agents outlive the process that drives them, and a later `resume` picks their work up.

The headless runner is SIGKILLed while two agents run. Their supervisors carry on: the
agents finish, their logs are whole, `tui-orch status` reports how they ended, and
`tui-orch resume` retries the one that failed and merges the run.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import git, run_cli
from tests.run_helpers import json_events, script_agent, write_plan

LINES = 20
PACE = 0.1

AGENT = f"""
marker = pathlib.Path(os.environ["FAIL_MARKER_DIR"]) / f"fail-{{TASK}}"
failing = marker.exists()
if failing:
    marker.unlink()  # fail this once; the retry succeeds
for number in range(1, {LINES + 1}):
    print(f"{{TASK}} line {{number}}", flush=True)
    time.sleep({PACE})
pathlib.Path(FILES[0]).write_text(f"written by {{TASK}}\\n")
sys.exit(3 if failing else 0)
"""


@dataclass
class KilledRun:
    repo: Path
    run_id: str
    run_dir: Path
    runner_output: Path


def expected_lines(task: str) -> list[str]:
    return [f"{task} line {number}" for number in range(1, LINES + 1)]


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def log_has_first_line(log: Path, task: str) -> bool:
    with contextlib.suppress(FileNotFoundError):
        return f"{task} line 1\n" in log.read_text()
    return False


def status_exited(path: Path) -> bool:
    with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
        return json.loads(path.read_text())["state"] == "exited"
    return False


def start_and_kill_runner(repo: Path, tmp_path: Path) -> KilledRun:
    """Start a run of tasks a (exits 0) and b (exits 3 once); SIGKILL the runner mid-way."""
    agent = script_agent(tmp_path, "agent", AGENT)
    plan = write_plan(
        tmp_path / "plan.yaml",
        [{"id": "a", "files": ["a.txt"]}, {"id": "b", "files": ["b.txt"]}],
        {"script": agent},
    )
    runs = repo / ".git" / "tui-orch" / "runs"
    output = tmp_path / "runner.out"
    argv = [sys.executable, "-m", "tui_orch", "run", str(plan), "--repo", str(repo), "--headless"]
    with open(output, "wb") as sink:
        runner = subprocess.Popen(
            [*argv, "--yes"],
            cwd=repo,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:

        def both_started() -> bool:
            return all(
                any(log_has_first_line(log, task) for log in runs.glob(f"*/logs/{task}.log"))
                for task in ("a", "b")
            )

        wait_until(both_started, 30, "both agents to start")
        assert runner.poll() is None, output.read_text()
        runner.send_signal(signal.SIGKILL)
        runner.wait(10)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    assert runner.returncode == -signal.SIGKILL
    (run_dir,) = runs.iterdir()
    return KilledRun(repo, run_dir.name, run_dir, output)


@pytest.fixture
def killed_run(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> KilledRun:
    markers = tmp_path / "markers"
    markers.mkdir()
    (markers / "fail-b").write_text("fail once\n")
    monkeypatch.setenv("FAIL_MARKER_DIR", str(markers))  # agents see it, through every CLI
    killed = start_and_kill_runner(repo, tmp_path)
    for task in ("a", "b"):
        status = killed.run_dir / "jobs" / task / "status.json"
        wait_until(lambda status=status: status_exited(status), 15, f"agent {task} to end")
    return killed


def test_agents_finish_and_report_after_the_runner_is_killed(killed_run: KilledRun) -> None:
    run_dir = killed_run.run_dir
    # The agents ran to their end with nobody watching.
    for task, code in (("a", 0), ("b", 3)):
        status = json.loads((run_dir / "jobs" / task / "status.json").read_text())
        assert (status["state"], status["reason"], status["exit_code"]) == (
            "exited",
            "exited",
            code,
        )
        log = (run_dir / "logs" / f"{task}.log").read_text()
        assert log.splitlines() == expected_lines(task)
    # The state file still says running: its driver died before it could learn otherwise.
    state = json.loads((run_dir / "state.json").read_text())
    assert {t["id"]: t["phase"] for t in state["tasks"].values()} == {
        "a": "running",
        "b": "running",
    }
    # `status` looks the supervisors' results up and shows how each agent ended.
    shown = run_cli("status", "--json", cwd=killed_run.repo)
    assert shown.code == 0, shown.stderr
    (run,) = json.loads(shown.stdout)["runs"]
    assert run["run_id"] == killed_run.run_id
    tasks = {task["id"]: task for task in run["tasks"]}
    assert (tasks["a"]["state"], tasks["a"]["exit_code"], tasks["a"]["alive"]) == (
        "exited",
        0,
        False,
    )
    assert (tasks["b"]["state"], tasks["b"]["exit_code"], tasks["b"]["alive"]) == (
        "failed",
        3,
        False,
    )
    assert tasks["a"]["duration"] >= LINES * PACE * 0.9
    text = run_cli("status", killed_run.run_id, cwd=killed_run.repo)
    assert text.code == 0, text.stderr
    rows = {line.split()[0]: line.split() for line in text.stdout.splitlines()[1:] if line.strip()}
    assert rows["a"][1:4] == ["1", "exited", "0"]
    assert rows["b"][1:4] == ["1", "failed", "3"]
    # `logs` prints each whole log.
    logs = run_cli("logs", "b", "--run", killed_run.run_id, cwd=killed_run.repo)
    assert logs.stdout.splitlines() == expected_lines("b")


def assert_merged(killed_run: KilledRun) -> None:
    repo = killed_run.repo
    state = json.loads((killed_run.run_dir / "state.json").read_text())
    assert state["phase"] == "merged"
    assert {t["id"]: t["phase"] for t in state["tasks"].values()} == {"a": "merged", "b": "merged"}
    assert state["tasks"]["a"]["attempts"] == 1
    assert state["tasks"]["b"]["attempts"] == 2
    assert (repo / "a.txt").read_text() == "written by a\n"
    assert (repo / "b.txt").read_text() == "written by b\n"
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "rev-parse", "HEAD") == state["merged_commit"]
    # a's log is untouched; b's holds the first attempt, then the retry.
    log_a = (killed_run.run_dir / "logs" / "a.log").read_text().splitlines()
    assert log_a == expected_lines("a")
    log_b = (killed_run.run_dir / "logs" / "b.log").read_text().splitlines()
    assert log_b == [*expected_lines("b"), "--- tui-orch: attempt 2 ---", *expected_lines("b")]


def resume(killed_run: KilledRun) -> tuple[int, str]:
    done = run_cli(
        "resume", killed_run.run_id, "--repo", str(killed_run.repo), "--headless", "--yes",
        cwd=killed_run.repo,
    )  # fmt: skip
    return done.code, done.stdout + done.stderr


def test_one_resume_retries_a_task_that_failed_while_the_runner_was_dead(
    killed_run: KilledRun,
) -> None:
    """b failed (exit 3) with no runner watching; `resume` retries it at once and merges."""
    code, output = resume(killed_run)
    assert code == 0, output
    assert_merged(killed_run)


def killed_run_of_two_good_agents(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> KilledRun:
    """Agents a and b both succeed; the runner is SIGKILLed while they print."""
    markers = tmp_path / "markers"
    markers.mkdir()  # no marker: both agents succeed
    monkeypatch.setenv("FAIL_MARKER_DIR", str(markers))
    return start_and_kill_runner(repo, tmp_path)


def resume_json(killed_run: KilledRun) -> list[dict[str, object]]:
    """`resume --json` of the run, which must merge; its events."""
    done = run_cli(
        "resume", killed_run.run_id, "--repo", str(killed_run.repo), "--headless", "--yes",
        "--json", cwd=killed_run.repo,
    )  # fmt: skip
    assert done.code == 0, done.stdout + done.stderr
    return json_events(done)


def test_resume_reattaches_to_agents_that_are_still_running(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Resumed at once, while both agents still print: they are followed, not restarted."""
    killed = killed_run_of_two_good_agents(repo, tmp_path, monkeypatch)
    events = resume_json(killed)
    assert [e for e in events if e["event"] == "agent_started"] == []
    exited = {e["task_id"]: e["exit_code"] for e in events if e["event"] == "agent_exited"}
    assert exited == {"a": 0, "b": 0}
    shown_any = False
    for task in ("a", "b"):
        shown = [
            line
            for e in events
            if e["event"] == "agent_output" and e["task_id"] == task
            for line in e["lines"]  # type: ignore[attr-defined]
        ]
        # Only what came after the re-attach: a tail of the log, nothing twice.
        assert shown == expected_lines(task)[len(expected_lines(task)) - len(shown) :]
        assert len(shown) < LINES
        shown_any = shown_any or bool(shown)
        log = (killed.run_dir / "logs" / f"{task}.log").read_text().splitlines()
        assert log == expected_lines(task)
    assert shown_any, "the agents should still have been running when resume attached"
    state = json.loads((killed.run_dir / "state.json").read_text())
    assert state["phase"] == "merged"
    assert {t["id"]: t["attempts"] for t in state["tasks"].values()} == {"a": 1, "b": 1}
    assert (repo / "a.txt").read_text() == "written by a\n"
    assert (repo / "b.txt").read_text() == "written by b\n"


def test_resume_follows_an_agent_the_dead_runner_never_recorded(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runner died after starting b's agent but before saving that it had (its state
    says b never started): resume finds the agent by its supervisor's status and follows
    it to its end; it never starts a second agent in b's worktree."""
    killed = killed_run_of_two_good_agents(repo, tmp_path, monkeypatch)
    state_path = killed.run_dir / "state.json"
    state = json.loads(state_path.read_text())
    state["tasks"]["b"].update(  # b as it was saved just before its agent started
        phase="pending", start_commit="", supervisor_pid=None, supervisor_start="",
        attempts=0, started_at=None,
    )  # fmt: skip
    state_path.write_text(json.dumps(state))
    events = resume_json(killed)
    assert [e for e in events if e["event"] == "agent_started"] == []
    notices = [str(e["message"]) for e in events if e["event"] == "notice"]
    assert any("task 'b': its agent was started by a tui-orch" in n for n in notices), notices
    # One agent only: its lines once, no second attempt appended to the log.
    log_b = (killed.run_dir / "logs" / "b.log").read_text().splitlines()
    assert log_b == expected_lines("b")
    state = json.loads(state_path.read_text())
    assert state["phase"] == "merged"
    assert state["tasks"]["b"]["attempts"] == 1
    assert git(repo, "show", "main:b.txt") == "written by b"
