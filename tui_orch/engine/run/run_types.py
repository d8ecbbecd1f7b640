"""What a run is given and what it gives back: options, results, the ways it stops."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

EXIT_MERGED = 0
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


class Outcome(StrEnum):
    """How a run (or this stretch of it) ended; the word is saved and shown as it is."""

    MERGED = "merged"
    NOTHING_TO_DO = "nothing-to-do"  # every task skipped or kept out: nothing to move
    NO_CHANGES = "no-changes"  # agents ran and changed nothing
    FAILED = "failed"
    ABORTED = "aborted"  # stopped at the user's request, at a question
    INTERRUPTED = "interrupted"  # Ctrl-C, or stop and quit
    DETACHED = "detached"  # the app quit and left its agents running

    @property
    def finished(self) -> bool:
        """Nothing is left to do for the run (resume has nothing to go on with)."""
        return self in (Outcome.MERGED, Outcome.NOTHING_TO_DO)

    @property
    def succeeded(self) -> bool:
        """Exit 0: the work is in, or there was none, or it goes on without the app."""
        return self in (Outcome.MERGED, Outcome.NOTHING_TO_DO, Outcome.DETACHED)

    @property
    def label(self) -> str:
        return self.value.replace("-", " ")


@dataclass(frozen=True)
class RunOptions:
    """Knobs of a run that are not part of the plan."""

    worktree_root: Path | None = None
    run_id: str | None = None  # for reproducible screenshots; normally time-based
    poll_interval: float = 0.1
    grace: float = 5.0
    copy_ignored: tuple[str, ...] = (".env", ".env.*")
    # On resume, each agent's last this many bytes of output are shown again (the app
    # fills its panes from the logs); 0: only what agents print from now on.
    replay_bytes: int = 0


@dataclass(frozen=True)
class RunResult:
    run_id: str
    outcome: Outcome
    exit_code: int
    message: str


class RunStopped(Exception):
    """The run cannot go on now; everything is kept and the message says what to do."""

    def __init__(self, outcome: Outcome, message: str, exit_code: int = EXIT_FAILED) -> None:
        self.outcome = outcome
        self.message = message
        self.exit_code = exit_code
        super().__init__(message)


class NothingToMerge(Exception):
    """No task's work reached the integration branch: there is no branch move to ask
    about. A failure (exit 1) when agents ran and changed nothing; when every task was
    skipped or kept out by the user, there was nothing to do (exit 0)."""

    def __init__(self, outcome: Outcome, message: str, exit_code: int) -> None:
        self.outcome = outcome
        self.message = message
        self.exit_code = exit_code
        super().__init__(message)


class RunBusy(Exception):
    """Another tui-orch process is driving this run right now."""
