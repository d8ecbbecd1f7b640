"""Running git, and the one lock every change to the shared repository goes through.

GitPython has no API for worktrees, ``merge-tree`` or compare-and-swap ref updates, so
those run through the git CLI here. Concurrent ``git worktree add`` / branch / ref
operations on one repository fail at random (two ``worktree add`` at once: "failed to
read .git/worktrees/<name>/commondir"; ``packed-refs`` rewrites); `GitLock` serialises
them within this process (a threading lock) and across processes (an ``flock`` on a
file in the common git dir). A commit in a task's own worktree needs no lock.
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

MIN_GIT_VERSION = (2, 25)
MERGE_TREE_GIT_VERSION = (2, 38)


class GitError(RuntimeError):
    """A git command failed; ``stderr`` holds git's own words."""

    def __init__(self, args: Sequence[str], returncode: int, stdout: str, stderr: str) -> None:
        self.args_run = list(args)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr.strip()
        super().__init__(f"git {' '.join(args)} failed ({returncode}): {self.stderr}")


def first_line(error: Exception) -> str:
    """The first line of what went wrong: git's own words for a GitError."""
    text = error.stderr if isinstance(error, GitError) and error.stderr else str(error)
    return (text.strip().splitlines() or [type(error).__name__])[0]


@dataclass(frozen=True)
class GitResult:
    returncode: int
    stdout: str
    stderr: str


def run_git(
    args: Sequence[str],
    cwd: Path,
    *,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    input_text: str | None = None,
) -> GitResult:
    """Run ``git ARGS`` in cwd; raise GitError on failure when check is true."""
    full_env = {**os.environ, **(env or {})}
    # Never stop to ask anything: no editor, no pager, no credential prompt.
    full_env.update({"GIT_TERMINAL_PROMPT": "0", "GIT_EDITOR": "true", "GIT_PAGER": "cat"})
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=full_env,
        input=input_text,
        capture_output=True,
        text=True,
        errors="replace",
        stdin=None if input_text is not None else subprocess.DEVNULL,
    )
    if check and done.returncode != 0:
        raise GitError(args, done.returncode, done.stdout, done.stderr)
    return GitResult(done.returncode, done.stdout, done.stderr)


def git_version() -> tuple[int, ...]:
    """The installed git's version as numbers, e.g. (2, 39, 5); () if git is missing."""
    try:
        done = subprocess.run(["git", "--version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return ()
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", done.stdout)
    return tuple(int(part) for part in match.groups() if part) if match else ()


def common_dir(repo_root: Path) -> Path:
    """The repository's common git dir, shared by all its worktrees."""
    out = run_git(["rev-parse", "--git-common-dir"], repo_root).stdout.strip()
    path = Path(out)
    return (path if path.is_absolute() else repo_root / path).resolve()


class GitLock:
    """Serialises changes to one repository's refs, worktrees and objects."""

    _thread_locks: ClassVar[dict[str, threading.Lock]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, git_common_dir: Path) -> None:
        self.path = git_common_dir / "tui-orch" / "git.lock"
        with GitLock._registry_lock:
            self._thread_lock = GitLock._thread_locks.setdefault(str(self.path), threading.Lock())

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._thread_lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
