"""Messages that cross from the engine side into the app."""

from __future__ import annotations

from textual.message import Message

from tui_orch.engine.run.events import Event
from tui_orch.engine.run.orchestrator import RunResult


class EngineEventArrived(Message):
    """An engine event other than output (output is batched by the bridge).

    The app forwards it to the dashboard; it must not bubble back up to the app.
    """

    bubble = False

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class RunEnded(Message):
    """The engine's run returned: merged, failed, aborted, interrupted or detached."""

    def __init__(self, result: RunResult) -> None:
        super().__init__()
        self.result = result


class TaskAction(Message):
    """A widget or screen asks the app to act on one task (the app knows the run)."""

    def __init__(self, task_id: str) -> None:
        super().__init__()
        self.task_id = task_id


class OpenLog(TaskAction):
    """Open the task's full log."""


class OpenDiff(TaskAction):
    """Open the task's diff."""


class StopTask(TaskAction):
    """Stop the task's agent (after asking, unless asking is turned off)."""


class RestartTask(TaskAction):
    """Run the failed task's agent again, in its worktree."""
