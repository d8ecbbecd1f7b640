"""Worktrees and branches of one repository, each shared change made under its git lock.

A task works in its own worktree on its own branch; the integration branch has one
too. Nothing here ever touches the user's working tree except `fast_forward_checkout`,
which is only called after the user approved a validated result.
"""

from __future__ import annotations

import fnmatch
import shutil
from dataclasses import dataclass
from pathlib import Path

from tui_orch.engine.repository.gitcli import GitError, GitLock, GitResult, common_dir, run_git

FALLBACK_IDENTITY = ("-c", "user.name=tui-orch", "-c", "user.email=tui-orch@localhost")
# A gc (pack-refs, worktree prune) started by one of our commits could race the
# worktrees and branches being created beside it; the user's next git command runs it.
NO_AUTO_GC = ("-c", "gc.auto=0", "-c", "maintenance.auto=false")


@dataclass(frozen=True)
class WorktreeInfo:
    path: Path
    head: str
    branch: str | None  # short name, None when detached


@dataclass(frozen=True)
class CommitSummary:
    """What a task's branch holds beyond the commit it started from."""

    head: str
    commits: int
    files: tuple[str, ...]
    insertions: int
    deletions: int


class Workspace:
    """One repository: its top-level, common git dir and the lock for changing it."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.common = common_dir(self.root)
        self.lock = GitLock(self.common)
        self._identity: tuple[str, ...] | None = None

    # -- reading -------------------------------------------------------------

    def git(self, *args: str, cwd: Path | None = None, check: bool = True) -> GitResult:
        """Run git without the lock: for reads that change nothing shared."""
        return run_git(args, cwd or self.root, check=check)

    def locked_git(self, *args: str, cwd: Path | None = None, check: bool = True) -> GitResult:
        """Run git under the lock: for anything that writes refs, worktrees or config."""
        with self.lock.held():
            return run_git(args, cwd or self.root, check=check)

    def rev(self, ref: str, cwd: Path | None = None) -> str:
        return self.git(
            "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=cwd
        ).stdout.strip()

    def branch_exists(self, branch: str) -> bool:
        return (
            self.git(
                "show-ref", "--verify", "--quiet", f"refs/heads/{branch}", check=False
            ).returncode
            == 0
        )

    def existing_branches(self, branches: list[str]) -> frozenset[str]:
        """Which of these branches exist: one git call for many `branch_exists`."""
        if not branches:
            return frozenset()
        # Patterns match whole path components: refs/heads/a also lists refs/heads/a/b.
        refs = [f"refs/heads/{branch}" for branch in branches]
        out = self.git("for-each-ref", "--format=%(refname)", *refs).stdout
        return frozenset(ref.removeprefix("refs/heads/") for ref in set(refs) & set(out.split()))

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        done = self.git("merge-base", "--is-ancestor", ancestor, descendant, check=False)
        return done.returncode == 0

    def worktrees(self) -> list[WorktreeInfo]:
        out = self.git("worktree", "list", "--porcelain").stdout
        found: list[WorktreeInfo] = []
        for block in out.strip().split("\n\n"):
            fields = dict(
                [*line.split(" ", 1), ""][:2] for line in block.splitlines() if line.strip()
            )
            if "worktree" not in fields:
                continue
            branch = fields.get("branch", "").removeprefix("refs/heads/") or None
            found.append(WorktreeInfo(Path(fields["worktree"]), fields.get("HEAD", ""), branch))
        return found

    def worktree_of_branch(self, branch: str) -> Path | None:
        """Where branch is checked out, if anywhere."""
        for info in self.worktrees():
            if info.branch == branch:
                return info.path
        return None

    def head_branch(self, worktree: Path) -> str | None:
        """The branch checked out in worktree (short name), None when HEAD is detached."""
        done = self.git("symbolic-ref", "--quiet", "HEAD", cwd=worktree, check=False)
        ref = done.stdout.strip()
        return ref.removeprefix("refs/heads/") if done.returncode == 0 and ref else None

    def is_dirty(self, worktree: Path) -> bool:
        """Uncommitted changes to tracked files, or untracked files that are not ignored."""
        return bool(self.git("status", "--porcelain", cwd=worktree).stdout.strip())

    def summary(self, start: str, branch: str) -> CommitSummary:
        """Commits and changed files from start to branch's head (two git calls)."""
        # Children before parents, so the first is the head itself whatever the dates say.
        commits = self.git("rev-list", "--topo-order", f"{start}..refs/heads/{branch}")
        shas = commits.stdout.split()
        head = shas[0] if shas else start
        files: list[str] = []
        insertions = deletions = 0
        for line in self.git("diff", "--numstat", "-z", start, head).stdout.split("\0"):
            parts = line.split("\t")
            if len(parts) == 3 and parts[2]:
                files.append(parts[2])
                insertions += int(parts[0]) if parts[0].isdigit() else 0
                deletions += int(parts[1]) if parts[1].isdigit() else 0
        return CommitSummary(head, len(shas), tuple(files), insertions, deletions)

    # -- changing --------------------------------------------------------------

    def add_worktree(self, path: Path, branch: str, start: str, exists: bool | None = None) -> bool:
        """Create branch at start and check it out in a new worktree at path: all or
        nothing. git can fail half way (a post-checkout hook that fails leaves the
        worktree and branch made); what this call made is then removed again, and a
        branch that already existed is checked out, never re-created or deleted.
        ``exists``, when the caller knows it (see `existing_branches`), saves asking git.
        True when the branch was made here (at start)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with self.lock.held():
            existed = self.branch_exists(branch) if exists is None else exists
            create = () if existed else ("-b", branch)
            target = (branch,) if existed else (start,)
            args = ["worktree", "add", "--quiet", *create, str(path), *target]
            done = run_git(args, self.root, check=False)
            if done.returncode != 0:
                self._undo_add(path, None if existed else (branch, start))
                raise GitError(args, done.returncode, done.stdout, done.stderr)
        return not existed

    def _undo_add(self, path: Path, new_branch: tuple[str, str] | None) -> None:
        """Remove a worktree (and a branch made at start) that a failed `worktree add`
        left; lock held. A branch with any commit of its own is never deleted, so even a
        wrong guess that it was new loses nothing."""
        if any(info.path == path for info in self.worktrees()):
            run_git(["worktree", "remove", "-f", "-f", str(path)], self.root, check=False)
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)
        run_git(["worktree", "prune"], self.root, check=False)
        if new_branch is None:
            return
        branch, start = new_branch
        tip = self.git("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False)
        at = self.git("rev-parse", "--verify", "--quiet", f"{start}^{{commit}}", check=False)
        if tip.returncode == 0 and at.returncode == 0 and tip.stdout.strip() == at.stdout.strip():
            run_git(["branch", "-D", "--quiet", branch], self.root, check=False)

    def remove_worktree(self, path: Path, force: bool = False) -> None:
        args = ["worktree", "remove", str(path)]
        if force:
            args.insert(2, "--force")
        if path.exists():
            self.locked_git(*args)
        self.locked_git("worktree", "prune")

    def delete_branch(self, branch: str, force: bool = False) -> None:
        self.locked_git("branch", "-D" if force else "-d", "--quiet", branch)

    def commit_all(self, worktree: Path, message: str) -> bool:
        """Commit every change in worktree (new, modified, deleted); False if nothing changed.

        Not under the lock: a commit touches only its worktree's index and its own
        branch, which git's own lock files keep safe beside any other writer (see
        tests/test_git_lock.py), so a finished agent's commit never holds up the
        worktree of the next one. It never starts a gc in the middle of a run either.
        """
        run_git(["add", "--all"], worktree)
        args = [*self.identity(), *NO_AUTO_GC, "commit", "--quiet", "--no-verify", "-m", message]
        done = run_git(args, worktree, check=False)
        if done.returncode == 0:
            return True
        if not run_git(["status", "--porcelain"], worktree).stdout.strip():
            return False  # nothing to commit (asked only then: most commits have work)
        raise GitError(args, done.returncode, done.stdout, done.stderr)

    def identity(self) -> tuple[str, ...]:
        """Config flags naming tui-orch as author, only when the user has no identity set."""
        if self._identity is None:
            has_email = self.git("config", "user.email", check=False).returncode == 0
            has_name = self.git("config", "user.name", check=False).returncode == 0
            self._identity = () if has_email and has_name else FALLBACK_IDENTITY
        return self._identity

    def ignored_files(self, patterns: tuple[str, ...]) -> list[str]:
        """Top-level files such as .env that match patterns and that git ignores.

        Only ignored files are ever copied into worktrees, so they can never be
        committed by accident. Asked once per batch, not once per worktree.
        """
        if not patterns:
            return []
        candidates = [
            entry.name
            for entry in self.root.iterdir()
            if entry.is_file() and any(fnmatch.fnmatch(entry.name, p) for p in patterns)
        ]
        if not candidates:
            return []
        return sorted(self.git("check-ignore", *candidates, check=False).stdout.split())

    def copy_files(self, names: list[str], worktree: Path) -> None:
        """Copy top-level files of the user's tree into a worktree (see `ignored_files`)."""
        for name in names:
            shutil.copy2(self.root / name, worktree / name)

    def fast_forward_checkout(self, worktree: Path, commit: str) -> GitResult:
        """Fast-forward the branch checked out in worktree to commit (its files follow)."""
        return self.locked_git("merge", "--ff-only", "--quiet", commit, cwd=worktree, check=False)

    def compare_and_swap(self, branch: str, new: str, old: str) -> bool:
        """Move branch to new only if it still points at old."""
        done = self.locked_git("update-ref", f"refs/heads/{branch}", new, old, check=False)
        return done.returncode == 0
