"""`clean`: remove a run's worktrees and branches, never losing work without --force.

It must work on any run, however broken: a state file that cannot be read (the run is
then found from git: its branches `tui-orch/<run>/...` and where they are checked out),
worktrees deleted or moved by hand, paths the file system refuses, a worktree git no
longer knows. Whatever cannot be removed safely is kept and listed, with the reason.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tui_orch.engine.repository.gitcli import GitError, first_line
from tui_orch.engine.repository.locations import repo_folder_name
from tui_orch.engine.repository.worktrees import Workspace
from tui_orch.engine.run.preconditions import PreconditionFailed
from tui_orch.engine.run.runs import live_agents
from tui_orch.engine.run.state import RunState, RunStore, TaskState, UnreadableRun

BRANCH_PREFIX = "tui-orch"
# tui-orch/<run>/<task>, the run id as `RunStore.new_run_id` makes it.
RUN_BRANCH = re.compile(rf"{BRANCH_PREFIX}/\d{{8}}-\d{{6}}-[0-9a-f]{{4}}/[^/]+")


@dataclass
class CleanReport:
    run_id: str
    removed_worktrees: list[str] = field(default_factory=list)
    removed_branches: list[str] = field(default_factory=list)
    # What would lose work: kept unless --force, each with the reason.
    kept: list[str] = field(default_factory=list)
    recovered: bool = False  # the state file was unreadable; the run was found from git


def cleanable_run_ids(workspace: Workspace, store: RunStore) -> list[str]:
    """Every run there is something of: a state file, a run folder without one (its
    driver died before saving), or only branches tui-orch/<run>/..."""
    ids = set(store.run_ids())
    if store.root.is_dir():
        ids |= {path.name for path in store.root.iterdir() if path.is_dir()}
    refs = workspace.git(
        "for-each-ref", "--format=%(refname:short)", f"refs/heads/{BRANCH_PREFIX}/"
    ).stdout.split()
    # Only names a run id can have: a branch tui-orch/feature/x of the user's is not a run.
    ids |= {ref.split("/")[1] for ref in refs if RUN_BRANCH.fullmatch(ref)}
    return sorted(ids)


def load_for_cleaning(workspace: Workspace, store: RunStore, run_id: str) -> RunState:
    """The run's state, or when that cannot be read, what git still knows of it."""
    try:
        return store.load(run_id)
    except UnreadableRun:
        return recover_from_git(workspace, run_id)


def _run_branches(workspace: Workspace, run_id: str) -> list[str]:
    """The branches tui-orch/<run>/... that git has."""
    prefix = f"refs/heads/{BRANCH_PREFIX}/{run_id}/"
    return workspace.git("for-each-ref", "--format=%(refname:short)", prefix).stdout.split()


def recover_from_git(workspace: Workspace, run_id: str) -> RunState:
    """A stand-in state for a run whose state file is gone or broken: every branch
    tui-orch/<run>/<name> and the worktree it is checked out in. The base is unknown,
    so work counts as safe only when another branch holds it."""
    prefix = f"{BRANCH_PREFIX}/{run_id}/"
    refs = _run_branches(workspace, run_id)
    checked_out = {info.branch: info.path for info in workspace.worktrees() if info.branch}
    tasks = {
        branch.removeprefix(prefix): TaskState(
            id=branch.removeprefix(prefix),
            batch=0,
            branch=branch,
            worktree=str(checked_out.get(branch, "")),
        )
        for branch in refs
    }
    paths = [Path(task.worktree) for task in tasks.values() if task.worktree]
    return RunState(
        run_id=run_id,
        repo=str(workspace.root),
        plan_source="",
        base="",
        base_start="",
        integration_branch="",
        integration_worktree="",
        worktree_root=str(paths[0].parent) if paths else "",
        batches=[],
        tasks=tasks,
    )


