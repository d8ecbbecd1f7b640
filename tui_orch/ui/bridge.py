"""The one place engine events become Textual messages.

The engine may call us from its event loop or from its worker threads. Output lines are
not forwarded one by one: they collect in a bounded buffer per pane and the app drains
them once per frame (about 30 times a second). A pane only shows a tail, so when a
flood arrives only the newest lines are kept; the count still covers every line, and
the full text is on disk for the log viewer.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from textual.message_pump import MessagePump

from tui_orch.engine.run.events import AgentOutput, Event, ValidationOutput
from tui_orch.ui.messages import EngineEventArrived
from tui_orch.ui.run_model import TAIL_KEEP, VALIDATOR_KEY


@dataclass
class PendingOutput:
    lines: deque[str]
    count: int = 0


class EngineBridge:
    """An engine EventSink for the app; thread-safe. Events go to ``target`` (the dashboard)."""

    def __init__(self, target: MessagePump) -> None:
        self.target = target
        self._lock = threading.Lock()
        self._pending: dict[str, PendingOutput] = {}

    def __call__(self, event: Event) -> None:
        if isinstance(event, AgentOutput | ValidationOutput):
            key = event.task_id if isinstance(event, AgentOutput) else VALIDATOR_KEY
            with self._lock:
                pending = self._pending.get(key)
                if pending is None:
                    pending = self._pending[key] = PendingOutput(deque(maxlen=TAIL_KEEP))
                pending.lines.extend(event.lines)
                pending.count += len(event.lines)
            return
        self.target.post_message(EngineEventArrived(event))

    def drain(self) -> dict[str, PendingOutput]:
        """Take everything buffered since the last call."""
        with self._lock:
            pending, self._pending = self._pending, {}
        return pending
