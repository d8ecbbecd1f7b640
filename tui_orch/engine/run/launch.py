"""Setting up a run from the command line's point of view: plan, repo, preconditions.

Everything here happens before anything is created, so a refusal leaves no trace.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tui_orch.engine.plans.check import CheckReport, check_plan
from tui_orch.engine.plans.config import load_settings
from tui_orch.engine.repository.locations import check_worktree_root, default_worktree_root
from tui_orch.engine.repository.relocate import inside_git_dir
from tui_orch.engine.repository.repo import NotARepository, read_repo
from tui_orch.engine.repository.worktrees import Workspace
from tui_orch.engine.run.approvals import Approver
from tui_orch.engine.run.events import EventSink
from tui_orch.engine.run.orchestrator import Orchestrator, RunOptions
from tui_orch.engine.run.preconditions import (
    PreconditionFailed,
    check_base_tree_clean,
    check_branch_namespace,
    check_commands,
    check_creatable,
    check_git_version,
)
from tui_orch.engine.run.runs import live_agents
from tui_orch.engine.run.state import RunStore


def open_workspace(repo_dir: Path | None) -> Workspace:
    """The repository to work on: the one given, else the one around the current directory."""
    check_git_version()
    try:
        return Workspace(read_repo(repo_dir or Path.cwd()).root)
    except NotARepository as error:
        raise PreconditionFailed(
            f"{error}; run tui-orch inside your repository or pass --repo DIR"
        ) from None


def prepare_new_run(
    plan: Path | CheckReport,
    repo_dir: Path | None,
    approver: Approver,
    emit: EventSink,
    options: RunOptions | None = None,
) -> Orchestrator:
    """Check the plan and every precondition, then return a run ready to start.

    ``plan``: a plan file, checked here; or a plan the user has seen checked and
    approved, which is then what runs (its file is not read again).
    Every check comes before anything is created: a refusal leaves no trace.
    """
    workspace = open_workspace(repo_dir)
    report = plan if isinstance(plan, CheckReport) else check_plan(plan, workspace.root)
    plan = report.plan
    assert plan.base is not None  # checked against the repository above
    check_base_tree_clean(workspace, plan.base)
    check_commands(plan, workspace.root)
    check_branch_namespace(workspace)
    store = RunStore(workspace.common)
    check_creatable(store.root, "the run state folder")
    options = options or RunOptions()
    root = worktree_root(workspace, options.worktree_root)
    return Orchestrator.new_run(
        plan, workspace, approver, emit, dataclasses.replace(options, worktree_root=root)
    )


def worktree_root(workspace: Workspace, given: Path | None) -> Path:
    """--worktree-root, else the config's worktree_root, else the data dir; checked."""
    root = given or load_settings(workspace.root).worktree_root or default_worktree_root()
    check_worktree_root(root, workspace.root, workspace.common)
    return root.expanduser().resolve()


def prepare_resume(
    run_id: str | None,
    repo_dir: Path | None,
    approver: Approver,
    emit: EventSink,
    options: RunOptions | None = None,
) -> Orchestrator:
    """The named run (default: the newest one that is not finished), ready to go on."""
    workspace = open_workspace(repo_dir)
    store = RunStore(workspace.common)
    run_id = run_id or latest_unfinished(store)
    if run_id not in store.run_ids():
        raise PreconditionFailed(
            f"there is no run '{run_id}' in {workspace.root}; see `tui-orch status`"
        )
    state = store.load(run_id)
    if state.finished:
        raise PreconditionFailed(f"run {run_id} is already merged; there is nothing to resume")
    if inside_git_dir(state, workspace):  # made before worktrees left .git: they move
        options = options or RunOptions()
        root = worktree_root(workspace, options.worktree_root)
        options = dataclasses.replace(options, worktree_root=root)
    orchestrator = Orchestrator.resume_run(workspace, run_id, approver, emit, options)
    check_commands(orchestrator.plan, workspace.root)
    return orchestrator


def latest_unfinished(store: RunStore) -> str:
    for run in reversed(store.all()):
        if not run.finished:
            return run.run_id
    raise PreconditionFailed("there is no unfinished run to resume; see `tui-orch status`")


def latest_with_live_agents(repo_dir: Path | None) -> str:
    """The newest run whose agents still run (the one `tui-orch attach` reopens)."""
    store = RunStore(open_workspace(repo_dir).common)
    for run in reversed(store.all()):
        if not run.finished and live_agents(store, run):
            return run.run_id
    raise PreconditionFailed(
        "no run has agents running; `tui-orch resume` goes on with a stopped run "
        "(see `tui-orch status`)"
    )
