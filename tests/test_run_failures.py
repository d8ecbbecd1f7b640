"""`tui-orch run` end to end: success, and every way a run can fail or refuse to start.

Each test runs the real CLI on a real repository with small Python scripts as agents, and
checks what a user cares about: the exit code, one clear sentence, the base branch left
alone on failure, and no work lost (commits on their branches, worktrees kept).
"""

from __future__ import annotations

import json
import os
import pty
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import CliResult, git
from tests.process_guard import TAG_NAME, describe, tagged_processes
from tests.run_helpers import (
    branches,
    commits_on,
    head,
    json_events,
    run_plan,
    script_agent,
    worktree_of,
    worktree_paths,
    write_plan,
)

# -- helpers ---------------------------------------------------------------------------------


def runs_dir(repo: Path) -> Path:
    return repo / ".git" / "tui-orch" / "runs"


def run_ids(repo: Path) -> list[str]:
    root = runs_dir(repo)
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def only_run(repo: Path) -> str:
    ids = run_ids(repo)
    assert len(ids) == 1, ids
    return ids[0]


def task_branch(run_id: str, task_id: str) -> str:
    return f"tui-orch/{run_id}/{task_id}"


def log_of(repo: Path, run_id: str, task_id: str) -> Path:
    return runs_dir(repo) / run_id / "logs" / f"{task_id}.log"


def error_lines(result: CliResult) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def show(repo: Path, ref: str, path: str) -> str:
    return git(repo, "show", f"{ref}:{path}")


def assert_nothing_created(repo: Path, before: str) -> None:
    """A refused run leaves no trace: no run state, branch, worktree, and base untouched."""
    assert run_ids(repo) == []
    assert branches(repo) == ["main"]
    assert [Path(p).resolve() for p in worktree_paths(repo)] == [repo.resolve()]
    assert head(repo) == before


def assert_table_row(stdout: str, *cells: str) -> None:
    rows = [line.split() for line in stdout.splitlines()]
    assert any(row[: len(cells)] == list(cells) for row in rows), stdout


def tagged_with(text: str) -> list[str]:
    """Live processes of this test whose command line contains text."""
    found = [describe(pid) for pid in tagged_processes(os.environ[TAG_NAME])]
    return [entry for entry in found if text in entry]


# Writes every owned file with the task's id in it.
WRITE_OWNED = """
for name in FILES:
    path = pathlib.Path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"written by {TASK}\\n")
print(f"{TASK} wrote {len(FILES)} file(s)", flush=True)
"""


# -- 1. success --------------------------------------------------------------------------------


def test_two_batches_merge_into_base_and_leave_nothing_behind(repo: Path, tmp_path: Path) -> None:
    before = head(repo)
    writer = script_agent(tmp_path, "writer", WRITE_OWNED)
    # The dependent task must see its dependency's file, or it fails the run.
    reader = script_agent(
        tmp_path,
        "reader",
        """
        seen = pathlib.Path("a.txt")
        if not seen.is_file() or seen.read_text() != "written by a\\n":
            print("a.txt from task 'a' is missing in my worktree", flush=True)
            sys.exit(3)
        pathlib.Path("b.txt").write_text("b saw: " + seen.read_text())
        """,
    )
    plan = write_plan(
        tmp_path / "plan.yaml",
        [
            {"id": "a", "files": ["a.txt"]},
            {"id": "b", "files": ["b.txt"], "depends_on": ["a"], "agent": "reader"},
        ],
        {"writer": writer, "reader": reader},
    )

    result = run_plan(plan, repo)

    assert result.code == 0, result.stderr
    assert show(repo, "main", "a.txt") == "written by a"
    assert show(repo, "main", "b.txt") == "b saw: written by a"
    # main is checked out in the repository: its files are there too.
    assert (repo / "b.txt").read_text() == "b saw: written by a\n"
    assert len(commits_on(repo, "main", before)) >= 2
    assert [Path(p).resolve() for p in worktree_paths(repo)] == [repo.resolve()]
    assert branches(repo) == ["main"]
    assert git(repo, "status", "--porcelain") == ""
    # The summary table and the closing sentence.
    assert_table_row(result.stdout, "task", "state", "exit", "duration", "files", "commits")
    assert_table_row(result.stdout, "a", "merged", "0")
    assert_table_row(result.stdout, "b", "merged", "0")
    assert "merged 2 tasks into 'main'" in result.stdout
    assert result.stderr == ""
    # The logs stay after the clean-up.
    assert "a wrote 1 file(s)" in log_of(repo, only_run(repo), "a").read_text()


