"""Setting up a run from the command line's point of view: plan, repo, preconditions.

Everything here happens before anything is created, so a refusal leaves no trace.
"""

from __future__ import annotations

from pathlib import Path

from tui_orch.engine.approvals import Approver
from tui_orch.engine.check import check_plan
from tui_orch.engine.events import EventSink
from tui_orch.engine.orchestrator import Orchestrator, RunOptions
from tui_orch.engine.preconditions import (
    PreconditionFailed,
    check_base_tree_clean,
    check_commands,
    check_git_version,
)
from tui_orch.engine.repo import NotARepository, read_repo
from tui_orch.engine.state import RunStore
from tui_orch.engine.worktrees import Workspace


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
    plan_path: Path,
    repo_dir: Path | None,
    approver: Approver,
    emit: EventSink,
    options: RunOptions | None = None,
) -> Orchestrator:
    """Check the plan and every precondition, then return a run ready to start."""
    workspace = open_workspace(repo_dir)
    report = check_plan(plan_path, workspace.root)
    plan = report.plan
    assert plan.base is not None  # checked against the repository above
    check_base_tree_clean(workspace, plan.base)
    check_commands(plan, workspace.root)
    return Orchestrator.new_run(plan, workspace, approver, emit, options)


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
    if state.phase.over:
        raise PreconditionFailed(f"run {run_id} is already merged; there is nothing to resume")
    orchestrator = Orchestrator.resume_run(workspace, run_id, approver, emit, options)
    check_commands(orchestrator.plan, workspace.root)
    return orchestrator


def latest_unfinished(store: RunStore) -> str:
    for run_id in reversed(store.run_ids()):
        if not store.load(run_id).phase.over:
            return run_id
    raise PreconditionFailed("there is no unfinished run to resume; see `tui-orch status`")
