"""Checks on the repo-relative paths that tasks own.

A task may only own files inside the repository: no absolute paths, no ``..``,
nothing in ``.git``, and (checked against a real repo) no way out through a symlink.
"""

from __future__ import annotations

import posixpath
from pathlib import Path, PurePosixPath


class PathRefused(ValueError):
    """A path a task may not own; the message says why in a few words."""


def normalise_owned_path(raw: str) -> str:
    """Return the canonical form ('src/a.py') of an owned path, or raise PathRefused."""
    if "\x00" in raw:
        raise PathRefused("contains a NUL character")
    if raw.startswith(("/", "~")):
        raise PathRefused("is an absolute path; give it relative to the repository root")
    if raw.endswith("/"):
        raise PathRefused("names a directory; list the files the task owns")
    parts = [part for part in raw.split("/") if part not in ("", ".")]
    if ".." in parts:
        normal = posixpath.normpath("/".join(parts))
        if normal == ".." or normal.startswith("../"):
            raise PathRefused("leaves the repository through '..'")
        raise PathRefused(f"uses '..'; write it as '{normal}'")
    if any(part.lower() == ".git" for part in parts):
        raise PathRefused("is inside .git, which belongs to git, not to a task")
    if not parts:
        raise PathRefused("names the repository root, not a file")
    return "/".join(parts)


def check_inside_repo(repo_root: Path, path: str) -> None:
    """Raise PathRefused if any existing part of path is a symlink leading out of the repo."""
    root = repo_root.resolve()
    current = root
    walked = PurePosixPath()
    for part in PurePosixPath(path).parts:
        current = current / part
        walked = walked / part
        if current.is_symlink():
            target = current.resolve()
            if not target.is_relative_to(root):
                raise PathRefused(
                    f"leaves the repository through the symlink '{walked}' -> {target}"
                )
            if ".git" in target.relative_to(root).parts:
                raise PathRefused(f"leads into .git through the symlink '{walked}'")
            current = target
        if not current.exists():
            return
    if current.is_dir():
        raise PathRefused("is a directory in the repository; list the files the task owns")