# -- 2. an agent fails -------------------------------------------------------------------------


def test_failed_agent_stops_the_run_and_keeps_everyone_s_work(repo: Path, tmp_path: Path) -> None:
    before = head(repo)
    good = script_agent(tmp_path, "good", WRITE_OWNED)
    # Like an agent that commits as it goes: one commit of its own, then unsaved work.
    bad = script_agent(
        tmp_path,
        "bad",
        """
        pathlib.Path("half.txt").write_text("half done\\n")
        subprocess.run(["git", "add", "half.txt"], check=True)
        subprocess.run(["git", "commit", "-q", "-m", "half of it"], check=True)
        pathlib.Path("unsaved.txt").write_text("not committed\\n")
        print("giving up", flush=True)
        sys.exit(1)
        """,
    )
    plan = write_plan(
        tmp_path / "plan.yaml",
        [
            {"id": "good", "files": ["good.txt"]},
            {"id": "bad", "files": ["half.txt", "unsaved.txt"], "agent": "bad"},
        ],
        {"good": good, "bad": bad},
    )

    result = run_plan(plan, repo)

    assert result.code == 1
    run_id = only_run(repo)
    worktree = worktree_of(repo, run_id, "bad")
    log = log_of(repo, run_id, "bad")
    lines = error_lines(result)
    assert len(lines) == 1, result.stderr
    sentence = lines[-1]
    assert sentence.startswith("tui-orch: task 'bad' failed: its agent exited with code 1")
    assert f"its log is {log}" in sentence
    assert f"its work is kept in {worktree}" in sentence
    assert "nothing of batch 1 was merged" in sentence
    assert "'main' was not touched" in sentence
    assert f"tui-orch resume {run_id}" in sentence
    assert "giving up" in log.read_text()
    # Base untouched, nothing merged, every agent's work where it was.
    assert head(repo) == before
    assert head(repo, f"tui-orch/{run_id}/integration") == before
    assert len(commits_on(repo, task_branch(run_id, "good"), before)) == 1
    assert show(repo, task_branch(run_id, "good"), "good.txt") == "written by good"
    assert len(commits_on(repo, task_branch(run_id, "bad"), before)) == 1
    assert task_branch(run_id, "bad") in branches(repo)
    assert (worktree / "half.txt").read_text() == "half done\n"
    assert (worktree / "unsaved.txt").read_text() == "not committed\n"
    assert not (repo / "good.txt").exists()
    assert_table_row(result.stdout, "bad", "failed", "1")
    assert_table_row(result.stdout, "good", "succeeded", "0")


# -- 3. a hanging agent with grandchildren ----------------------------------------------------


def test_timeout_stops_the_agent_and_everything_it_started(repo: Path, tmp_path: Path) -> None:
    before = head(repo)
    hang = script_agent(
        tmp_path,
        "hang",
        """
        pathlib.Path("started.txt").write_text("partial\\n")
        subprocess.Popen(["sleep", "300"])
        subprocess.Popen(["setsid", "sleep", "300"])
        subprocess.Popen(["sleep", "300"], start_new_session=True)
        print("hanging", flush=True)
        time.sleep(60)
        """,
    )
    plan = write_plan(
        tmp_path / "plan.yaml",
        [{"id": "slow", "files": ["started.txt"], "timeout": "1s"}],
        {"hang": hang},
    )

    started = time.monotonic()
    result = run_plan(plan, repo)
    elapsed = time.monotonic() - started

    # Checked at once: nothing of the agent may outlive the run that reported it stopped.
    assert tagged_with("sleep 300") == []
    assert tagged_with(hang[1]) == []
    assert result.code == 1
    assert elapsed < 20
    run_id = only_run(repo)
    lines = error_lines(result)
    assert len(lines) == 1, result.stderr
    assert "task 'slow' failed: its agent ran past its 1s timeout and was stopped" in lines[0]
    assert "'main' was not touched" in lines[0]
    assert head(repo) == before
    assert (worktree_of(repo, run_id, "slow") / "started.txt").read_text() == "partial\n"
    assert "hanging" in log_of(repo, run_id, "slow").read_text()


