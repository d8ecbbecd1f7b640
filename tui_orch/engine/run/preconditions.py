"""What must hold before a run creates anything: each failure is one sentence and exit 2."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tui_orch.engine.plans.plan import Plan
from tui_orch.engine.repository.gitcli import MIN_GIT_VERSION, git_version
from tui_orch.engine.repository.worktrees import Workspace


class PreconditionFailed(Exception):
    """A run cannot start; the message says why and what to do."""


def check_git_version() -> None:
    version = git_version()
    if not version:
        raise PreconditionFailed("git was not found on PATH; install git 2.25 or newer")
    if version < MIN_GIT_VERSION:
        have = ".".join(map(str, version))
        need = ".".join(map(str, MIN_GIT_VERSION))
        raise PreconditionFailed(f"git {have} is too old; tui-orch needs git {need} or newer")


def tracked_changes(workspace: Workspace, worktree: Path) -> list[str]:
    """Modified, staged or deleted tracked files (untracked files do not block a merge)."""
    out = workspace.git("status", "--porcelain", "--untracked-files=no", cwd=worktree).stdout
    return [line[3:] for line in out.splitlines() if line.strip()]


def check_base_tree_clean(workspace: Workspace, base: str) -> None:
    """The base branch must not have uncommitted work where it is checked out."""
    checked_out = workspace.worktree_of_branch(base)
    if checked_out is None:
        return
    changed = tracked_changes(workspace, checked_out)
    if changed:
        shown = ", ".join(changed[:3]) + (
            f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        )
        raise PreconditionFailed(
            f"{checked_out} has uncommitted changes ({shown}) on '{base}', the branch this run "
            "merges into; commit or stash them first"
        )


def check_branch_namespace(workspace: Workspace) -> None:
    """A branch named 'tui-orch' would make every branch tui-orch/<run>/... impossible."""
    if workspace.branch_exists("tui-orch"):
        raise PreconditionFailed(
            f"{workspace.root} has a branch named 'tui-orch', so tui-orch cannot create its "
            "branches tui-orch/<run>/<task>; rename it (git branch -m tui-orch OTHER) first"
        )


def check_creatable(directory: Path, what: str, way_out: str = "move it out of the way") -> None:
    """directory exists as a folder, or can be made: the nearest existing part is a
    writable folder. Checked without creating anything."""
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise PreconditionFailed(
            f"{what} {directory} cannot be created: {existing} is not a writable directory; "
            + way_out
        )


def find_program(program: str, cwd: Path, path_env: str | None = None) -> str | None:
    """Where program would be found when started in cwd, or None."""
    if "/" in program:
        candidate = Path(program) if os.path.isabs(program) else cwd / program
        return str(candidate) if os.access(candidate, os.X_OK) and candidate.is_file() else None
    return shutil.which(program, path=path_env)


def check_commands(plan: Plan, repo_root: Path) -> None:
    """Every agent and validation program must exist, or nothing starts."""
    missing: list[str] = []
    for task in plan.tasks:
        profile = plan.agents[task.agent]
        program = profile.command[0]
        path_env = profile.env.get("PATH", os.environ.get("PATH"))
        if find_program(program, repo_root, path_env) is None:
            missing.append(
                f"agent '{task.agent}' (task '{task.id}'): '{program}' was not found on PATH; "
                "install it or change the profile's command"
            )
    for command in plan.validate:
        if not command.shell and find_program(command.argv[0], repo_root) is None:
            missing.append(f"validate: '{command.argv[0]}' was not found on PATH")
    if missing:
        raise PreconditionFailed("\n".join(dict.fromkeys(missing)))
