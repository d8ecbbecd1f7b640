"""Looking at runs from outside: what each task is doing now, where its log is, stopping.

Read-only except `stop_run`: the state file may lag behind (its driver may be dead), so
each task's status is taken from its supervisor's own status file when there is one.
"""

from __future__ import annotations

from dataclasses import dataclass

from tui_orch.engine.agents.exits import AgentExit
from tui_orch.engine.agents.jobs import (
    JobFiles,
    JobHandle,
    is_alive,
    read_status,
    stop_job,
    wait_until_stopped,
)
from tui_orch.engine.run.preconditions import PreconditionFailed
from tui_orch.engine.run.state import (
    RunPhase,
    RunState,
    RunStore,
    TaskPhase,
    TaskState,
    UnreadableRun,
)


@dataclass(frozen=True)
class TaskView:
    """A task as it is now: the state file, corrected by its supervisor's status."""

    id: str
    batch: int
    state: str
    exit_code: int | None
    reason: str
    alive: bool
    duration: float | None
    files_changed: int
    commits: int
    attempts: int  # how many times its agent was started
    # What a structured agent reported (none for text agents): see engine/agents/adapters.
    activity: str
    tokens: int
    cost_usd: float | None
    refusals: list[str]
    session_id: str
    branch: str
    worktree: str
    log: str

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def load_run(store: RunStore, run_id: str) -> RunState:
    """The run with that id, or a refusal that says where to look."""
    if run_id not in store.run_ids():
        raise PreconditionFailed(f"there is no run '{run_id}'; see `tui-orch status`")
    return store.load(run_id)


def task_view(store: RunStore, run: RunState, task: TaskState) -> TaskView:
    files = store.task_files(run.run_id, task.id)
    state, exit_code, reason = task.phase.value, task.exit_code, task.reason
    alive = task.handle is not None and is_alive(task.handle)
    duration = task.duration
    if task.phase is TaskPhase.RUNNING:
        status = read_status(files)
        if status is not None and status.state == "exited":
            state = "exited" if AgentExit(status.reason, status.exit_code).succeeded else "failed"
            exit_code, reason = status.exit_code, status.reason
            if status.ended_at and task.started_at:
                duration = status.ended_at - task.started_at
        elif not alive:
            state, reason = "lost", "its supervisor is gone"
    return TaskView(
        id=task.id,
        batch=task.batch,
        state=state,
        exit_code=exit_code,
        reason=reason,
        alive=alive,
        duration=duration,
        attempts=task.attempts,
        activity=task.activity,
        tokens=task.tokens,
        cost_usd=task.spent_usd,
        refusals=list(task.refusals),
        session_id=task.session_id,
        files_changed=len(task.files_changed),
        commits=task.commits,
        branch=task.branch,
        worktree=task.worktree,
        log=str(files.log),
    )


def run_view(store: RunStore, run: RunState) -> dict[str, object]:
    message = run.message
    if run.phase is RunPhase.MERGED and not run.finished:
        message = (
            f"'{run.base}' was moved to {run.merged_commit[:8]}, but the run stopped before it "
            f"finished (its clean-up is left); run `tui-orch resume {run.run_id}` to finish it"
        )
    return {
        "run_id": run.run_id,
        "phase": run.phase.value,
        "finished": run.finished,
        "outcome": run.outcome,
        "exit_code": run.exit_code,
        "message": message,
        "base": run.base,
        "plan": run.plan_source,
        "created_at": run.created_at,
        "worktree_root": run.worktree_root,
        "cleaned": run.cleaned,
        "conflicts": run.conflicts,
        "tasks": [
            task_view(store, run, run.tasks[task_id]).to_dict()
            for batch in run.batches
            for task_id in batch
        ],
    }


def find_log(store: RunStore, task_id: str, run_id: str | None) -> tuple[RunState, JobFiles] | None:
    """The log of task_id (or 'validate-N') in run_id, else in the newest run that has it."""
    run_ids = [run_id] if run_id else list(reversed(store.run_ids()))
    for candidate in run_ids:
        if candidate not in store.run_ids():
            continue
        try:
            run = store.load(candidate)
        except UnreadableRun:
            if run_id is not None:
                raise
            continue
        if task_id in run.tasks:
            return run, store.task_files(candidate, task_id)
        if task_id.startswith("validate-") and task_id[9:].isdigit():
            index = int(task_id[9:]) - 1
            if 0 <= index < len(run.validation):
                return run, store.validation_files(candidate, index)
    return None


def running_tasks(store: RunStore, run: RunState) -> list[TaskState]:
    return [t for t in run.tasks.values() if t.handle is not None and is_alive(t.handle)]


def live_agents(store: RunStore, run: RunState) -> list[str]:
    """Tasks whose agent still runs: from the run's state, and from the supervisors' own
    status files (an agent started by a driver that died before recording it)."""
    names = {task.id for task in running_tasks(store, run)}
    jobs = store.run_dir(run.run_id) / "jobs"
    if jobs.is_dir():
        for directory in jobs.iterdir():
            status = read_status(JobFiles(directory, directory / "unused.log"))
            running = status is not None and status.state != "exited"
            if running and is_alive(JobHandle(status.supervisor_pid, status.supervisor_start)):
                names.add(directory.name)
    return sorted(names)


def stop_run(store: RunStore, run: RunState, grace: float = 5.0) -> list[str]:
    """Stop every agent of run that still runs; their worktrees and logs are kept."""
    stopped = running_tasks(store, run)
    for task in stopped:
        assert task.handle is not None
        stop_job(task.handle, store.task_files(run.run_id, task.id))
    for task in stopped:
        assert task.handle is not None
        wait_until_stopped(task.handle, grace + 5)
    return [task.id for task in stopped]
