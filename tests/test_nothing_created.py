"""Nothing is created before every check has passed, a failed early step leaves nothing
behind, and `clean` can always remove a run, however broken.

Each case makes one precondition or one early step fail for real (a dirty tree, a
branch in the way, a post-checkout hook that says no, ...) and compares what a user
would look at before and after: every ref, the worktree list, the working tree, the runs
folder and the data dir where worktrees go.
"""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult, git, run_cli
from tests.run_helpers import (
    branches,
    only_run,
    run_plan,
    script_agent,
    worktrees_home,
    write_plan,
)

WRITE_OWNED = """
for name in FILES:
    pathlib.Path(name).write_text(f"written by {TASK}\\n")
"""


def snapshot(repo: Path) -> dict[str, object]:
    """What a run must not change when it refuses or fails at the door."""
    runs = repo / ".git" / "tui-orch" / "runs"
    data = worktrees_home()
    return {
        "refs": git(repo, "for-each-ref", "--format=%(refname) %(objectname)"),
        "worktrees": git(repo, "worktree", "list", "--porcelain"),
        "tree": git(repo, "status", "--porcelain", "--ignored", "--untracked-files=all"),
        "runs": sorted(p.name for p in runs.iterdir()) if runs.is_dir() else [],
        "data": sorted(str(p) for p in data.rglob("*")) if data.is_dir() else [],
    }


def plan_for(tmp_path: Path, **changes: object) -> Path:
    writer = script_agent(tmp_path, "writer", WRITE_OWNED)
    tasks: list[dict[str, object]] = [
        {"id": "a", "files": ["a.txt"]},
        {"id": "b", "files": ["b.txt"]},
    ]
    return write_plan(tmp_path / "plan.yaml", tasks, {"writer": writer}, **changes)


def failing_hook(repo: Path, branch_suffix: str) -> None:
    """A post-checkout hook that fails in worktrees of branches ending in branch_suffix:
    `git worktree add` then exits 1, leaving the worktree and the branch it made."""
    hook = repo / ".git" / "hooks" / "post-checkout"
    hook.write_text(
        "#!/bin/sh\n"
        'case "$(git rev-parse --abbrev-ref HEAD)" in\n'
        f'  *{branch_suffix}) echo "hook: checkout refused" >&2; exit 1;;\n'
        "esac\n"
    )
    hook.chmod(hook.stat().st_mode | stat.S_IEXEC)


Setup = Callable[[Path, Path], list[str]]


def dirty_tree(repo: Path, tmp_path: Path) -> list[str]:
    (repo / "README.md").write_text("changed\n")
    return []


def missing_agent(repo: Path, tmp_path: Path) -> list[str]:
    plan = tmp_path / "plan.yaml"
    plan.write_text(plan.read_text().replace(sys.executable, "no-such-agent-cli"))
    return []


def branch_in_the_way(repo: Path, tmp_path: Path) -> list[str]:
    git(repo, "branch", "tui-orch")
    return []


def root_inside_the_repo(repo: Path, tmp_path: Path) -> list[str]:
    return ["--worktree-root", str(repo / "wt")]


def root_inside_git_dir(repo: Path, tmp_path: Path) -> list[str]:
    return ["--worktree-root", str(repo / ".git" / "wt")]


def root_under_a_file(repo: Path, tmp_path: Path) -> list[str]:
    (tmp_path / "a-file").write_text("")
    return ["--worktree-root", str(tmp_path / "a-file" / "wt")]


def config_root_inside_the_repo(repo: Path, tmp_path: Path) -> list[str]:
    (repo / ".tui-orch.yaml").write_text("worktree_root: .worktrees\n")
    return []


def state_folder_blocked(repo: Path, tmp_path: Path) -> list[str]:
    (repo / ".git" / "tui-orch").mkdir()
    (repo / ".git" / "tui-orch" / "runs").write_text("not a folder")
    return []


def missing_base(repo: Path, tmp_path: Path) -> list[str]:
    plan = tmp_path / "plan.yaml"
    plan.write_text(plan.read_text().replace("base: main", "base: mian"))
    return []


def overlong_task_id(repo: Path, tmp_path: Path) -> list[str]:
    """Once passed `check` and failed `run` with "File name too long" after creating the
    integration branch and worktree."""
    plan = tmp_path / "plan.yaml"
    plan.write_text(plan.read_text().replace("  id: a\n", f"  id: {'a' * 300}\n"))
    return []


def root_in_a_symlink_loop(repo: Path, tmp_path: Path) -> list[str]:
    (tmp_path / "loop").symlink_to("loop")
    return ["--worktree-root", str(tmp_path / "loop" / "wt")]


