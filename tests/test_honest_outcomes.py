"""Outcomes are honest, through the real CLI: a task that changed nothing says so, an agent
that left its branch fails before anything is committed for it, and agent text never
drives the operator's terminal."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import subprocess
import sys
import termios
from pathlib import Path

from tests.conftest import git, run_cli
from tests.run_helpers import branches, head, only_run, run_plan, script_agent, write_plan

WRITE_OWNED = """
for name in FILES:
    pathlib.Path(name).write_text(f"written by {TASK}\\n")
print(f"{TASK} wrote {len(FILES)} file(s)", flush=True)
"""
IDLE = """
print("looked around; everything is already as asked", flush=True)
"""


def status_of(repo: Path, run_id: str) -> dict[str, dict[str, object]]:
    done = run_cli("status", run_id, "--json", "--repo", str(repo), cwd=repo)
    assert done.code == 0, done.stderr
    return {task["id"]: task for task in json.loads(done.stdout)["runs"][0]["tasks"]}


# -- tasks that change nothing -----------------------------------------------------------


def test_a_task_that_changed_nothing_is_named_everywhere(repo: Path, tmp_path: Path) -> None:
    writer = script_agent(tmp_path, "writer", WRITE_OWNED)
    idle = script_agent(tmp_path, "idle", IDLE)
    plan = write_plan(
        tmp_path / "plan.yaml",
        [{"id": "real", "files": ["real.txt"]}, {"id": "empty", "files": ["e.txt"], "agent": "i"}],
        {"w": writer, "i": idle},
    )

    result = run_plan(plan, repo)

    assert result.code == 0, result.stderr
    assert "empty | no changes: its agent exited 0 without changing a file" in result.stdout
    assert "merged 1 task into 'main'" in result.stdout
    assert "1 task changed nothing (empty): see `tui-orch logs empty`" in result.stdout
    assert git(repo, "show", "main:real.txt") == "written by real"
    summary = [line.split() for line in result.stdout.splitlines() if line.startswith("empty ")]
    assert ["empty", "no-changes", "0", summary[-1][3], "0", "0"] == summary[-1]
    tasks = status_of(repo, only_run(repo))
    assert tasks["empty"]["state"] == "no-changes"
    assert tasks["real"]["state"] == "merged"
    table = run_cli("status", "--repo", str(repo), cwd=repo).stdout
    assert any(line.split()[:3] == ["empty", "1", "no-changes"] for line in table.splitlines())


def test_a_run_where_every_task_changed_nothing_fails(repo: Path, tmp_path: Path) -> None:
    before = head(repo)
    idle = script_agent(tmp_path, "idle", IDLE)
    plan = write_plan(
        tmp_path / "plan.yaml",
        [{"id": "a", "files": ["a.txt"]}, {"id": "b", "files": ["b.txt"]}],
        {"idle": idle},
        validate=["echo validated > validated.txt"],
    )

    result = run_plan(plan, repo)

    assert result.code == 1
    run_id = only_run(repo)
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "tui-orch: no task changed anything: the agents of 'a', 'b' exited 0 without changing "
        f"a file, so 'main' was not moved; see what they said with `tui-orch logs a --run {run_id}`"
    )
    assert head(repo) == before
    assert "== validate" not in result.stdout  # nothing to validate: it is not run
    assert branches(repo) == ["main"]  # nothing was lost by removing them
    logs = run_cli("logs", "a", "--run", run_id, "--repo", str(repo), cwd=repo)
    assert "everything is already as asked" in logs.stdout
    assert {t["state"] for t in status_of(repo, run_id).values()} == {"no-changes"}


# -- agents that leave their branch ------------------------------------------------------

SWITCH_AND_COMMIT = """
subprocess.run(["git", "checkout", "-q", "-b", "other"], check=True)
for name in FILES:
    pathlib.Path(name).write_text(f"written by {TASK} on other\\n")
