"""Predicting merge conflicts between worktrees before anything is merged.

Each worktree's current state becomes a commit (its snapshot tree, parented on the
commit the task started from) without touching the agent's index or files; then
``git merge-tree --write-tree --name-only`` merges two such commits in memory: exit 1
and the conflicted paths mean the real merge would conflict. Results are cached per
pair of commits, so a round where one worktree changed recomputes only its pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tui_orch.engine.repository.gitcli import MERGE_TREE_GIT_VERSION, git_version, run_git

FIXED_IDENTITY = {
    "GIT_AUTHOR_NAME": "tui-orch",
    "GIT_AUTHOR_EMAIL": "tui-orch@localhost",
    "GIT_COMMITTER_NAME": "tui-orch",
    "GIT_COMMITTER_EMAIL": "tui-orch@localhost",
    # Fixed dates: the same tree and parent always give the same snapshot commit id.
    "GIT_AUTHOR_DATE": "2000-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2000-01-01T00:00:00Z",
}


def predictions_available() -> bool:
    return git_version() >= MERGE_TREE_GIT_VERSION


@dataclass
class ConflictPredictor:
    """merge-tree between snapshot commits, remembered per pair."""

    repo: Path
    _commits: dict[tuple[str, str], str] = field(default_factory=dict)
    _pairs: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)

    def commit_for(self, tree: str, parent: str) -> str:
        """A commit holding tree on top of parent (cached; writes only an object)."""
        key = (tree, parent)
        if key not in self._commits:
            self._commits[key] = run_git(
                ["commit-tree", tree, "-p", parent, "-m", "tui-orch snapshot"],
                self.repo,
                env=FIXED_IDENTITY,
            ).stdout.strip()
        return self._commits[key]

    def conflicts(self, first: str, second: str) -> tuple[str, ...]:
        """Paths that would conflict when merging commit second into commit first."""
        key = (first, second) if first <= second else (second, first)
        if key not in self._pairs:
            done = run_git(
                ["merge-tree", "--write-tree", "--name-only", "--no-messages", "-z", *key],
                self.repo,
                check=False,
            )
            if done.returncode == 1:
                # NUL-separated (paths are never quoted): the tree id, then each conflicted path.
                paths = [path for path in done.stdout.split("\0")[1:] if path]
                self._pairs[key] = tuple(sorted(set(paths)))
            elif done.returncode == 0:
                self._pairs[key] = ()
            else:
                raise RuntimeError(f"git merge-tree failed: {done.stderr.strip()}")
        return self._pairs[key]