# -- 4. validation fails ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "display"),
    [
        ([sys.executable, "-c", "import sys; sys.exit(4)"], "import sys; sys.exit(4)"),
        ("echo checking; exit 4", "echo checking; exit 4"),
    ],
    ids=["argv", "shell"],
)
def test_failed_validation_keeps_base_and_the_integration_branch(
    repo: Path, tmp_path: Path, command: object, display: str
) -> None:
    before = head(repo)
    writer = script_agent(tmp_path, "writer", WRITE_OWNED)
    plan = write_plan(
        tmp_path / "plan.yaml",
        [{"id": "v", "files": ["v.txt"]}],
        {"writer": writer},
        validate=[command],
    )

    result = run_plan(plan, repo)

    assert result.code == 1
    run_id = only_run(repo)
    integration = f"tui-orch/{run_id}/integration"
    lines = error_lines(result)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tui-orch: validation failed: `")
    assert display in lines[0]
    assert "exited with code 4" in lines[0]
    assert "'main' was not touched" in lines[0]
    assert f"{integration} is kept" in lines[0]
    assert head(repo) == before
    assert integration in branches(repo)
    assert show(repo, integration, "v.txt") == "written by v"
    assert len(commits_on(repo, task_branch(run_id, "v"), before)) == 1
    assert not (repo / "v.txt").exists()


def test_failed_validation_names_the_command_as_it_could_be_typed(
    repo: Path, tmp_path: Path
) -> None:
    writer = script_agent(tmp_path, "writer", WRITE_OWNED)
    argv = [sys.executable, "-c", "import sys; sys.exit(4)"]
    plan = write_plan(
        tmp_path / "plan.yaml", [{"id": "v", "files": ["v.txt"]}], {"writer": writer}, [argv]
    )

    result = run_plan(plan, repo)

    assert result.code == 1
    assert f"`{shlex.join(argv)}`" in result.stderr


# -- 5. a merge conflict --------------------------------------------------------------------


def test_merge_conflict_is_aborted_and_both_branches_keep_their_work(
    repo: Path, tmp_path: Path
) -> None:
    before = head(repo)
    # 'y' also writes the file that 'x' owns (the plan lets that through with warn).
    writer = script_agent(
        tmp_path,
        "writer",
        """
        pathlib.Path("shared.txt").write_text(f"{TASK}'s version\\n")
        pathlib.Path(f"{TASK}.txt").write_text("own file\\n")
        """,
    )
    plan = write_plan(
        tmp_path / "plan.yaml",
        [
            {"id": "x", "files": ["shared.txt", "x.txt"]},
            {"id": "y", "files": ["y.txt"]},
        ],
        {"writer": writer},
        # Let y's stray edit through the live checks, so the merge itself is what conflicts.
        conflicts={"unowned_edit": "warn", "overlap": "warn"},
    )

    result = run_plan(plan, repo)

    assert result.code == 1
    run_id = only_run(repo)
    lines = error_lines(result)
    assert len(lines) == 1, result.stderr
    assert "merging task 'y'" in lines[0]
    assert "conflicts with task 'x' in shared.txt" in lines[0]
    assert "the merge was aborted" in lines[0]
    assert f"tui-orch resume {run_id}" in lines[0]
    assert head(repo) == before
    for task_id in ("x", "y"):
        assert len(commits_on(repo, task_branch(run_id, task_id), before)) == 1
        assert show(repo, task_branch(run_id, task_id), "shared.txt") == f"{task_id}'s version"
    # The integration worktree holds 'x' merged and no half-done merge of 'y'.
    integration = worktree_of(repo, run_id, "_integration")
    assert git(integration, "status", "--porcelain") == ""
    merge_head = Path(
        git(integration, "rev-parse", "--path-format=absolute", "--git-path", "MERGE_HEAD")
    )
    assert not merge_head.exists()
    assert (integration / "shared.txt").read_text() == "x's version\n"
    assert not (integration / "y.txt").exists()


# -- 6-8, 13. refusals before anything is created ---------------------------------------------


def test_dirty_base_tree_is_refused_before_anything_is_created(repo: Path, tmp_path: Path) -> None:
    before = head(repo)
    (repo / "README.md").write_text("my unsaved edit\n")
    writer = script_agent(tmp_path, "writer", WRITE_OWNED)
    plan = write_plan(tmp_path / "plan.yaml", [{"id": "a", "files": ["a.txt"]}], {"w": writer})

    result = run_plan(plan, repo)

    assert result.code == 2
    assert error_lines(result) == [
        f"tui-orch: {repo} has uncommitted changes (README.md) on 'main', the branch this run "
        "merges into; commit or stash them first"
    ]
    assert result.stdout == ""
    assert_nothing_created(repo, before)
    assert (repo / "README.md").read_text() == "my unsaved edit\n"


def test_missing_base_branch_is_refused_before_anything_is_created(
    repo: Path, tmp_path: Path
) -> None:
    before = head(repo)
    writer = script_agent(tmp_path, "writer", WRITE_OWNED)
    plan = write_plan(
        tmp_path / "plan.yaml", [{"id": "a", "files": ["a.txt"]}], {"w": writer}, base="nope"
    )

    result = run_plan(plan, repo)

    assert result.code == 2
    lines = error_lines(result)
    assert "base: branch 'nope' does not exist" in lines[0]
    assert "main" in lines[0]
    assert lines[-1] == "1 problem found; nothing was run."
    assert_nothing_created(repo, before)


def test_agent_program_not_on_path_is_refused(repo: Path, tmp_path: Path) -> None:
    before = head(repo)
    writer = script_agent(tmp_path, "writer", WRITE_OWNED)
    plan = write_plan(
        tmp_path / "plan.yaml",
        [{"id": "a", "files": ["a.txt"]}, {"id": "g", "files": ["g.txt"], "agent": "ghost"}],
        {"writer": writer, "ghost": ["no-such-agent-xyz", "--go"]},
    )

    result = run_plan(plan, repo)

    assert result.code == 2
    assert error_lines(result) == [
        "tui-orch: agent 'ghost' (task 'g'): 'no-such-agent-xyz' was not found on PATH; "
        "install it or change the profile's command"
    ]
    assert_nothing_created(repo, before)


def test_without_yes_and_no_terminal_is_refused(repo: Path, tmp_path: Path) -> None:
    before = head(repo)
    writer = script_agent(tmp_path, "writer", WRITE_OWNED)
    plan = write_plan(tmp_path / "plan.yaml", [{"id": "a", "files": ["a.txt"]}], {"w": writer})

    done = subprocess.run(
        [sys.executable, "-m", "tui_orch", "run", str(plan), "--repo", str(repo), "--headless"],
        cwd=repo,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "tui-orch: approvals are needed but stdin is not a terminal; pass --yes to approve "
        "every step"
    ]
    assert_nothing_created(repo, before)


# -- 9. the base branch moves during the run -----------------------------------------------


def test_base_moved_during_the_run_is_not_touched(repo: Path, tmp_path: Path) -> None:
    before = head(repo)
    mover = script_agent(
        tmp_path,
        "mover",
        f"""
        pathlib.Path("m.txt").write_text("task work\\n")
        # Meanwhile, the user commits on main in their own checkout.
        subprocess.run(
            ["git", "-C", {str(repo)!r}, "commit", "-q", "--allow-empty", "-m", "moved"],
            check=True,
        )
        """,
    )
    plan = write_plan(tmp_path / "plan.yaml", [{"id": "m", "files": ["m.txt"]}], {"m": mover})

    result = run_plan(plan, repo)

    assert result.code == 1
    run_id = only_run(repo)
    integration = f"tui-orch/{run_id}/integration"
    lines = error_lines(result)
    assert len(lines) == 1, result.stderr
    assert "'main' moved during the run" in lines[0]
    assert "it was not touched" in lines[0]
    assert f"tui-orch resume {run_id}" in lines[0]
    users_commit = head(repo)
    assert git(repo, "log", "-1", "--format=%s", "main") == "moved"
    assert git(repo, "rev-parse", "main~1") == before
    assert users_commit != head(repo, integration)
    assert integration in branches(repo)
    assert show(repo, integration, "m.txt") == "task work"
    assert len(commits_on(repo, task_branch(run_id, "m"), before)) == 1
    assert not (repo / "m.txt").exists()


# -- 10. Ctrl-C ---------------------------------------------------------------------------------


def _default_sigint() -> None:
    # A shell may start background jobs with SIGINT ignored; a user's terminal does not.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_run_in_background(
    plan: Path, repo: Path, tmp_path: Path
) -> tuple[subprocess.Popen[bytes], Path, Path]:
    """`tui-orch run --headless --yes` as a background process that Ctrl-C can reach.

    Returns the process and the files its stdout and stderr go to.
    """
    out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    argv = [sys.executable, "-m", "tui_orch", "run", str(plan), "--repo", str(repo)]
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        cli = subprocess.Popen(
            [*argv, "--headless", "--yes"],
            cwd=repo,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            preexec_fn=_default_sigint,
        )
    return cli, out, err


def test_ctrl_c_stops_the_agents_and_keeps_their_partial_work(repo: Path, tmp_path: Path) -> None:
    before = head(repo)
    slow = script_agent(
        tmp_path,
        "slow",
        """
        pathlib.Path(f"{TASK}.partial").write_text("half\\n")
        print(f"agent {TASK} is working", flush=True)
        time.sleep(60)
        """,
    )
    plan = write_plan(
        tmp_path / "plan.yaml",
        [{"id": "p", "files": ["p.partial"]}, {"id": "q", "files": ["q.partial"]}],
        {"slow": slow},
    )
    cli, out, err = start_run_in_background(plan, repo, tmp_path)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            text = out.read_text()
            if "agent p is working" in text and "agent q is working" in text:
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"the agents did not start:\n{out.read_text()}\n{err.read_text()}")
        cli.send_signal(signal.SIGINT)
        code = cli.wait(timeout=30)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()

    assert tagged_with(slow[1]) == []
    assert code == 130
    run_id = only_run(repo)
    lines = [line for line in err.read_text().splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("tui-orch: interrupted: stopped 2 running agents")
    assert f"tui-orch resume {run_id}" in lines[0]
    assert head(repo) == before
    assert head(repo, f"tui-orch/{run_id}/integration") == before
    for task_id in ("p", "q"):
        worktree = worktree_of(repo, run_id, task_id)
        assert (worktree / f"{task_id}.partial").read_text() == "half\n"
        assert git(worktree, "status", "--porcelain") == f"?? {task_id}.partial"
        assert commits_on(repo, task_branch(run_id, task_id), before) == []
    assert_table_row(out.read_text(), "p", "failed", "(stopped)")


# -- 11. --json --------------------------------------------------------------------------------


def test_json_output_is_one_event_per_line_with_batched_agent_output(
    repo: Path, tmp_path: Path
) -> None:
    chatty = script_agent(
        tmp_path,
        "chatty",
        """
        for number in range(200):
            print(f"line {number}")
        sys.stdout.flush()
        pathlib.Path("chatty.txt").write_text("done\\n")
        """,
    )
    plan = write_plan(
        tmp_path / "plan.yaml",
        [{"id": "chatty", "files": ["chatty.txt"]}],
        {"chatty": chatty},
        validate=[[sys.executable, "-c", "pass"]],
    )

    result = run_plan(plan, repo, "--json")

    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    events = [json.loads(line) for line in lines]
    assert all(isinstance(event, dict) and "event" in event for event in events)
    assert events == json_events(result)
    kinds = [event["event"] for event in events]
    expected = [
        "run_started",
        "batch_started",
        "agent_started",
        "agent_output",
        "agent_exited",
        "task_committed",
        "merge_done",
        "validation_result",
        "base_merged",
        "cleaned_up",
        "run_finished",
    ]
    remaining = iter(kinds)
    assert all(kind in remaining for kind in expected), kinds  # in this order
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    outputs = [e for e in events if e["event"] == "agent_output" and e["task_id"] == "chatty"]
    assert any(len(e["lines"]) > 1 for e in outputs)
    assert [line for e in outputs for line in e["lines"]] == [f"line {n}" for n in range(200)]
    assert events[-1]["outcome"] == "merged" and events[-1]["exit_code"] == 0
    assert show(repo, "main", "chatty.txt") == "done"


# -- 12. bytes that are not text -----------------------------------------------------------------


def test_invalid_utf8_and_a_huge_unterminated_line_reach_the_log_intact(
    repo: Path, tmp_path: Path
) -> None:
    expected = b"before\n" + b"bad \xff\xfe\xc3( bytes\n" + b"x" * (1024 * 1024)
    (tmp_path / "payload.bin").write_bytes(expected)
    noisy = script_agent(
        tmp_path,
        "noisy",
        f"""
        sys.stdout.buffer.write(pathlib.Path({str(tmp_path / "payload.bin")!r}).read_bytes())
        sys.stdout.flush()
        pathlib.Path("noisy.txt").write_text("done\\n")
        """,
    )
    plan = write_plan(
        tmp_path / "plan.yaml", [{"id": "noisy", "files": ["noisy.txt"]}], {"n": noisy}
    )

    result = run_plan(plan, repo)

    assert result.code == 0, result.stderr
    assert show(repo, "main", "noisy.txt") == "done"
    # The console shows the line cut short, and says where the whole of it is.
    assert len(result.stdout) < 100_000
    assert "the log file has the whole line" in result.stdout
    assert "bad \ufffd\ufffd\ufffd( bytes" in result.stdout
    logs = subprocess.run(
        [sys.executable, "-m", "tui_orch", "logs", "noisy", "--repo", str(repo)],
        cwd=repo,
        capture_output=True,
        timeout=60,
    )
    assert logs.returncode == 0, logs.stderr
    assert logs.stdout == expected
    assert log_of(repo, only_run(repo), "noisy").read_bytes() == expected


# -- unclear messages found while writing these tests ----------------------------------------


def _untracked_in_the_way(repo: Path, tmp_path: Path) -> CliResult:
    """The user has an untracked a.txt in their checkout of main; the task creates a.txt."""
    (repo / "a.txt").write_text("the user's own notes\n")
    writer = script_agent(tmp_path, "writer", WRITE_OWNED)
    plan = write_plan(tmp_path / "plan.yaml", [{"id": "a", "files": ["a.txt"]}], {"w": writer})
    return run_plan(plan, repo)


def test_untracked_file_in_the_way_keeps_base_and_the_user_s_file(
    repo: Path, tmp_path: Path
) -> None:
    before = head(repo)

    result = _untracked_in_the_way(repo, tmp_path)

    assert result.code == 1
    run_id = only_run(repo)
    lines = error_lines(result)
    assert len(lines) == 1, result.stderr
    assert "'main' could not be fast-forwarded" in lines[0]
    assert "so it was not moved and everything is kept" in lines[0]
    assert f"tui-orch resume {run_id}" in lines[0]
    assert head(repo) == before
    assert (repo / "a.txt").read_text() == "the user's own notes\n"
    assert show(repo, f"tui-orch/{run_id}/integration", "a.txt") == "written by a"
    assert len(commits_on(repo, task_branch(run_id, "a"), before)) == 1


def test_untracked_file_in_the_way_is_named(repo: Path, tmp_path: Path) -> None:
    result = _untracked_in_the_way(repo, tmp_path)

    assert result.code == 1
    assert "a.txt" in error_lines(result)[-1]


def test_a_run_that_changes_nothing_does_not_claim_main_moved(repo: Path, tmp_path: Path) -> None:
    before = head(repo)
    idle = script_agent(tmp_path, "idle", 'print("nothing to do")\n')
    plan = write_plan(tmp_path / "plan.yaml", [{"id": "n", "files": ["n.txt"]}], {"idle": idle})

    result = run_plan(plan, repo)

    assert result.code == 1, result.stderr
    assert head(repo) == before
    assert f"'main' moved {before[:8]} -> {before[:8]}" not in result.stdout
    assert f"committed {before[:8]}" not in result.stdout
    assert error_lines(result)[-1].startswith("tui-orch: no task changed anything")


def test_ctrl_c_during_validation_says_what_it_stopped(repo: Path, tmp_path: Path) -> None:
    before = head(repo)
    writer = script_agent(tmp_path, "writer", WRITE_OWNED)
    plan = write_plan(
        tmp_path / "plan.yaml",
        [{"id": "a", "files": ["a.txt"]}],
        {"w": writer},
        validate=["echo validating; sleep 60"],
    )
    cli, out, err = start_run_in_background(plan, repo, tmp_path)
    try:
        deadline = time.monotonic() + 20
        while "validate | validating" not in out.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        cli.send_signal(signal.SIGINT)
        code = cli.wait(timeout=30)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()

    assert tagged_with("sleep 60") == []
    assert code == 130
    assert head(repo) == before
    message = err.read_text()
    assert "interrupted" in message
    assert "stopped 0 running jobs" not in message


# -- a person at the terminal decides about a failed task -------------------------------------


def answer_on_a_terminal(repo: Path, plan: Path, answers: list[tuple[str, str]]) -> tuple[int, str]:
    """Run headless without --yes, stdin a terminal: give each answer when its question
    (a piece of the prompt) has been printed; return the exit code and everything said."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "tui_orch", "run", str(plan), "--repo", str(repo), "--headless"],
        cwd=repo,
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    said = b""
    try:
        for question, answer in answers:
            deadline = time.monotonic() + 60
            while question.encode() not in said:
                assert time.monotonic() < deadline, said.decode(errors="replace")
                assert process.stdout is not None
                said += os.read(process.stdout.fileno(), 65536)
            said = said.replace(question.encode(), b"<asked>", 1)
            os.write(controller, f"{answer}\n".encode())
        rest, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(controller)
        os.close(terminal)
    return process.returncode, (said + rest).decode(errors="replace")


def test_a_person_can_go_on_without_a_failed_task(repo: Path, tmp_path: Path) -> None:
    before = head(repo)
    good = script_agent(tmp_path, "good", WRITE_OWNED)
    bad = script_agent(
        tmp_path, "bad", 'pathlib.Path("b.txt").write_text("half done\\n")\nsys.exit(1)'
    )
    plan = write_plan(
        tmp_path / "plan.yaml",
        [
            {"id": "a", "files": ["a.txt"], "agent": "good"},
            {"id": "b", "files": ["b.txt"], "agent": "bad"},
            {"id": "c", "files": ["c.txt"], "agent": "good", "depends_on": ["b"]},
        ],
        {"good": good, "bad": bad},
    )

    code, said = answer_on_a_terminal(
        repo,
        plan,
        [
            ("Start batch 1/2", "y"),
            ("[r]estart them, [g]o on without them, or [S]top the run", "g"),
            ("Merge batch 1/2", "y"),
            ("Fast-forward 'main'", "y"),
        ],
    )

    assert code == 0, said
    assert "b failed: exited 1 (and with it c, which need it)" in said
    assert git(repo, "show", "main:a.txt") == "written by a"
    assert "b.txt" not in git(repo, "ls-tree", "--name-only", "main")
    assert len(commits_on(repo, "main", before)) >= 1
    # Its half-done work is kept (the run says so), never cleaned away.
    assert task_branch(only_run(repo), "b") in branches(repo)
    assert (worktree_of(repo, only_run(repo), "b") / "b.txt").read_text() == "half done\n"
    assert "with unmerged work kept" in said
