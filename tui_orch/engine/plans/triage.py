"""Triage: how big is the job, and does the plan's shape fit that size?

Parallel agents pay for themselves only on big changes: 1-2 files are quicker done
directly, 3-10 by one agent working in order, more than 10 by agents in parallel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

DIRECT_MAX_FILES = 2
SINGLE_MAX_FILES = 10


class Mode(StrEnum):
    """How a job of a given size is best run."""

    DIRECT = "direct"
    SINGLE = "single"
    PARALLEL = "parallel"

    @property
    def advice(self) -> str:
        return {
            Mode.DIRECT: "edit directly, no agents needed",
            Mode.SINGLE: "one agent, working sequentially",
            Mode.PARALLEL: "parallel agents, each in its own worktree",
        }[self]


@dataclass(frozen=True)
class Triage:
    """The mode for a job and any warnings about the plan's shape."""

    file_count: int
    mode: Mode
    warnings: tuple[str, ...] = ()


def mode_for(file_count: int) -> Mode:
    """The mode for a job touching file_count files."""
    if file_count < 0:
        raise ValueError("file_count must not be negative")
    if file_count <= DIRECT_MAX_FILES:
        return Mode.DIRECT
    if file_count <= SINGLE_MAX_FILES:
        return Mode.SINGLE
    return Mode.PARALLEL


def triage_plan(task_files: Sequence[Sequence[str]], batch_sizes: Sequence[int]) -> Triage:
    """Triage a plan from each task's files and the size of each batch."""
    file_count = len({path for files in task_files for path in files})
    mode = mode_for(file_count)
    widest = max(batch_sizes, default=0)
    tasks = len(task_files)
    warnings: list[str] = []
    if mode is not Mode.PARALLEL and widest > 1:
        warnings.append(
            f"{file_count} files split across {widest} parallel agents: overhead exceeds "
            f"benefit; {mode.advice} would be quicker"
        )
    elif mode is Mode.PARALLEL and tasks == 1:
        warnings.append(
            f"{file_count} files in a single task: split it into tasks that own "
            "independent files so agents can work in parallel"
        )
    elif mode is Mode.PARALLEL and widest == 1:
        warnings.append(
            f"{file_count} files in {tasks} tasks that form a chain: nothing runs in "
            "parallel; drop dependencies that are not real, or use one agent"
        )
    return Triage(file_count, mode, tuple(warnings))