PRECONDITIONS = [
    pytest.param(root_in_a_symlink_loop, "cannot be used (Symlink loop", id="root-loop"),
    pytest.param(overlong_task_id, "it is 300 characters long; use at most 64", id="long-id"),
    pytest.param(dirty_tree, "has uncommitted changes (README.md)", id="dirty-tree"),
    pytest.param(missing_agent, "'no-such-agent-cli' was not found on PATH", id="missing-agent"),
    pytest.param(missing_base, "branch 'mian' does not exist", id="missing-base"),
    pytest.param(branch_in_the_way, "has a branch named 'tui-orch'", id="branch-tui-orch"),
    pytest.param(root_inside_the_repo, "is inside the repository (its working", id="root-in-tree"),
    pytest.param(root_inside_git_dir, "is inside the repository (its git dir", id="root-in-git"),
    pytest.param(root_under_a_file, "a-file is not a writable directory", id="root-under-file"),
    pytest.param(config_root_inside_the_repo, "is inside the repository", id="config-root"),
    pytest.param(state_folder_blocked, "the run state folder", id="state-folder"),
]


@pytest.mark.parametrize(("setup", "sentence"), PRECONDITIONS)
def test_a_failed_precondition_creates_nothing(
    repo: Path, tmp_path: Path, setup: Setup, sentence: str
) -> None:
    plan = plan_for(tmp_path)
    extra = setup(repo, tmp_path)
    before = snapshot(repo)

    result = run_plan(plan, repo, *extra)

    assert result.code == 2, result.stdout + result.stderr
    assert sentence in result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert snapshot(repo) == before


def test_the_integration_worktree_failing_leaves_nothing_behind(repo: Path, tmp_path: Path) -> None:
    plan = plan_for(tmp_path)
    failing_hook(repo, "/integration")
    before = snapshot(repo)

    result = run_plan(plan, repo)

    assert result.code == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("tui-orch: run ") and "could not start: hook: checkout refused" in last
    assert last.endswith("nothing was left behind and 'main' was not touched")
    assert snapshot(repo) == before


def test_a_task_worktree_failing_fails_that_task_and_clean_restores_everything(
    repo: Path, tmp_path: Path
) -> None:
    plan = plan_for(tmp_path)
    failing_hook(repo, "/b")
    before = snapshot(repo)

    result = run_plan(plan, repo)

    assert result.code == 1
    assert "task 'b' failed: its worktree" in result.stderr
    assert "could not be created (hook: checkout refused)" in result.stderr
    run_id = json.loads(run_cli("status", "--json", "--repo", str(repo), cwd=repo).stdout)["runs"][
        0
    ]["run_id"]
    assert f"tui-orch/{run_id}/b" not in branches(repo)  # the half-made worktree was undone
    (repo / ".git" / "hooks" / "post-checkout").unlink()
    cleaned = run_cli("clean", run_id, "--force", "--repo", str(repo), cwd=repo)
    assert cleaned.code == 0, cleaned.stderr
    after = snapshot(repo)
    assert {k: v for k, v in after.items() if k != "runs"} == {
        k: v for k, v in before.items() if k != "runs"
    }
    assert after["runs"] == [run_id]  # logs and state stay


# -- clean, however broken the run -------------------------------------------------------


def stopped_run(repo: Path, tmp_path: Path) -> str:
    """A run stopped at its validation: worktrees and branches of two tasks are left."""
    plan = plan_for(tmp_path, validate=["false"])
    result = run_plan(plan, repo)
    assert result.code == 1, result.stderr
    return json.loads(run_cli("status", "--json", "--repo", str(repo), cwd=repo).stdout)["runs"][0][
        "run_id"
    ]


def state_path(repo: Path, run_id: str) -> Path:
    return repo / ".git" / "tui-orch" / "runs" / run_id / "state.json"


def truncate_state(repo: Path, run_id: str) -> None:
    path = state_path(repo, run_id)
    path.write_text(path.read_text()[:100])


def delete_worktrees_by_hand(repo: Path, run_id: str) -> None:
    state = json.loads(state_path(repo, run_id).read_text())
    shutil.rmtree(state["worktree_root"])


def unregister_worktrees(repo: Path, run_id: str) -> None:
    """git forgets the worktrees (their admin folders deleted) but the folders stay."""
    shutil.rmtree(repo / ".git" / "worktrees")


def overlong_paths_in_state(repo: Path, run_id: str) -> None:
    path = state_path(repo, run_id)
    state = json.loads(path.read_text())
    state["tasks"]["a"]["worktree"] = str(Path(state["worktree_root"]) / ("x" * 300))
    path.write_text(json.dumps(state))


