"""Live conflict detection: agents editing files they do not own, overlapping edits,
and merge conflicts predicted long before any merge.

A round looks at every worktree of the current batch (without writing to it), works out
which paths each task changed since it started, and compares: a path changed by a task
that does not own it, a path changed by two tasks, two tasks whose work would conflict
when merged. Conflicts are kept as a current set, so each is reported once when it
appears (and again as resolved if the agent undoes it).
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from tui_orch.engine.conflicts.policy import DEFAULT_POLICY
from tui_orch.engine.conflicts.predict import ConflictPredictor
from tui_orch.engine.plans.problems import quote_list
from tui_orch.engine.repository.gitcli import run_git
from tui_orch.engine.repository.snapshots import snapshot_tree

SNAPSHOT_THREADS = 4
FINGERPRINT_MAX_FILES = 20_000


@dataclass(frozen=True)
class Conflict:
    """One problem between tasks; ``blocks`` names the tasks whose merge it holds back."""

    kind: str
    tasks: tuple[str, ...]
    paths: tuple[str, ...]
    message: str
    policy: str
    owner: str | None = None
    blocks: tuple[str, ...] = ()
    since: float = field(default=0.0, compare=False)

    @property
    def key(self) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
        return (self.kind, self.tasks, self.paths)

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["tasks"], data["paths"], data["blocks"] = (
            list(self.tasks),
            list(self.paths),
            list(self.blocks),
        )
        return data


@dataclass(frozen=True)
class WorktreeView:
    """What the monitor needs of one task: where it works and from which commit."""

    task_id: str
    worktree: Path
    start: str


@dataclass
class _Seen:
    tree: str
    changed: frozenset[str]
    fingerprint: int | None


def fingerprint(worktree: Path) -> int | None:
    """A cheap summary of every file's path, size, times and inode (no git, no reads).

    Equal fingerprints mean nothing changed, so the last snapshot still holds. Trees
    too big to walk quickly get None, which always means "take a snapshot".
    """
    # ctime and inode too, as git's own stat check does: a tool can put an mtime back.
    entries: list[tuple[str, int, int, int, int]] = []
    pending = [str(worktree)]
    while pending:
        directory = pending.pop()
        try:
            with os.scandir(directory) as scan:
                for entry in scan:
                    if entry.name == ".git":
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
                        continue
                    stat = entry.stat(follow_symlinks=False)
                    entries.append(
                        (entry.path, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)
                    )
                    if len(entries) > FINGERPRINT_MAX_FILES:
                        return None
        except OSError:
            return None
    return hash(tuple(sorted(entries)))


class ConflictMonitor:
    """Computes the current conflicts of a batch; call `round` every couple of seconds."""

    def __init__(
        self,
        repo: Path,
        owners: Mapping[str, str],
        policy: Mapping[str, str],
        order: list[str],
        predict: bool,
    ) -> None:
        self.repo = repo
        self.owners = dict(owners)
        self.policy = {**DEFAULT_POLICY, **policy}
        self.order = order  # plan order: the later of two conflicting tasks is held back
        self.predictor = ConflictPredictor(repo) if predict else None
        self.current: dict[tuple[str, tuple[str, ...], tuple[str, ...]], Conflict] = {}
        self.history: list[Conflict] = []  # everything ever reported in this run
        self._seen: dict[str, _Seen] = {}
        self._lock = threading.Lock()  # one round at a time, whatever thread calls it

    def start_batch(self) -> None:
        """A new batch: the last one's conflicts are settled (merged or stopped the run)."""
        self.current = {}
        self._seen = {}

    def round(
        self, views: list[WorktreeView], integration_head: str
    ) -> tuple[list[Conflict], list[Conflict]]:
        """Look at the worktrees now; return (conflicts that appeared, ones that went away)."""
        with self._lock:
            return self._round(views, integration_head)

    def _round(
        self, views: list[WorktreeView], integration_head: str
    ) -> tuple[list[Conflict], list[Conflict]]:
        live = [view for view in views if view.worktree.exists() and view.start]
        with ThreadPoolExecutor(max_workers=SNAPSHOT_THREADS) as pool:
            prints = dict(
                zip(
                    [view.task_id for view in live],
                    pool.map(lambda view: fingerprint(view.worktree), live),
                    strict=True,
                )
            )
            stale = [
                view
                for view in live
                if prints[view.task_id] is None
                or (seen := self._seen.get(view.task_id)) is None
                or seen.fingerprint != prints[view.task_id]
            ]
            trees = dict(
                zip(
                    [view.task_id for view in stale],
                    pool.map(lambda view: snapshot_tree(view.worktree), stale),
                    strict=True,
                )
            )
        for view in stale:
            tree = trees[view.task_id]
            seen = self._seen.get(view.task_id)
            changed = seen.changed if seen and seen.tree == tree else None
            self._seen[view.task_id] = _Seen(
                tree,
                changed if changed is not None else self._changed_paths(view, tree),
                prints[view.task_id],
            )
        found = self._unowned(live) + self._overlaps(live) + self._predicted(live, integration_head)
        now = time.time()
        latest = {c.key: self.current.get(c.key, c) for c in found}
        appeared = [replace(c, since=now) for key, c in latest.items() if key not in self.current]
        gone = [c for key, c in self.current.items() if key not in latest]
        for conflict in appeared:
            latest[conflict.key] = conflict
        self.current = latest
        self.history.extend(appeared)
        return appeared, gone

    def add(self, conflicts: list[Conflict]) -> list[Conflict]:
        """Record conflicts found elsewhere (the interface check); returns the new ones."""
        new = [replace(c, since=time.time()) for c in conflicts if c.key not in self.current]
        for conflict in new:
            self.current[conflict.key] = conflict
        self.history.extend(new)
        return new

    def blocked(self) -> dict[str, list[str]]:
        """Task id -> the reasons its merge is held back (conflicts whose policy is block)."""
        reasons: dict[str, list[str]] = {}
        for conflict in self.current.values():
            if conflict.policy == "block":
                for task in conflict.blocks:
                    reasons.setdefault(task, []).append(
                        f"{conflict.message} ({conflict.kind}: block)"
                    )
        return reasons

    def warnings_by_task(self) -> dict[str, list[str]]:
        by_task: dict[str, list[str]] = {}
        for conflict in self.current.values():
            for task in conflict.tasks:
                by_task.setdefault(task, []).append(conflict.message)
        return by_task

    # -- the three kinds found from worktrees --------------------------------------

    def _changed_paths(self, view: WorktreeView, tree: str) -> frozenset[str]:
        out = run_git(
            ["diff", "--name-status", "-z", "--find-renames", view.start, tree], view.worktree
        ).stdout
        fields = [field for field in out.split("\0") if field]
        paths: set[str] = set()
        index = 0
        while index < len(fields):
            status = fields[index]
            width = 2 if status.startswith(("R", "C")) else 1
            paths.update(fields[index + 1 : index + 1 + width])  # a rename changes both
            index += 1 + width
        return frozenset(paths)

    def _unowned(self, views: list[WorktreeView]) -> list[Conflict]:
        found = []
        for view in views:
            for path in sorted(self._seen[view.task_id].changed):
                owner = self.owners.get(path)
                if owner == view.task_id:
                    continue
                whose = f"which task '{owner}' owns" if owner else "which no task owns"
                found.append(
                    Conflict(
                        kind="unowned_edit",
                        tasks=(view.task_id,),
                        paths=(path,),
                        message=f"task '{view.task_id}' changed {path}, {whose}",
                        policy=self.policy["unowned_edit"],
                        owner=owner,
                        blocks=(view.task_id,),
                    )
                )
        return found

    def _overlaps(self, views: list[WorktreeView]) -> list[Conflict]:
        by_path: dict[str, list[str]] = {}
        for view in views:
            for path in self._seen[view.task_id].changed:
                by_path.setdefault(path, []).append(view.task_id)
        found = []
        for path, tasks in sorted(by_path.items()):
            if len(tasks) < 2:
                continue
            ordered = tuple(sorted(tasks, key=self._position))
            owner = self.owners.get(path)
            found.append(
                Conflict(
                    kind="overlap",
                    tasks=ordered,
                    paths=(path,),
                    message=f"tasks {quote_list(ordered)} both changed {path}",
                    policy=self.policy["overlap"],
                    owner=owner,
                    blocks=tuple(task for task in ordered if task != owner),
                )
            )
        return found

    def _predicted(self, views: list[WorktreeView], integration_head: str) -> list[Conflict]:
        if self.predictor is None:
            return []
        commits = {
            view.task_id: self.predictor.commit_for(self._seen[view.task_id].tree, view.start)
            for view in views
            if self._seen[view.task_id].changed
        }
        found = []
        ordered = sorted(commits, key=self._position)
        for first, second in itertools.combinations(ordered, 2):
            paths = self.predictor.conflicts(commits[first], commits[second])
            if paths:
                found.append(
                    Conflict(
                        kind="predicted",
                        tasks=(first, second),
                        paths=paths,
                        message=(
                            f"merging tasks '{first}' and '{second}' will conflict in "
                            f"{', '.join(paths)}"
                        ),
                        policy=self.policy["predicted"],
                        blocks=(second,),
                    )
                )
        starts = {view.task_id: view.start for view in views}
        for task in ordered:
            if starts[task] == integration_head:
                continue  # it starts from the integration head: nothing to clash with there
            paths = self.predictor.conflicts(commits[task], integration_head)
            if paths:
                found.append(
                    Conflict(
                        kind="predicted",
                        tasks=(task,),
                        paths=paths,
                        message=(
                            f"task '{task}' will conflict with the integration branch in "
                            f"{', '.join(paths)}"
                        ),
                        policy=self.policy["predicted"],
                        blocks=(task,),
                    )
                )
        return found

    def _position(self, task_id: str) -> int:
        return self.order.index(task_id) if task_id in self.order else len(self.order)
