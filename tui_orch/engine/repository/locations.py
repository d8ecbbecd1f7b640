"""Where a run's worktrees go: outside the repository, in the user's data directory.

Agents protect anything under a `.git/` directory (Claude Code refuses to edit there),
read instructions from every directory above their working directory (CLAUDE.md,
node_modules), and editors watch every folder of `.git/`. So worktrees never live inside
the repository: by default they go to
``$XDG_DATA_HOME/tui-orch/worktrees/<repo name>-<hash of its git dir>/<run>/<task>``.
Run state and logs stay under the repository's git dir (see `state.RunStore`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from tui_orch.engine.run.preconditions import PreconditionFailed, check_creatable


def data_home() -> Path:
    """The user's data directory, following the XDG base directory spec."""
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def default_worktree_root() -> Path:
    return data_home() / "tui-orch" / "worktrees"


def repo_folder_name(git_common_dir: Path) -> str:
    """`<repo name>-<8 hex>`: readable, and unique per repository (not per checkout).

    The hash is of the common git dir, so runs started from any of the user's own
    worktrees of one repository share one folder.
    """
    common = git_common_dir.resolve()
    name = common.parent.name if common.name == ".git" else common.name.removesuffix(".git")
    digest = hashlib.sha256(str(common).encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"{name or 'repo'}-{digest}"


def run_worktree_dir(root: Path, git_common_dir: Path, run_id: str) -> Path:
    """The folder holding one run's worktrees (one sub-folder per task)."""
    return root.resolve() / repo_folder_name(git_common_dir) / run_id


def check_worktree_root(root: Path, repo_root: Path, git_common_dir: Path) -> None:
    """Refuse a root inside the repository (its working tree or its git dir), or one
    that cannot be created: before anything is made."""
    try:
        resolved = root.expanduser().resolve()
    except (OSError, RuntimeError) as error:  # a symlink loop, a path too long
        raise PreconditionFailed(
            f"the worktree root {root} cannot be used ({error}); choose another with "
            "--worktree-root DIR or worktree_root in the config"
        ) from None
    common = git_common_dir.resolve()
    inside = {common: "its git dir", repo_root.resolve(): "its working tree"}
    if common.name == ".git":
        inside.setdefault(common.parent, "its working tree")
    for directory, what in inside.items():
        if resolved == directory or directory in resolved.parents:
            raise PreconditionFailed(
                f"the worktree root {resolved} is inside the repository ({what}, "
                f"{directory}), where agents refuse to edit or see the main checkout's "
                "files; choose a directory outside it with --worktree-root DIR or "
                "worktree_root in the config"
            )
    check_creatable(
        resolved,
        "the worktree root",
        "choose another with --worktree-root DIR or worktree_root in the config",
    )
