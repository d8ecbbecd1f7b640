"""`clean`: remove a run's worktrees and branches, never losing work without --force."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

from tui_orch.engine.preconditions import PreconditionFailed
from tui_orch.engine.runs import running_tasks
from tui_orch.engine.state import RunState, RunStore
from tui_orch.engine.worktrees import Workspace


@dataclass
class CleanReport:
    run_id: str
    removed_worktrees: list[str] = field(default_factory=list)
    removed_branches: list[str] = field(default_factory=list)
    # What would lose work: kept unless --force, each with the reason.
    kept: list[str] = field(default_factory=list)


def clean_run(workspace: Workspace, run: RunState, force: bool = False) -> CleanReport:
    """Remove what can go without losing work; list the rest (or remove it too with force)."""
    store = RunStore(workspace.common)
    running = running_tasks(store, run)
    if running:
        names = ", ".join(task.id for task in running)
        raise PreconditionFailed(
            f"run {run.run_id} still has running agents ({names}); stop them first with "
            f"`tui-orch stop {run.run_id}`"
        )
    report = CleanReport(run.run_id)
    base_head = workspace.rev(run.base) if workspace.branch_exists(run.base) else ""
    pairs = [(Path(t.worktree), t.branch) for t in run.tasks.values()]
    pairs.append((Path(run.integration_worktree), run.integration_branch))
    for worktree, branch in pairs:
        losses = _what_would_be_lost(workspace, worktree, branch, base_head)
        if losses and not force:
            report.kept.extend(losses)
            continue
        if worktree.exists() or _registered(workspace, worktree):
            workspace.remove_worktree(worktree, force=True)
            report.removed_worktrees.append(str(worktree))
        if workspace.branch_exists(branch):
            workspace.delete_branch(branch, force=True)
            report.removed_branches.append(branch)
    if not report.kept:
        with contextlib.suppress(OSError):
            Path(run.worktree_root).rmdir()
        run.cleaned = True
        store.save(run)
    return report


def _registered(workspace: Workspace, worktree: Path) -> bool:
    return any(info.path == worktree for info in workspace.worktrees())


def _what_would_be_lost(
    workspace: Workspace, worktree: Path, branch: str, base_head: str
) -> list[str]:
    losses = []
    if worktree.exists() and workspace.is_dirty(worktree):
        losses.append(f"{worktree} has uncommitted changes")
    if workspace.branch_exists(branch) and not (
        base_head and workspace.is_ancestor(branch, base_head)
    ):
        head = workspace.rev(branch)
        start = (
            workspace.git("merge-base", branch, base_head, check=False).stdout.strip()
            if base_head
            else ""
        )
        count = workspace.git(
            "rev-list", "--count", f"{start}..{head}" if start else head
        ).stdout.strip()
        if count != "0":
            losses.append(f"branch {branch} has {count} commit(s) not in the base branch")
    return losses