subprocess.run(["git", "add", "-A"], check=True)
subprocess.run(["git", "commit", "-q", "-m", "work on the wrong branch"], check=True)
print("committed on other", flush=True)
"""
SWITCH_ONLY = """
subprocess.run(["git", "checkout", "-q", "-b", "elsewhere"], check=True)
for name in FILES:
    pathlib.Path(name).write_text(f"written by {TASK}, never committed\\n")
"""
DETACH = """
subprocess.run(["git", "checkout", "-q", "--detach"], check=True)
for name in FILES:
    pathlib.Path(name).write_text(f"written by {TASK} detached\\n")
subprocess.run(["git", "commit", "-q", "-am", "x", "--allow-empty"], check=True)
"""
RESET_BACK = """
subprocess.run(["git", "reset", "-q", "--hard", "HEAD~1"], check=True)
for name in FILES:
    pathlib.Path(name).write_text(f"written by {TASK} after a reset\\n")
"""


def run_with_stray(repo: Path, tmp_path: Path, body: str) -> tuple[object, str]:
    stray = script_agent(tmp_path, "stray", body)
    writer = script_agent(tmp_path, "writer", WRITE_OWNED)
    plan = write_plan(
        tmp_path / "plan.yaml",
        [{"id": "fine", "files": ["fine.txt"]}, {"id": "s", "files": ["s.txt"], "agent": "x"}],
        {"w": writer, "x": stray},
    )
    result = run_plan(plan, repo)
    return result, only_run(repo)


def test_an_agent_that_commits_on_another_branch_fails_the_task(repo: Path, tmp_path: Path) -> None:
    before = head(repo)

    result, run_id = run_with_stray(repo, tmp_path, SWITCH_AND_COMMIT)

    assert result.code == 1
    assert head(repo) == before
    assert f"tui-orch/{run_id}/s" in branches(repo)
    message = result.stderr
    assert (
        f"task 's' failed: its agent moved its worktree off branch tui-orch/{run_id}/s to "
        "branch 'other' (1 commit of its own), so nothing was committed or merged for it"
    ) in message
    assert "git -C" in message and "merge other" in message
    assert not re.search(r"^s +\| committed [0-9a-f]{8}:", result.stdout, re.MULTILINE)
    assert "merged into the integration branch" not in result.stdout
    # The stray work survives on the branch the agent made.
    assert git(repo, "show", "other:s.txt") == "written by s on other"
    # The task branch holds nothing of it.
    assert git(repo, "rev-list", "--count", f"{before}..tui-orch/{run_id}/s") == "0"
    assert status_of(repo, run_id)["s"]["state"] == "failed"
    assert status_of(repo, run_id)["s"]["reason"] == "left-branch"


def test_an_agent_that_switches_branch_without_committing_fails_the_task(
    repo: Path, tmp_path: Path
) -> None:
    before = head(repo)

    result, run_id = run_with_stray(repo, tmp_path, SWITCH_ONLY)

    assert result.code == 1
    assert head(repo) == before
    assert "to branch 'elsewhere' (no commit of its own and uncommitted changes)" in result.stderr
    assert git(repo, "rev-list", "--count", f"{before}..tui-orch/{run_id}/s") == "0"
    # Resuming does not start an agent over work that is not on its branch.
    again = run_cli("resume", run_id, "--repo", str(repo), "--headless", "--yes", cwd=repo)
    assert again.code == 1
    assert "to branch 'elsewhere'" in again.stderr
    assert "s | started" not in again.stdout and "started" not in again.stdout
    assert head(repo) == before


def test_an_agent_that_detaches_head_fails_the_task(repo: Path, tmp_path: Path) -> None:
    before = head(repo)

    result, _run_id = run_with_stray(repo, tmp_path, DETACH)

    assert result.code == 1
    assert head(repo) == before
    assert "to a detached HEAD at" in result.stderr


def test_an_agent_that_moves_its_branch_back_fails_the_task(repo: Path, tmp_path: Path) -> None:
    (repo / "second.txt").write_text("second\n")
    git(repo, "add", "second.txt")
    git(repo, "commit", "-q", "-m", "second")
    before = head(repo)

    result, _run_id = run_with_stray(repo, tmp_path, RESET_BACK)

    assert result.code == 1
    assert head(repo) == before
    assert "off the commit it started from" in result.stderr


BREAK_WORKTREE = """
os.remove(".git")
for name in FILES:
    pathlib.Path(name).write_text("written after breaking the worktree\\n")
