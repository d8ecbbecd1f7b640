"""What a front end is asked to do: run a plan, or resume a run. Textual-free."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tui_orch.engine.run.orchestrator import RunOptions


@dataclass(frozen=True)
class Launch:
    """A new run of ``plan`` in ``repo``, or (``resume``) the run ``resume_run_id``."""

    plan: Path | None = None
    repo: Path | None = None
    resume_run_id: str | None = None
    resume: bool = False
    options: RunOptions = field(default_factory=RunOptions)
