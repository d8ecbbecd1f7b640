"""Runs made before worktrees moved out of `.git/`: their worktrees are moved out on resume.

Agents refuse to edit under `.git/`, so a retried task of such a run would fail at once.
`git worktree move` keeps everything a worktree holds (uncommitted changes included) and
updates git's own records; a worktree whose agent still runs stays where it is (its
working directory cannot move under it) and goes the next time.
"""

from __future__ import annotations

from pathlib import Path

from tui_orch.engine.repository.gitcli import GitError
from tui_orch.engine.repository.locations import run_worktree_dir
from tui_orch.engine.repository.worktrees import Workspace
from tui_orch.engine.run.state import RunState


def inside_git_dir(state: RunState, workspace: Workspace) -> bool:
    root = Path(state.worktree_root)
    return root == workspace.common or workspace.common in root.parents


def move_out_of_git_dir(workspace: Workspace, state: RunState, root: Path, live: set[str]) -> str:
    """Move the run's worktrees from under the git dir to root's layout, but not those
    of the tasks in ``live`` (their agents run); what was done, in one sentence ('' if
    the run was not under the git dir)."""
    if not inside_git_dir(state, workspace):
        return ""
    old_root = Path(state.worktree_root)
    new_root = run_worktree_dir(root, workspace.common, state.run_id)
    moved, kept = 0, []
    for task in state.tasks.values():
        if task.id in live:
            kept.append(task.id)
            continue
        task.worktree, done = _move(workspace, Path(task.worktree), old_root, new_root)
        moved += done
    state.integration_worktree, done = _move(
        workspace, Path(state.integration_worktree), old_root, new_root
    )
    moved += done
    if kept:
        return (
            f"moved {moved} worktree(s) of run {state.run_id} out of the git dir to {new_root} "
            f"(agents refuse to edit under .git); {', '.join(kept)} still run(s) and stay(s) "
            "there for now"
        )
    state.worktree_root = str(new_root)
    for folder in (old_root, old_root.parent):
        try:
            folder.rmdir()
        except OSError:
            break
    return (
        f"moved the worktrees of run {state.run_id} out of the git dir to {new_root}, "
        "where agents can edit them"
    )


def _move(workspace: Workspace, path: Path, old_root: Path, new_root: Path) -> tuple[str, int]:
    """(the worktree's path now, 1 if it was moved): a path not under old_root, or one
    git will not move, stays as it is."""
    if old_root not in path.parents:
        return str(path), 0
    target = new_root / path.relative_to(old_root)
    if not path.exists():
        return str(target), 0  # not made yet: it will be made in the new place
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        workspace.locked_git("worktree", "move", str(path), str(target))
    except GitError:
        return str(path), 0
    return str(target), 1