"""


def test_an_agent_that_breaks_its_worktree_fails_the_task_in_one_sentence(
    repo: Path, tmp_path: Path
) -> None:
    before = head(repo)

    result, _run_id = run_with_stray(repo, tmp_path, BREAK_WORKTREE)

    assert result.code == 1
    assert head(repo) == before
    assert "internal error" not in result.stderr
    assert "is no longer a usable git worktree" in result.stderr


# -- agent output never drives the terminal ----------------------------------------------

HOSTILE_OUTPUT = r"""
out = sys.stdout.buffer
out.write(b"\x1b]0;owned title\x07plain start\n")
out.write(b"\x1b[2J\x1b[Hscreen cleared?\n")
out.write(b"progress 10%\rprogress 100%\n")
out.write(b"secret\x08\x08\x08\x08\x08\x08hidden!\n")
out.write(b"nul\x00byte and \xc2\x9b c1 and \xe2\x80\xae bidi\n")
out.write(b"windows line\r\n")
out.flush()
for name in FILES:
    pathlib.Path(name).write_text("ok\n")
"""


def test_agent_control_characters_never_reach_the_console(repo: Path, tmp_path: Path) -> None:
    hostile = script_agent(tmp_path, "hostile", HOSTILE_OUTPUT)
    plan = write_plan(tmp_path / "plan.yaml", [{"id": "h", "files": ["h.txt"]}], {"h": hostile})

    result = run_plan(plan, repo)

    assert result.code == 0, result.stderr
    for printed in (result.stdout, result.stderr):
        assert not any(c in printed for c in "\x1b\r\x08\x00\x07\x9b\u202e")
    lines = result.stdout.splitlines()
    assert r"h | \x1b]0;owned title\x07plain start" in lines
    assert r"h | \x1b[2J\x1b[Hscreen cleared?" in lines
    assert r"h | progress 10%\rprogress 100%" in lines
    assert r"h | secret\b\b\b\b\b\bhidden!" in lines
    assert r"h | nul\x00byte and \x9b c1 and \u202e bidi" in lines
    assert "h | windows line" in lines
    # The log keeps every byte as the agent wrote it.
    log = repo / ".git" / "tui-orch" / "runs" / only_run(repo) / "logs" / "h.log"
    raw = log.read_bytes()
    assert b"\x1b]0;owned title\x07" in raw and b"\x00" in raw and b"\r\n" in raw
    # `logs` to a pipe gives the raw bytes too.
    piped = run_cli("logs", "h", "--repo", str(repo), cwd=repo)
    assert "\x1b[2J" in piped.stdout
    # `logs` on a terminal escapes them; --raw asks for the bytes anyway.
    on_terminal = logs_on_a_terminal(repo, "h")
    assert b"\\x1b[2J\\x1b[Hscreen cleared?" in on_terminal
    assert b"\x1b" not in on_terminal and b"\x00" not in on_terminal
    assert b"\x1b[2J" in logs_on_a_terminal(repo, "h", "--raw")


def logs_on_a_terminal(repo: Path, *args: str) -> bytes:
    """What `tui-orch logs` writes when its stdout is a terminal (a pseudo-terminal here)."""
    controller, terminal = pty.openpty()
    attrs = termios.tcgetattr(terminal)
    attrs[1] &= ~termios.OPOST  # the terminal passes bytes through as written
    termios.tcsetattr(terminal, termios.TCSANOW, attrs)
    done = subprocess.run(
        [sys.executable, "-m", "tui_orch", "logs", *args, "--repo", str(repo)],
        cwd=repo,
        stdout=terminal,
        stderr=subprocess.PIPE,
        timeout=30,
    )
    os.close(terminal)
    assert done.returncode == 0, done.stderr
    output = b""
    with contextlib.suppress(OSError):  # EIO once everything written has been read
        while chunk := os.read(controller, 65536):
            output += chunk
    os.close(controller)
    return output