def clean_run(
    workspace: Workspace, run: RunState, force: bool = False, driving: bool = False
) -> CleanReport:
    """Remove what can go without losing work; list the rest (or remove it too with force).

    Refused while another process drives the run (``driving``: the caller is its driver)
    or while any of its agents runs, recorded in its state or not.
    """
    store = RunStore(workspace.common)
    if driving:
        return _clean(workspace, store, run, force)
    with _not_driven(store, run.run_id):
        return _clean(workspace, store, run, force)


@contextlib.contextmanager
def _not_driven(store: RunStore, run_id: str) -> Iterator[None]:
    """Hold the run's driver lock while cleaning, so no resume or app works on it meanwhile."""
    lock = store.run_dir(run_id) / "driver.lock"
    if not lock.is_file():
        yield
        return
    with open(lock, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PreconditionFailed(
                f"run {run_id} is being driven by another tui-orch process (the app or a "
                f"resume); quit it, or stop the run with `tui-orch stop {run_id}`, first"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _clean(workspace: Workspace, store: RunStore, run: RunState, force: bool) -> CleanReport:
    running = live_agents(store, run)
    if running:
        raise PreconditionFailed(
            f"run {run.run_id} still has running agents ({', '.join(running)}); stop them "
            f"first with `tui-orch stop {run.run_id}`"
        )
    # A real state always knows where the run started; a recovered one does not.
    report = CleanReport(run.run_id, recovered=not run.base_start)
    base_head = workspace.rev(run.base) if run.base and workspace.branch_exists(run.base) else ""
    listed = workspace.worktrees()
    registered = {info.path for info in listed}
    main_checkout = listed[0].path if listed else workspace.root
    for worktree, branch in _pairs(workspace, run):
        if worktree is not None and not _ours(worktree, run.run_id, workspace, main_checkout):
            # The user checked a branch of the run out somewhere of their own: never ours
            # to remove, and neither is the branch while it is checked out there.
            report.kept.append(
                f"{worktree} is not one of run {run.run_id}'s worktrees"
                + (f" (it has {branch} checked out)" if branch else "")
                + "; it is kept, and so is its branch"
            )
            continue
        losses = _what_would_be_lost(workspace, worktree, branch, base_head, registered)
        if losses and not force:
            report.kept.extend(losses)
            continue
        try:
            if worktree is not None and _remove_worktree(workspace, worktree, registered, force):
                report.removed_worktrees.append(str(worktree))
            if branch and workspace.branch_exists(branch):
                workspace.delete_branch(branch, force=True)
                report.removed_branches.append(branch)
        except (GitError, OSError) as error:
            report.kept.append(f"{worktree or branch} could not be removed: {first_line(error)}")
    if not report.kept:
        worktrees = [run.integration_worktree, *(t.worktree for t in run.tasks.values())]
        folders = [run.worktree_root, *(str(Path(w).parent) for w in worktrees if w)]
        _remove_empty_folders(workspace, run.run_id, folders)
        if not report.recovered:
            run.cleaned = True
            store.save(run)
    return report


def _pairs(workspace: Workspace, run: RunState) -> list[tuple[Path | None, str]]:
    """Each (worktree, branch) of the run: from its state, plus what git knows (any
    branch of the run the state does not name, and where each branch is checked out
    if that is not where the state says)."""
    recorded: list[tuple[Path | None, str]] = [
        (Path(task.worktree) if task.worktree else None, task.branch) for task in run.tasks.values()
    ]
    if run.integration_branch:
        recorded.append((Path(run.integration_worktree), run.integration_branch))
    found = _run_branches(workspace, run.run_id)
    named = {branch for _, branch in recorded}
    recorded += [(None, branch) for branch in found if branch not in named]
    checked_out = {info.branch: info.path for info in workspace.worktrees() if info.branch}
    pairs: list[tuple[Path | None, str]] = []
    for worktree, branch in recorded:
        actual = checked_out.get(branch)
        if actual is not None and actual != worktree:
            # Checked out elsewhere: that worktree goes first (if it is the run's own),
            # or the branch stays (if it is the user's).
            pairs.append((worktree, ""))
            pairs.append((actual, branch))
        else:
            pairs.append((worktree, branch))
    return pairs


def _ours(worktree: Path, run_id: str, workspace: Workspace, main_checkout: Path) -> bool:
    """Whether a folder may be removed as one of the run's worktrees, whatever a state
    file says: it must sit where tui-orch puts them, `<root>/<repo name>-<hash>/<run>/<task>`
    (or `<git dir>/tui-orch/worktrees/<run>/<task>` in the old layout), with no symlink or
    '..' on the way, and never be the repository or one of the user's own checkouts."""
    if not worktree.is_absolute():
        return False
    real = Path(os.path.realpath(worktree))
    if real != Path(os.path.normpath(worktree)) or real in (main_checkout, workspace.root):
        return False
    run_folder = real.parent
    if run_folder.name != run_id:
        return False
    common = workspace.common
    repo_folder = run_folder.parent
    return repo_folder.name == repo_folder_name(common) or repo_folder == (
        common / "tui-orch" / "worktrees"
    )


def _exists(path: Path) -> bool:
    """Like Path.exists, but a path the file system refuses (too long) does not exist."""
    try:
        return path.exists()
    except OSError:
        return False


def _remove_worktree(
    workspace: Workspace, worktree: Path, registered: set[Path], force: bool
) -> bool:
    """Remove a worktree (git's record of it too); False if there was nothing to remove."""
    known = worktree in registered
    if not known and not _exists(worktree):
        return False
    if known and _exists(worktree):
        # Uncommitted work was checked before; a worktree someone locked goes only with
        # --force. If git still refuses, it is kept: git knows better than a guess.
        locked = ("-f",) if force else ()
        workspace.locked_git("worktree", "remove", "-f", *locked, str(worktree))
    elif _exists(worktree):
        if (worktree / ".git").is_dir():
            raise OSError(f"{worktree} holds a repository of its own; it is kept")
        shutil.rmtree(worktree)  # a folder of ours git no longer knows as a worktree
    workspace.locked_git("worktree", "prune")
    return True


def _remove_empty_folders(workspace: Workspace, run_id: str, folders: list[str]) -> None:
    """The run's folders of worktrees, then their repository's, when nothing else is in
    them (a run moved out of .git on resume has two); only folders where tui-orch puts
    them (see `_ours`)."""
    for folder in {Path(path) for path in folders if path}:
        if not _ours(folder / "_", run_id, workspace, workspace.root):
            continue
        for directory in (folder, folder.parent):
            with contextlib.suppress(OSError):
                directory.rmdir()


def _what_would_be_lost(
    workspace: Workspace,
    worktree: Path | None,
    branch: str,
    base_head: str,
    registered: set[Path],
) -> list[str]:
    losses = []
    if worktree is not None and _exists(worktree):
        if worktree not in registered:
            losses.append(f"{worktree} is no longer a git worktree; look inside, then delete it")
        else:
            try:
                dirty = workspace.is_dirty(worktree)
            except GitError:
                dirty = True  # cannot tell: treat it as work
            if dirty:
                losses.append(f"{worktree} has uncommitted changes")
    if branch and workspace.branch_exists(branch):
        count = _commits_only_on(workspace, branch, base_head)
        if count:
            where = "the base branch" if base_head else "any other branch"
            losses.append(f"branch {branch} has {count} commit(s) not in {where}")
    return losses


def _commits_only_on(workspace: Workspace, branch: str, base_head: str) -> int:
    """Commits of branch that removing it would lose: not in base (when known), else
    not on any branch outside tui-orch's own."""
    if base_head:
        if workspace.is_ancestor(branch, base_head):
            return 0
        start = workspace.git("merge-base", branch, base_head, check=False).stdout.strip()
        spec = [f"{start}..{branch}"] if start else [branch]
    else:
        # --exclude patterns for --branches are relative to refs/heads/.
        spec = [branch, "--not", f"--exclude={BRANCH_PREFIX}/*", "--branches"]
    return int(workspace.git("rev-list", "--count", *spec).stdout.strip() or 0)
