"""Concurrent changes to one repository through `Workspace` all succeed, thanks to `GitLock`.

Plain concurrent `git worktree add` and branch changes on one repository fail at random
(two adds at once read each other's half-made admin directories); commits in separate
worktrees need no lock. Every test here starts its threads (or processes) at once behind
a barrier and runs a few rounds so a flaky lock would show.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from tests.conftest import git
from tests.run_helpers import branches, worktree_paths
from tui_orch.engine.repository.gitcli import GitLock
from tui_orch.engine.repository.worktrees import Workspace

ROUNDS = 3
WORKERS = 16


def all_at_once(count: int, work: Callable[[int], object]) -> list[object]:
    """Run work(0..count-1) in count threads released together; re-raise any failure."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = work(index)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a worker hung (deadlock?)"
    if errors:
        raise AssertionError(f"{len(errors)} of {count} workers failed") from errors[0]
    return results


def resolved(paths: Sequence[str | Path]) -> set[Path]:
    return {Path(path).resolve() for path in paths}


@pytest.mark.parametrize("round_number", range(1, ROUNDS + 1))
def test_16_worktrees_added_and_removed_at_once(
    repo: Path, tmp_path: Path, round_number: int
) -> None:
    workspace = Workspace(repo)
    start = workspace.rev("main")
    root = tmp_path / "worktrees"
    paths = [root / f"wt-{i}" for i in range(WORKERS)]
    names = [f"task/{round_number}-{i}" for i in range(WORKERS)]

    all_at_once(WORKERS, lambda i: workspace.add_worktree(paths[i], names[i], start))

    assert resolved(worktree_paths(repo)) == resolved([repo, *paths])
    assert set(names) <= set(branches(repo))
    for path, name in zip(paths, names, strict=True):
        assert git(path, "rev-parse", "--abbrev-ref", "HEAD") == name
        assert (path / "README.md").read_text() == "demo\n"

    # Packed refs make every branch deletion rewrite one shared file: the worst case.
    git(repo, "pack-refs", "--all")

    def remove(i: int) -> None:
        workspace.remove_worktree(paths[i], force=True)
        workspace.delete_branch(names[i], force=True)

    all_at_once(WORKERS, remove)

    assert resolved(worktree_paths(repo)) == {repo.resolve()}
    assert branches(repo) == ["main"]
    assert not any(path.exists() for path in paths)
    assert git(repo, "fsck", "--no-progress") == ""


@pytest.mark.parametrize("round_number", range(1, ROUNDS + 1))
def test_8_commits_at_once_in_8_worktrees(repo: Path, tmp_path: Path, round_number: int) -> None:
    workspace = Workspace(repo)
    start = workspace.rev("main")
    count = 8
    paths = [tmp_path / "wt" / f"task-{i}" for i in range(count)]
    names = [f"task-{round_number}-{i}" for i in range(count)]
    for path, name in zip(paths, names, strict=True):
        workspace.add_worktree(path, name, start)
        (path / f"file-{name}.txt").write_text(f"{name}\n" * 100)
        (path / "README.md").write_text(f"changed by {name}\n")

    committed = all_at_once(count, lambda i: workspace.commit_all(paths[i], f"work of {names[i]}"))

    assert committed == [True] * count
    for path, name in zip(paths, names, strict=True):
        assert not workspace.is_dirty(path)
        assert git(repo, "rev-list", "--count", f"main..{name}") == "1"
        assert git(repo, "log", "-1", "--format=%s", name) == f"work of {name}"
        changed = git(repo, "diff", "--name-only", "main", name).splitlines()
        assert sorted(changed) == ["README.md", f"file-{name}.txt"]
    # A second commit_all with nothing to commit says so.
    assert (
        all_at_once(count, lambda i: workspace.commit_all(paths[i], "nothing")) == [False] * count
    )
    assert git(repo, "fsck", "--no-progress") == ""