@pytest.mark.parametrize(
    "breakage",
    [truncate_state, delete_worktrees_by_hand, unregister_worktrees, overlong_paths_in_state],
)
def test_clean_removes_a_broken_run(
    repo: Path, tmp_path: Path, breakage: Callable[[Path, str], None]
) -> None:
    before = snapshot(repo)
    run_id = stopped_run(repo, tmp_path)
    breakage(repo, run_id)

    status = run_cli("status", "--repo", str(repo), cwd=repo)
    assert status.code == 0 and "Traceback" not in status.stderr
    result: CliResult = run_cli("clean", "--force", "--repo", str(repo), cwd=repo)

    assert result.code == 0, result.stdout + result.stderr
    assert "internal error" not in result.stderr
    after = snapshot(repo)
    assert after["refs"] == before["refs"]
    assert after["worktrees"] == before["worktrees"]
    assert after["tree"] == before["tree"]
    assert after["data"] == []
    # A second clean has nothing left to do and still does not fail.
    again = run_cli("clean", "--repo", str(repo), cwd=repo)
    assert again.code == 0, again.stderr


def failed_task_run(repo: Path, tmp_path: Path) -> str:
    """A run whose task 'a' committed its work and whose task 'b' failed: both kept."""
    writer = script_agent(tmp_path, "writer", WRITE_OWNED)
    failing = script_agent(tmp_path, "failing", "sys.exit(3)\n")
    tasks: list[dict[str, object]] = [
        {"id": "a", "files": ["a.txt"]},
        {"id": "b", "files": ["b.txt"], "agent": "failing"},
    ]
    plan = write_plan(tmp_path / "plan.yaml", tasks, {"writer": writer, "failing": failing})
    assert run_plan(plan, repo).code == 1
    return json.loads(run_cli("status", "--json", "--repo", str(repo), cwd=repo).stdout)["runs"][0][
        "run_id"
    ]


@pytest.mark.parametrize("force", [False, True])
def test_clean_never_removes_a_checkout_of_the_user_s_own(
    repo: Path, tmp_path: Path, force: bool
) -> None:
    """The user took a run's branch into their own checkout: it stays, and so does the branch."""
    run_id = failed_task_run(repo, tmp_path)
    state = json.loads(state_path(repo, run_id).read_text())
    for task in ("a", "b"):
        git(repo, "worktree", "remove", "--force", state["tasks"][task]["worktree"])
    git(repo, "checkout", "-q", f"tui-orch/{run_id}/b")
    (repo / "notes.local").write_text("mine\n")
    git(repo, "worktree", "add", "-q", str(tmp_path / "review"), f"tui-orch/{run_id}/a")

    result = run_cli(
        "clean", run_id, *(["--force"] if force else []), "--repo", str(repo), cwd=repo
    )

    assert result.code == 1, result.stdout + result.stderr
    assert (repo / "README.md").is_file() and (repo / "notes.local").is_file()
    assert (tmp_path / "review" / "a.txt").read_text() == "written by a\n"
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == f"tui-orch/{run_id}/b"
    assert f"tui-orch/{run_id}/a" in branches(repo)
    assert f"  kept: {repo} is not one of run {run_id}'s worktrees" in result.stdout
    assert f"  kept: {tmp_path / 'review'} is not one of run {run_id}'s worktrees" in result.stdout


def test_clean_of_an_unreadable_run_keeps_unmerged_commits(repo: Path, tmp_path: Path) -> None:
    run_id = failed_task_run(repo, tmp_path)
    state_path(repo, run_id).write_text("{")
    branch = f"tui-orch/{run_id}/a"

    result = run_cli("clean", run_id, "--repo", str(repo), cwd=repo)

    assert result.code == 1
    assert "its state file is unreadable; found from its branches" in result.stdout
    assert f"  kept: branch {branch} has 1 commit(s) not in any other branch" in result.stdout
    assert branch in branches(repo)
    assert git(repo, "show", f"{branch}:a.txt") == "written by a"


def test_clean_finds_a_run_whose_state_file_is_missing(repo: Path, tmp_path: Path) -> None:
    before = snapshot(repo)
    run_id = failed_task_run(repo, tmp_path)
    state_path(repo, run_id).unlink()

    result = run_cli("clean", "--force", "--repo", str(repo), cwd=repo)

    assert result.code == 0, result.stdout + result.stderr
    assert f"run {run_id} (its state file is unreadable" in result.stdout
    after = snapshot(repo)
    assert (after["refs"], after["worktrees"], after["data"]) == (
        before["refs"],
        before["worktrees"],
        [],
    )


