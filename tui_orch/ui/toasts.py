"""Short toasts, one per kind at a time: seven conflicts are one toast, not seven."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from textual.notifications import SeverityLevel

# A kind's next toast waits this long; what arrives meanwhile is counted, then said once.
WINDOW_SECONDS = 4.0
TOAST_SECONDS = 4.0


@dataclass
class _Kind:
    shown_at: float
    held: int = 0
    severity: SeverityLevel = "information"


class Toasts:
    """Toasts cover the panes, so they are short and few; the detail is in the panel,
    the pane or the log. ``notify`` is the app's (or a screen's) notify."""

    def __init__(
        self, notify: Callable[..., None], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.notify = notify
        self.clock = clock
        self.kinds: dict[str, _Kind] = {}
        self.more: dict[str, str] = {}

    def show(
        self,
        kind: str,
        text: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        more: str = "",
    ) -> None:
        """Toast ``text`` now, or (within a window of the last of its kind) count it;
        ``more`` says where the ones counted can be seen ("see the conflicts panel")."""
        now = self.clock()
        last = self.kinds.get(kind)
        if last is not None and now - last.shown_at < WINDOW_SECONDS:
            last.held += 1
            last.severity = "error" if severity == "error" else last.severity
            self.more[kind] = more
            return
        self.kinds[kind] = _Kind(now)
        self.notify(text, title=title, severity=severity, timeout=TOAST_SECONDS, markup=False)

    def flush(self) -> None:
        """Say what was counted, once its window is over (called on each tick)."""
        now = self.clock()
        for kind, last in self.kinds.items():
            if last.held and now - last.shown_at >= WINDOW_SECONDS:
                where = self.more.get(kind, "")
                self.notify(
                    f"{last.held} more {kind}" + (f": {where}" if where else ""),
                    severity=last.severity,
                    timeout=TOAST_SECONDS,
                    markup=False,
                )
                self.kinds[kind] = _Kind(now)


def first_clause(message: str, limit: int = 100) -> str:
    """A long run message shortened for a toast (the whole of it is shown elsewhere)."""
    clause = message.split(";")[0].split("\n")[0]
    return clause if len(clause) <= limit else clause[: limit - 1].rstrip() + "…"
