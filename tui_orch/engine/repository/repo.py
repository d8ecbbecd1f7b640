"""What the plan checks need to know about a git repository.

Read once through GitPython and kept as plain data, so checks stay pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import git


class NotARepository(ValueError):
    """The given directory is not inside a usable git work tree."""


@dataclass(frozen=True)
class RepoInfo:
    """A repository's top-level directory, its branches and the checked-out one."""

    root: Path
    branches: frozenset[str]
    current_branch: str | None


def read_repo(path: Path) -> RepoInfo:
    """Read the repository containing path; raise NotARepository with a clear reason."""
    path = path.resolve()
    if not path.exists():
        raise NotARepository(f"{path} does not exist")
    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise NotARepository(f"{path} is not inside a git repository") from None
    with repo:
        if repo.bare or repo.working_tree_dir is None:
            raise NotARepository(f"{path} is a bare repository; tui-orch needs a work tree")
        try:
            current: str | None = repo.active_branch.name
        except TypeError:  # detached HEAD
            current = None
        return RepoInfo(
            root=Path(repo.working_tree_dir).resolve(),
            branches=frozenset(head.name for head in repo.heads),
            current_branch=current,
        )


def enclosing_repo(path: Path) -> Path | None:
    """The work tree containing path, or None when path is not in one."""
    try:
        return read_repo(path).root
    except NotARepository:
        return None
