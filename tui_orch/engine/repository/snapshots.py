"""Look at a worktree's live state without touching it.

An agent is still working in its worktree, so we must not write to its index or files.
We copy its index to a temporary file, point ``GIT_INDEX_FILE`` at the copy, and let
``git add --all`` and ``git write-tree`` record the current files as a tree object:
uncommitted and untracked work included, the agent's own index untouched. Starting
from a copy of the real index keeps this fast (git only re-hashes changed files).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tui_orch.engine.repository.gitcli import run_git


@dataclass(frozen=True)
class FileChange:
    """One changed path: status letter (A, M, D, R...) and, for renames, the old path."""

    status: str
    path: str
    old_path: str = ""
    insertions: int = 0
    deletions: int = 0


def snapshot_tree(worktree: Path) -> str:
    """The tree object id of everything in worktree right now (ignored files excepted)."""
    git_dir = Path(run_git(["rev-parse", "--absolute-git-dir"], worktree).stdout.strip())
    with tempfile.TemporaryDirectory(prefix="tui-orch-snapshot-") as scratch:
        index = Path(scratch) / "index"
        if (git_dir / "index").exists():
            # copy2 keeps the index's mtime: git compares file mtimes against it to spot
            # "racily clean" entries, so a fresh mtime would hide same-second edits.
            shutil.copy2(git_dir / "index", index)
        env = {"GIT_INDEX_FILE": str(index), "GIT_OPTIONAL_LOCKS": "0"}
        run_git(["add", "--all", "--", "."], worktree, env=env)
        return run_git(["write-tree"], worktree, env=env).stdout.strip()


def changed_files(worktree: Path, start: str, tree: str | None = None) -> list[FileChange]:
    """Paths that differ between commit start and the worktree's current state."""
    tree = tree or snapshot_tree(worktree)
    status_out = run_git(
        ["diff", "--name-status", "-z", "--find-renames", start, tree], worktree
    ).stdout
    counts: dict[str, tuple[int, int]] = {}
    numstat = run_git(["diff", "--numstat", "-z", "--no-renames", start, tree], worktree).stdout
    for record in numstat.split("\0"):
        parts = record.split("\t")
        if len(parts) == 3:
            added = int(parts[0]) if parts[0].isdigit() else 0
            removed = int(parts[1]) if parts[1].isdigit() else 0
            counts[parts[2]] = (added, removed)
    fields = status_out.split("\0")
    changes: list[FileChange] = []
    index = 0
    while index < len(fields) and fields[index]:
        status = fields[index]
        if status.startswith(("R", "C")):
            old, new = fields[index + 1], fields[index + 2]
            index += 3
            added, removed = counts.get(new, (0, 0))
            changes.append(FileChange(status[0], new, old, added, removed))
        else:
            path = fields[index + 1]
            index += 2
            added, removed = counts.get(path, (0, 0))
            changes.append(FileChange(status[0], path, "", added, removed))
    return changes


def file_diff(worktree: Path, start: str, path: str, tree: str | None = None) -> str:
    """The unified diff of one path from commit start to the worktree's current state."""
    tree = tree or snapshot_tree(worktree)
    return run_git(["diff", "--find-renames", start, tree, "--", path], worktree).stdout
