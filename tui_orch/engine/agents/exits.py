"""How an agent (or a validation command) ended: one definition that the engine, the
console and the app all read, so "succeeded" and the words for each end are spelt once.

The supervisor writes these reasons as plain strings (it loads no module it can do
without, `enum` included); `tests/test_supervisor.py` checks they are the ones here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ExitReason(StrEnum):
    EXITED = "exited"  # it ended by itself, with an exit code of its own
    TIMEOUT = "timeout"  # it ran past its timeout and was stopped
    STOPPED = "stopped"  # stopped on request
    FAILED_TO_START = "failed-to-start"
    LOST = "lost"  # its supervisor ended without a result
    LEFT_BRANCH = "left-branch"  # it exited, but its work is not on its task's branch


# The task state each end shows as in the app (a clean exit shows as "succeeded").
_STATES: dict[str, str] = {
    ExitReason.TIMEOUT: "timed-out",
    ExitReason.STOPPED: "stopped",
}


@dataclass(frozen=True)
class AgentExit:
    """A reason and an exit code, as recorded; a reason this version does not know (a
    state written by another one) reads as a failure, never as a success."""

    reason: str
    exit_code: int | None

    @property
    def succeeded(self) -> bool:
        return self.reason == ExitReason.EXITED and self.exit_code == 0

    @property
    def label(self) -> str:
        """How it ended, in a few words: 'exited 0', 'timed out', 'could not start'."""
        match self.reason:
            case ExitReason.TIMEOUT:
                return "timed out"
            case ExitReason.STOPPED:
                return "stopped"
            case ExitReason.FAILED_TO_START:
                return "could not start"
            case ExitReason.LOST:
                return "lost"
            case ExitReason.LEFT_BRANCH:
                return f"exited {self.exit_code} but left its branch"
            case _:
                return f"exited {self.exit_code}"

    @property
    def state(self) -> str:
        """The state a task that ended so shows: succeeded, timed-out, stopped, failed."""
        if self.succeeded:
            return "succeeded"
        return _STATES.get(self.reason, "failed")  # a StrEnum member is its string