@pytest.mark.parametrize("round_number", range(1, ROUNDS + 1))
def test_commits_run_beside_worktrees_being_added(
    repo: Path, tmp_path: Path, round_number: int
) -> None:
    """Commits take no lock: 8 commits and 8 worktree adds at once, refs packed."""
    workspace = Workspace(repo)
    start = workspace.rev("main")
    count = 8
    done = [tmp_path / "done" / f"task-{i}" for i in range(count)]
    for i, path in enumerate(done):
        workspace.add_worktree(path, f"done-{round_number}-{i}", start)
        (path / f"out-{i}.txt").write_text(f"{i}\n")
    git(repo, "pack-refs", "--all")
    new = [tmp_path / "new" / f"task-{i}" for i in range(count)]

    def work(i: int) -> object:
        if i % 2:
            return workspace.commit_all(done[i // 2], f"work {i // 2}")
        return workspace.add_worktree(new[i // 2], f"new-{round_number}-{i // 2}", start)

    results = all_at_once(2 * count, work)

    assert results[1::2] == [True] * count
    for i in range(count):
        assert git(repo, "log", "-1", "--format=%s", f"done-{round_number}-{i}") == f"work {i}"
        assert (new[i] / "README.md").read_text() == "demo\n"
    assert resolved(worktree_paths(repo)) == resolved([repo, *done, *new])
    assert git(repo, "fsck", "--no-progress") == ""


def test_a_commit_does_not_wait_for_the_lock(repo: Path, tmp_path: Path) -> None:
    """A finished agent's work is committed even while a worktree is being made."""
    workspace = Workspace(repo)
    path = tmp_path / "task"
    workspace.add_worktree(path, "task", "main")
    (path / "new.txt").write_text("work\n")
    with workspace.lock.held():
        committing = threading.Thread(target=workspace.commit_all, args=(path, "work"))
        committing.start()
        committing.join(30)
        assert not committing.is_alive(), "the commit waited for the lock"
    assert git(repo, "log", "-1", "--format=%s", "task") == "work"


def test_two_workspaces_of_one_repository_share_one_lock(repo: Path, tmp_path: Path) -> None:
    first = Workspace(repo)
    linked = tmp_path / "linked"
    first.add_worktree(linked, "linked", "main")
    # One opened at the top level, one from a linked worktree through a symlinked path.
    alias = tmp_path / "alias"
    alias.symlink_to(linked)
    second = Workspace(alias)
    assert second.common == first.common
    assert second.lock.path == first.lock.path
    assert second.lock._thread_lock is first.lock._thread_lock
    # Held by one, the other waits.
    with first.lock.held():
        assert not second.lock._thread_lock.acquire(blocking=False)
    with second.lock.held():
        pass


@pytest.mark.parametrize("round_number", range(1, ROUNDS + 1))
def test_two_workspaces_used_at_once_do_not_fail(
    repo: Path, tmp_path: Path, round_number: int
) -> None:
    workspaces = [Workspace(repo), Workspace(repo)]
    assert workspaces[0] is not workspaces[1]
    start = workspaces[0].rev("main")
    paths = [tmp_path / "wt" / f"wt-{i}" for i in range(WORKERS)]
    names = [f"both/{round_number}-{i}" for i in range(WORKERS)]

    def work(i: int) -> None:
        workspace = workspaces[i % 2]
        workspace.add_worktree(paths[i], names[i], start)
        (paths[i] / f"{i}.txt").write_text(f"{i}\n")
        assert workspace.commit_all(paths[i], f"commit {i}")
        workspace.remove_worktree(paths[i], force=True)

    all_at_once(WORKERS, work)

    assert resolved(worktree_paths(repo)) == {repo.resolve()}
    for i, name in enumerate(names):
        assert git(repo, "log", "-1", "--format=%s", name) == f"commit {i}"
    assert git(repo, "fsck", "--no-progress") == ""


PROCESS_WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from tui_orch.engine.repository.worktrees import Workspace

    repo, root, label, go = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
    workspace = Workspace(repo)
    while not go.exists():
        time.sleep(0.005)
    for i in range(4):
        path = root / f"{label}-{i}"
        workspace.add_worktree(path, f"proc/{label}-{i}", "main")
        (path / "x.txt").write_text(label)
        assert workspace.commit_all(path, f"{label} {i}")
        workspace.remove_worktree(path, force=True)
    """
)


@pytest.mark.parametrize("round_number", range(1, ROUNDS + 1))
def test_separate_processes_share_the_lock_through_the_git_dir(
    repo: Path, tmp_path: Path, round_number: int
) -> None:
    """Four processes, four worktrees each, started together: the flock serialises them."""
    go = tmp_path / "go"
    root = tmp_path / "wt"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", PROCESS_WORKER, str(repo), str(root), f"p{n}", str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for n in range(4)
    ]
    go.touch()
    outputs = [process.communicate(timeout=60)[0] for process in processes]
    assert [process.returncode for process in processes] == [0] * 4, "\n".join(outputs)
    assert len([b for b in branches(repo) if b.startswith("proc/")]) == 16
    assert resolved(worktree_paths(repo)) == {repo.resolve()}
    assert (Workspace(repo).common / "tui-orch" / "git.lock").exists()


def test_the_lock_is_released_when_a_git_command_under_it_fails(repo: Path) -> None:
    """A failing git command under the lock must not leave it held."""
    workspace = Workspace(repo)
    with pytest.raises(Exception, match="not-a-branch"):
        workspace.locked_git("branch", "-d", "not-a-branch")
    lock = GitLock(workspace.common)
    assert lock._thread_lock.acquire(blocking=False)
    lock._thread_lock.release()
    with lock.held():
        pass
