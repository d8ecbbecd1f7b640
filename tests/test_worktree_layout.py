"""Where worktrees live: outside the repository (agents refuse to edit under `.git/`),
in the data dir by default or where the user says, never inside the repository; runs
made with the old layout (worktrees under `.git/tui-orch/worktrees`) still resume and clean.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import git, run_cli
from tests.run_helpers import (
    branches,
    head,
    only_run,
    run_plan,
    script_agent,
    worktree_paths,
    worktrees_home,
    write_plan,
)
from tui_orch.engine.repository.gitcli import GitError
from tui_orch.engine.repository.worktrees import Workspace

WRITE_OWNED = """
print(f"working in {pathlib.Path.cwd()}", flush=True)
for name in FILES:
    pathlib.Path(name).write_text(f"written by {TASK}\\n")
"""


def state_file(repo: Path, run_id: str) -> Path:
    return repo / ".git" / "tui-orch" / "runs" / run_id / "state.json"


def two_task_plan(tmp_path: Path, **top: object) -> Path:
    writer = script_agent(tmp_path, "writer", WRITE_OWNED)
    return write_plan(
        tmp_path / "plan.yaml",
        [{"id": "a", "files": ["a.txt"]}, {"id": "b", "files": ["b.txt"], "depends_on": ["a"]}],
        {"writer": writer},
        **top,
    )


def test_worktrees_live_in_the_data_dir_and_leave_no_folder_behind(
    repo: Path, tmp_path: Path
) -> None:
    plan = two_task_plan(tmp_path)

    result = run_plan(plan, repo)

    assert result.code == 0, result.stderr
    run_id = only_run(repo)
    # The agent (which refuses under .git, as Claude Code does) ran in the data dir.
    started = [line for line in result.stdout.splitlines() if "| started" in line]
    assert len(started) == 2
    assert all(str(worktrees_home()) in line for line in started)
    assert git(repo, "show", "main:b.txt") == "written by b"
    worktree = Path(json.loads(state_file(repo, run_id).read_text())["tasks"]["a"]["worktree"])
    assert f"a | working in {worktree}" in result.stdout
    # <data>/tui-orch/worktrees/<repo name>-<8 hex of its git dir>/<run>/<task>
    assert worktree.parent.parent.parent == worktrees_home()
    assert re.fullmatch(r"repo-[0-9a-f]{8}", worktree.parent.parent.name)
    assert worktree.parent.name == run_id and worktree.name == "a"
    assert not (repo / ".git" / "tui-orch" / "worktrees").exists()
    # Clean-up removed the run's folder and, now empty, the repository's folder too.
    assert list(worktrees_home().iterdir()) == []


def test_worktree_root_option_and_config_key(repo: Path, tmp_path: Path) -> None:
    plan = two_task_plan(tmp_path)
    (repo / ".tui-orch.yaml").write_text("worktree_root: ../from-config\n")
    git(repo, "add", ".tui-orch.yaml")
    git(repo, "commit", "-q", "-m", "config")

    from_config = run_plan(plan, repo)
    assert from_config.code == 0, from_config.stderr
    assert f"started writer in {tmp_path / 'from-config'}/repo-" in from_config.stdout

    other = tmp_path / "other"
    other.mkdir()
    plan = two_task_plan(other)  # new files: a run that changes nothing would fail
    plan.write_text(plan.read_text().replace("a.txt", "a2.txt").replace("b.txt", "b2.txt"))
    from_option = run_plan(plan, repo, "--worktree-root", str(tmp_path / "given"))
    assert from_option.code == 0, from_option.stderr
    assert f"started writer in {tmp_path / 'given'}/repo-" in from_option.stdout
    assert not (tmp_path / "given").exists() or list((tmp_path / "given").iterdir()) == []


def test_a_worktree_root_inside_the_repository_is_refused(repo: Path, tmp_path: Path) -> None:
    plan = two_task_plan(tmp_path)
    for inside, what in [
        (repo / "worktrees", "its working tree"),
        (repo / ".git" / "tui-orch" / "worktrees", "its git dir"),
        (repo, "its working tree"),
    ]:
        result = run_plan(plan, repo, "--worktree-root", str(inside))

        assert result.code == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith(
            f"tui-orch: the worktree root {inside.resolve()} is inside the repository ({what}"
        )
        assert "--worktree-root DIR" in lines[0]
    assert not (repo / ".git" / "tui-orch" / "runs").exists()
    assert branches(repo) == ["main"]


def old_layout_run(repo: Path, tmp_path: Path, marker: Path) -> str:
    """A run whose task 'b' failed, moved to where tui-orch used to put worktrees
    (`.git/tui-orch/worktrees/<run>/<task>`), its state rewritten as the old version wrote it."""
    writer = script_agent(tmp_path, "writer", WRITE_OWNED)
    flaky = script_agent(
        tmp_path,
        "flaky",
        f"""
        if pathlib.Path({str(marker)!r}).exists():
            pathlib.Path("b.txt").write_text("half done\\n")
            sys.exit(4)
        pathlib.Path("b.txt").write_text(pathlib.Path("b.txt").read_text() + "finished\\n")
        """,
    )
    plan = write_plan(
        tmp_path / "plan.yaml",
        [{"id": "a", "files": ["a.txt"]}, {"id": "b", "files": ["b.txt"], "agent": "flaky"}],
        {"writer": writer, "flaky": flaky},
    )
    first = run_plan(plan, repo)
    assert first.code == 1
    run_id = only_run(repo)
    old_root = repo / ".git" / "tui-orch" / "worktrees" / run_id
    old_root.mkdir(parents=True)
    state = json.loads(state_file(repo, run_id).read_text())
    new_root = Path(state["worktree_root"])
    status = run_cli("status", run_id, "--repo", str(repo), cwd=repo).stdout
    assert f"  worktrees in {new_root}" in status.splitlines()
    for path in [state["integration_worktree"], *(t["worktree"] for t in state["tasks"].values())]:
        git(repo, "worktree", "move", path, str(old_root / Path(path).name))
    text = state_file(repo, run_id).read_text().replace(str(new_root), str(old_root))
    state_file(repo, run_id).write_text(text)
    for folder in (new_root, new_root.parent):
        folder.rmdir()
    assert sorted(Path(p).parent for p in worktree_paths(repo)[1:]) == [old_root] * 3
    return run_id


def test_a_run_made_with_the_old_layout_resumes_out_of_the_git_dir(
    repo: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "still-broken"
    marker.touch()
    run_id = old_layout_run(repo, tmp_path, marker)
    old_b = repo / ".git" / "tui-orch" / "worktrees" / run_id / "b"
    assert (old_b / "b.txt").read_text() == "half done\n"

    marker.unlink()
    resumed = run_cli("resume", run_id, "--repo", str(repo), "--headless", "--yes", cwd=repo)

    # The retried agent refuses under .git: it only succeeds because its worktree moved,
    # with what the first attempt left in it.
    assert resumed.code == 0, resumed.stdout + resumed.stderr
    assert f"note: moved the worktrees of run {run_id} out of the git dir to" in resumed.stdout
    assert git(repo, "show", "main:b.txt") == "half done\nfinished"
    assert git(repo, "show", "main:a.txt") == "written by a"
    assert branches(repo) == ["main"]
    assert worktree_paths(repo) == [str(repo)]
    assert not (repo / ".git" / "tui-orch" / "worktrees").exists()
    assert list(worktrees_home().iterdir()) == []


def test_a_run_made_with_the_old_layout_cleans(repo: Path, tmp_path: Path) -> None:
    before = head(repo)
    marker = tmp_path / "still-broken"
    marker.touch()
    run_id = old_layout_run(repo, tmp_path, marker)

    cleaned = run_cli("clean", run_id, "--force", "--repo", str(repo), cwd=repo)

    assert cleaned.code == 0, cleaned.stderr
    assert "removed 3 worktrees and 3 branches" in cleaned.stdout
    assert branches(repo) == ["main"] and head(repo) == before
    assert worktree_paths(repo) == [str(repo)]
    assert not (repo / ".git" / "tui-orch" / "worktrees").exists()


# -- Workspace: making worktrees -------------------------------------------------------------


def test_existing_branches_names_exactly_the_ones_that_exist(repo: Path) -> None:
    """Asked once per batch instead of once per worktree; a name that is only a prefix of
    other branches (a folder of refs) is not a branch."""
    git(repo, "branch", "work/a")
    git(repo, "branch", "work/b")
    asked = ["work/a", "work/c", "work", "main"]
    assert Workspace(repo).existing_branches(asked) == {"work/a", "main"}
    assert Workspace(repo).existing_branches([]) == frozenset()


def test_a_wrong_guess_that_a_branch_is_new_never_deletes_its_work(
    repo: Path, tmp_path: Path
) -> None:
    """A caller that says a branch does not exist when it does (its list was stale) gets
    an error, and the branch keeps its commit: only a branch still at the start point, as
    `worktree add -b` makes it, is removed after a failure."""
    git(repo, "checkout", "-q", "-b", "task")
    (repo / "work.txt").write_text("an agent's work\n")
    git(repo, "add", "work.txt")
    git(repo, "commit", "-q", "-m", "work")
    git(repo, "checkout", "-q", "main")
    work = head(repo, "task")
    with pytest.raises(GitError):
        Workspace(repo).add_worktree(tmp_path / "wt", "task", "main", exists=False)
    assert head(repo, "task") == work
    assert not (tmp_path / "wt").exists()


def test_a_branch_at_the_start_point_is_made_and_checked_out_either_way(
    repo: Path, tmp_path: Path
) -> None:
    workspace = Workspace(repo)
    assert workspace.add_worktree(tmp_path / "new", "new", "main", exists=False) is True
    git(repo, "branch", "old")
    assert workspace.add_worktree(tmp_path / "old", "old", "main", exists=True) is False
    assert git(tmp_path / "new", "branch", "--show-current") == "new"
    assert git(tmp_path / "old", "branch", "--show-current") == "old"


def test_a_start_point_that_does_not_exist_is_the_error_and_nothing_is_left(
    repo: Path, tmp_path: Path
) -> None:
    """The error names the start point git could not find, not a failure of the undo."""
    with pytest.raises(GitError) as raised:
        Workspace(repo).add_worktree(tmp_path / "wt", "task", "no-such-start", exists=False)
    assert raised.value.args_run[:2] == ["worktree", "add"]
    assert "task" not in git(repo, "branch", "--format=%(refname:short)").split()
    assert not (tmp_path / "wt").exists()
