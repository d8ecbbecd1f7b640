"""Messages that cross from the engine side into the app."""

from __future__ import annotations

from textual.message import Message

from tui_orch.engine.events import Event
from tui_orch.engine.orchestrator import RunResult


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
