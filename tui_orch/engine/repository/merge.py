"""Merging task branches into the integration branch, and the integration branch into base.

A merge that conflicts is aborted at once, so the integration worktree is left exactly
as it was and every branch keeps its commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tui_orch.engine.repository.gitcli import run_git
from tui_orch.engine.repository.worktrees import Workspace


@dataclass(frozen=True)
class MergeOutcome:
    ok: bool
    commit: str = ""
    conflicts: tuple[str, ...] = ()
    error: str = ""


def merge_into(workspace: Workspace, worktree: Path, branch: str, message: str) -> MergeOutcome:
    """Merge branch into what worktree has checked out (``--no-ff``); abort on conflict."""
    with workspace.lock.held():
        done = run_git(
            [*workspace.identity(), "merge", "--no-ff", "--no-edit", "-m", message, branch],
            worktree,
            check=False,
        )
        if done.returncode == 0:
            head = run_git(["rev-parse", "HEAD"], worktree).stdout.strip()
            return MergeOutcome(True, head)
        conflicts = run_git(
            ["diff", "--name-only", "--diff-filter=U", "-z"], worktree, check=False
        ).stdout
        paths = tuple(sorted(path for path in conflicts.split("\0") if path))
        run_git(["merge", "--abort"], worktree, check=False)
        # If the merge could not even start (e.g. a file in the way), make sure nothing is left.
        run_git(["reset", "--hard", "--quiet", "HEAD"], worktree, check=False)
    return MergeOutcome(False, conflicts=paths, error=(done.stderr or done.stdout).strip())