def test_clean_refuses_while_an_agent_outlives_its_runner(repo: Path, tmp_path: Path) -> None:
    """The runner was killed; its agent goes on under its supervisor: clean must wait."""
    slow = script_agent(tmp_path, "slow", 'print("working", flush=True)\ntime.sleep(60)\n')
    plan = write_plan(tmp_path / "plan.yaml", [{"id": "s", "files": ["s.txt"]}], {"slow": slow})
    argv = [sys.executable, "-m", "tui_orch", "run", str(plan), "--repo", str(repo)]
    runner = subprocess.Popen([*argv, "--headless", "--yes"], cwd=repo, stdout=subprocess.DEVNULL)
    runs = repo / ".git" / "tui-orch" / "runs"
    deadline = time.monotonic() + 20

    def started() -> bool:
        return any("working" in log.read_text() for log in runs.glob("*/logs/s.log"))

    while not started():
        assert time.monotonic() < deadline, "the agent did not start"
        time.sleep(0.05)
    runner.kill()
    runner.wait()
    run_id = only_run(repo)

    refused = run_cli("clean", run_id, "--force", "--repo", str(repo), cwd=repo)
    stopped = run_cli("stop", run_id, "--repo", str(repo), cwd=repo)

    assert refused.code == 2
    assert refused.stderr.strip() == (
        f"tui-orch: run {run_id} still has running agents (s); stop them first with "
        f"`tui-orch stop {run_id}`"
    )
    assert f"tui-orch/{run_id}/s" in branches(repo)
    assert stopped.code == 0
    cleaned = run_cli("clean", run_id, "--force", "--repo", str(repo), cwd=repo)
    assert cleaned.code == 0, cleaned.stderr


def test_clean_leaves_the_user_s_own_tui_orch_named_branches_alone(
    repo: Path, tmp_path: Path
) -> None:
    git(repo, "branch", "tui-orch/feature/login")
    worktree = tmp_path / "wt" / "tui-orch" / "feature" / "login"
    git(repo, "worktree", "add", "-q", str(worktree), "tui-orch/feature/login")
    (worktree / "local.env").write_text("SECRET=1\n")
    before = snapshot(repo)

    for args in ([], ["--force"]):
        result = run_cli("clean", *args, "--repo", str(repo), cwd=repo)
        assert result.code == 0, result.stderr
        assert result.stdout.strip() == "nothing to clean"
    assert snapshot(repo) == before
    assert (worktree / "local.env").is_file()


def point_task_b_at(repo: Path, run_id: str, path: Path) -> None:
    """Edit the state so task b's worktree is path (its real worktree removed first)."""
    state = json.loads(state_path(repo, run_id).read_text())
    subprocess.run(
        ["git", "worktree", "remove", "--force", state["tasks"]["b"]["worktree"]],
        cwd=repo,
        capture_output=True,
    )
    state["tasks"]["b"]["worktree"] = str(path)
    state_path(repo, run_id).write_text(json.dumps(state))


def test_clean_never_removes_user_folders_a_state_file_points_at(
    repo: Path, tmp_path: Path
) -> None:
    run_id = failed_task_run(repo, tmp_path)
    user = tmp_path / "user"
    (user / run_id / "project" / ".git").mkdir(parents=True)
    (user / "keep.txt").write_text("mine\n")
    point_task_b_at(repo, run_id, user / run_id / "..")
    result = run_cli("clean", run_id, "--force", "--repo", str(repo), cwd=repo)
    assert (user / "keep.txt").read_text() == "mine\n"
    kept = f"  kept: {user / run_id / '..'} is not one of run {run_id}'s worktrees"
    assert any(line.startswith(kept) for line in result.stdout.splitlines())

    point_task_b_at(repo, run_id, user / run_id / "project")
    run_cli("clean", run_id, "--force", "--repo", str(repo), cwd=repo)
    assert (user / run_id / "project" / ".git").is_dir()


def test_clean_never_follows_a_run_folder_replaced_by_a_symlink(repo: Path, tmp_path: Path) -> None:
    run_id = failed_task_run(repo, tmp_path)
    state = json.loads(state_path(repo, run_id).read_text())
    run_folder = Path(state["worktree_root"])
    user = tmp_path / "user"
    for name in ("a", "b", "_integration"):
        (user / name).mkdir(parents=True)
        (user / name / "keep.txt").write_text("mine\n")
    shutil.rmtree(run_folder)
    run_folder.symlink_to(user)
    git(repo, "worktree", "prune")

    run_cli("clean", run_id, "--force", "--repo", str(repo), cwd=repo)

    assert sorted(p.name for p in user.rglob("keep.txt")) == ["keep.txt"] * 3
