"""After a run stopped: `resume`, `status --json`, `logs` and `clean`, through the real CLI."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import CliResult, git, run_cli
from tests.run_helpers import (
    branches,
    commits_on,
    head,
    run_plan,
    script_agent,
    worktree_of,
    worktree_paths,
    write_plan,
)

WRITE_OWNED = """
for name in FILES:
    pathlib.Path(name).write_text(f"written by {TASK}\\n")
print(f"{TASK} wrote {len(FILES)} file(s)", flush=True)
"""


def only_run(repo: Path) -> str:
    root = repo / ".git" / "tui-orch" / "runs"
    ids = sorted(p.name for p in root.iterdir())
    assert len(ids) == 1, ids
    return ids[0]


def resume(repo: Path, run_id: str) -> CliResult:
    return run_cli("resume", run_id, "--repo", str(repo), "--headless", "--yes", cwd=repo)


def show(repo: Path, ref: str, path: str) -> str:
    return git(repo, "show", f"{ref}:{path}")


def assert_all_cleaned_up(repo: Path) -> None:
    assert branches(repo) == ["main"]
    assert [Path(p).resolve() for p in worktree_paths(repo)] == [repo.resolve()]


def failed_run(repo: Path, tmp_path: Path) -> str:
    """A run where 'good' committed its work and 'bad' printed, left a file, and exited 3."""
    good = script_agent(tmp_path, "good", WRITE_OWNED)
    bad = script_agent(
        tmp_path,
        "bad",
        """
        pathlib.Path("bad.txt").write_text("unfinished\\n")
        print("step 1 of 2", flush=True)
        print("error: cannot do step 2", flush=True)
        sys.exit(3)
        """,
    )
    plan = write_plan(
        tmp_path / "plan.yaml",
        [
            {"id": "good", "files": ["good.txt"]},
            {"id": "bad", "files": ["bad.txt"], "agent": "bad"},
        ],
        {"good": good, "bad": bad},
    )
    result = run_plan(plan, repo)
    assert result.code == 1, result.stderr
    return only_run(repo)


# -- resume ---------------------------------------------------------------------------------


def test_resume_retries_the_failed_task_and_merges_everything(repo: Path, tmp_path: Path) -> None:
    before = head(repo)
    marker = tmp_path / "broken"
    marker.write_text("")
    flaky = script_agent(
        tmp_path,
        "flaky",
        f"""
        if pathlib.Path({str(marker)!r}).exists():
            print("still broken", flush=True)
            sys.exit(5)
        pathlib.Path("a.txt").write_text("fixed a\\n")
        """,
    )
    writer = script_agent(tmp_path, "writer", WRITE_OWNED)
    plan = write_plan(
        tmp_path / "plan.yaml",
        [
            {"id": "a", "files": ["a.txt"], "agent": "flaky"},
            {"id": "good", "files": ["good.txt"]},
            {"id": "c", "files": ["c.txt"], "depends_on": ["a"]},
        ],
        {"writer": writer, "flaky": flaky},
    )
    first = run_plan(plan, repo)
    assert first.code == 1
    run_id = only_run(repo)
    assert "task 'a' failed: its agent exited with code 5" in first.stderr
    assert head(repo) == before

    marker.unlink()  # the cause is fixed
    result = resume(repo, run_id)

    assert result.code == 0, result.stderr
    assert f"resuming {run_id}" in result.stdout
    assert "merged 3 tasks into 'main'" in result.stdout
    assert show(repo, "main", "a.txt") == "fixed a"
    assert show(repo, "main", "good.txt") == "written by good"
    assert show(repo, "main", "c.txt") == "written by c"
    assert (repo / "c.txt").is_file()
    assert_all_cleaned_up(repo)
    log = run_cli("logs", "a", "--repo", str(repo), cwd=repo).stdout
    assert log == "still broken\n--- tui-orch: attempt 2 ---\n"
    # Once merged there is nothing left to resume.
    again = resume(repo, run_id)
    assert again.code == 2
    assert f"run {run_id} is already merged; there is nothing to resume" in again.stderr


def test_resume_after_base_moved_merges_base_in_and_validates_again(
    repo: Path, tmp_path: Path
) -> None:
    before = head(repo)
    mover = script_agent(
        tmp_path,
        "mover",
        f"""
        pathlib.Path("m.txt").write_text("task work\\n")
        # Meanwhile, the user commits a file on main in their own checkout.
        user_repo = {str(repo)!r}
        pathlib.Path(user_repo, "user.txt").write_text("user work\\n")
        subprocess.run(["git", "-C", user_repo, "add", "user.txt"], check=True)
        subprocess.run(["git", "-C", user_repo, "commit", "-q", "-m", "user work"], check=True)
        """,
    )
    seen = tmp_path / "validated.txt"
    record = f"import os; open({str(seen)!r}, 'a').write(' '.join(sorted(os.listdir('.'))) + '\\n')"
    plan = write_plan(
        tmp_path / "plan.yaml",
        [{"id": "m", "files": ["m.txt"]}],
        {"mover": mover},
        validate=[[sys.executable, "-c", record]],
    )
    first = run_plan(plan, repo)
    assert first.code == 1
    run_id = only_run(repo)
    assert "'main' moved during the run" in first.stderr
    users_commit = head(repo)
    assert users_commit != before

    result = resume(repo, run_id)

    assert result.code == 0, result.stderr
    git(repo, "merge-base", "--is-ancestor", users_commit, "main")  # the user's commit is kept
    assert show(repo, "main", "user.txt") == "user work"
    assert show(repo, "main", "m.txt") == "task work"
    assert (repo / "m.txt").read_text() == "task work\n"
    assert git(repo, "status", "--porcelain") == ""
    # Validated twice: before the user's commit was in, then with it merged in.
    validations = seen.read_text().splitlines()
    assert len(validations) == 2
    assert "m.txt" in validations[0].split() and "user.txt" not in validations[0].split()
    assert {"m.txt", "user.txt"} <= set(validations[1].split())
    assert_all_cleaned_up(repo)


# -- status and logs --------------------------------------------------------------------------


def test_status_json_shows_each_task_s_state_and_exit_code(repo: Path, tmp_path: Path) -> None:
    run_id = failed_run(repo, tmp_path)

    result = run_cli("status", "--json", "--repo", str(repo), cwd=repo)

    assert result.code == 0, result.stderr
    data = json.loads(result.stdout)
    assert Path(data["repo"]).resolve() == repo.resolve()
    [run] = data["runs"]
    assert run["run_id"] == run_id
    assert run["phase"] == "failed"
    assert run["exit_code"] == 1
    assert "task 'bad' failed: its agent exited with code 3" in run["message"]
    tasks = {task["id"]: task for task in run["tasks"]}
    assert tasks["good"]["state"] == "succeeded"
    assert tasks["good"]["exit_code"] == 0
    assert tasks["good"]["commits"] == 1
    assert tasks["good"]["alive"] is False
    assert tasks["bad"]["state"] == "failed"
    assert tasks["bad"]["exit_code"] == 3
    assert tasks["bad"]["commits"] == 0
    assert Path(tasks["bad"]["worktree"]) == worktree_of(repo, run_id, "bad")
    assert Path(tasks["bad"]["log"]).is_file()
    # The same run asked for by name.
    named = run_cli("status", run_id, "--json", "--repo", str(repo), cwd=repo)
    assert json.loads(named.stdout)["runs"] == data["runs"]


def test_logs_prints_what_the_agent_printed(repo: Path, tmp_path: Path) -> None:
    run_id = failed_run(repo, tmp_path)

    result = run_cli("logs", "bad", "--repo", str(repo), cwd=repo)
    named = run_cli("logs", "good", "--run", run_id, "--repo", str(repo), cwd=repo)
    missing = run_cli("logs", "nosuch", "--repo", str(repo), cwd=repo)

    assert result.code == 0
    assert result.stdout == "step 1 of 2\nerror: cannot do step 2\n"
    assert named.code == 0
    assert named.stdout == "good wrote 1 file(s)\n"
    assert missing.code == 2
    assert missing.stderr.strip() == (
        "tui-orch: there is no task 'nosuch' in any run; see `tui-orch status`"
    )


# -- clean ----------------------------------------------------------------------------------


def test_clean_keeps_unmerged_work_unless_forced(repo: Path, tmp_path: Path) -> None:
    before = head(repo)
    run_id = failed_run(repo, tmp_path)
    good_branch, bad_branch = f"tui-orch/{run_id}/good", f"tui-orch/{run_id}/bad"
    bad_worktree = worktree_of(repo, run_id, "bad")

    refused = run_cli("clean", run_id, "--repo", str(repo), cwd=repo)

    assert refused.code == 1
    assert f"  kept: branch {good_branch} has 1 commit(s) not in the base branch" in (
        refused.stdout.splitlines()
    )
    assert f"  kept: {bad_worktree} has uncommitted changes" in refused.stdout.splitlines()
    assert refused.stderr.strip() == (
        "tui-orch: some work was kept because removing it would lose it; merge it, or pass "
        "--force to remove it anyway"
    )
    assert {good_branch, bad_branch} <= set(branches(repo))
    assert len(commits_on(repo, good_branch, before)) == 1
    assert (bad_worktree / "bad.txt").read_text() == "unfinished\n"
    assert head(repo) == before

    forced = run_cli("clean", run_id, "--force", "--repo", str(repo), cwd=repo)

    assert forced.code == 0, forced.stderr
    assert f"run {run_id}: removed" in forced.stdout
    assert_all_cleaned_up(repo)
    assert not bad_worktree.exists()
    assert head(repo) == before
    logs = run_cli("logs", "bad", "--run", run_id, "--repo", str(repo), cwd=repo)
    assert logs.stdout == "step 1 of 2\nerror: cannot do step 2\n"
    # Nothing is left to clean.
    again = run_cli("clean", "--repo", str(repo), cwd=repo)
    assert again.code == 0
    assert again.stdout.strip() == "nothing to clean"


def test_clean_refuses_while_agents_run_and_stop_ends_them(repo: Path, tmp_path: Path) -> None:
    before = head(repo)
    slow = script_agent(
        tmp_path,
        "slow",
        """
        pathlib.Path("s.txt").write_text("partial\\n")
        print("working", flush=True)
        time.sleep(60)
        """,
    )
    plan = write_plan(tmp_path / "plan.yaml", [{"id": "s", "files": ["s.txt"]}], {"slow": slow})
    argv = [sys.executable, "-m", "tui_orch", "run", str(plan), "--repo", str(repo)]
    cli = subprocess.Popen(
        [*argv, "--headless", "--yes"],
        cwd=repo,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        log = None
        while time.monotonic() < deadline:
            runs = repo / ".git" / "tui-orch" / "runs"
            logs = list(runs.glob("*/logs/s.log")) if runs.is_dir() else []
            if logs and "working" in logs[0].read_text():
                log = logs[0]
                break
            time.sleep(0.05)
        assert log is not None, "the agent did not start"
        run_id = only_run(repo)

        refused = run_cli("clean", run_id, "--repo", str(repo), cwd=repo)
        stopped = run_cli("stop", run_id, "--repo", str(repo), cwd=repo)
        stdout, stderr = cli.communicate(timeout=30)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.communicate()

    assert refused.code == 2
    assert refused.stderr.strip() == (
        f"tui-orch: run {run_id} is being driven by another tui-orch process (the app or a "
        f"resume); quit it, or stop the run with `tui-orch stop {run_id}`, first"
    )
    assert stopped.code == 0
    assert stopped.stdout.strip() == "stopped s; their work is kept in their worktrees"
    assert cli.returncode == 1
    assert "task 's' failed: its agent was stopped" in stderr
    assert (worktree_of(repo, run_id, "s") / "s.txt").read_text() == "partial\n"
    assert head(repo) == before
    assert "working" in stdout


def test_resume_after_resolving_a_merge_conflict(repo: Path, tmp_path: Path) -> None:
    before = head(repo)
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
        [{"id": "x", "files": ["shared.txt", "x.txt"]}, {"id": "y", "files": ["y.txt"]}],
        {"writer": writer},
        # Let y's stray edit through the live checks, so the merge itself is what conflicts.
        conflicts={"unowned_edit": "warn", "overlap": "warn"},
    )
    first = run_plan(plan, repo)
    assert first.code == 1
    run_id = only_run(repo)
    assert "conflicts with task 'x' in shared.txt" in first.stderr
    # Resolve it as the message says, with the very command it gives.
    worktree = worktree_of(repo, run_id, "y")
    found = re.search(r"`(cd .+? && git merge \S+)`, fix the conflicted files", first.stderr)
    assert found, first.stderr
    merging = subprocess.run(found.group(1), shell=True, capture_output=True, text=True)
    assert "CONFLICT" in merging.stdout  # the conflict is now in y's worktree, to fix
    (worktree / "shared.txt").write_text("both versions\n")
    git(worktree, "add", "shared.txt")
    git(worktree, "commit", "-q", "--no-edit")

    result = resume(repo, run_id)

    assert result.code == 0, result.stderr
    assert show(repo, "main", "shared.txt") == "both versions"
    assert show(repo, "main", "x.txt") == "own file"
    assert show(repo, "main", "y.txt") == "own file"
    assert len(commits_on(repo, "main", before)) >= 4
    assert_all_cleaned_up(repo)
