"""What an adapter makes of one raw line: lines to show, and facts about the agent."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class Activity(StrEnum):
    """What an agent is doing, as its structured output says (text agents: unknown)."""

    STARTING = "starting"
    THINKING = "thinking"
    RUNNING_TOOL = "running-tool"
    RATE_LIMITED = "rate-limited"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class Usage:
    """Tokens (and, when the agent reports it, cost in US dollars) so far."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float | None = None  # only what the agent reported: no price is invented

    @property
    def tokens(self) -> int:
        cache = self.cache_read_tokens + self.cache_write_tokens
        return self.input_tokens + self.output_tokens + cache


@dataclass
class Report:
    """One raw line, read: ``lines`` to show (none: nothing worth showing) and whatever
    it told of the agent (None: nothing new)."""

    lines: list[str] = field(default_factory=list)
    activity: Activity | None = None
    tool: str = ""  # the tool it is running, with ``Activity.RUNNING_TOOL``
    usage: Usage | None = None  # the agent's total (of its session), when a line says it
    session_id: str = ""
    refusals: list[str] = field(default_factory=list)  # tool calls refused, one line each
    final_message: str | None = None
    resets_at: float | None = None  # with ``Activity.RATE_LIMITED``: when, if it said

    @property
    def says_something(self) -> bool:
        """Whether the line told anything of the agent besides lines to show."""
        return bool(
            self.activity
            or self.usage
            or self.session_id
            or self.refusals
            or self.final_message is not None
        )


class OutputAdapter(Protocol):
    """Reads one agent's output, line by line, in order. ``passthrough``: every line is
    shown as it is and says nothing of the agent, so a caller may skip `read`."""

    passthrough: bool

    def read(self, raw: str) -> Report: ...
