"""Which adapter reads which output format (a profile's ``format``)."""

from __future__ import annotations

from collections.abc import Callable

from tui_orch.engine.agents.adapters.claude_stream import ClaudeStreamAdapter
from tui_orch.engine.agents.adapters.codex_json import CodexJsonAdapter
from tui_orch.engine.agents.adapters.gemini_stream import GeminiStreamAdapter
from tui_orch.engine.agents.adapters.report import OutputAdapter
from tui_orch.engine.agents.adapters.text import TextAdapter

ADAPTERS: dict[str, Callable[[str], OutputAdapter]] = {
    "text": TextAdapter,
    "claude-stream-json": ClaudeStreamAdapter,
    "codex-json": CodexJsonAdapter,
    "gemini-stream-json": GeminiStreamAdapter,
}
OUTPUT_FORMATS: tuple[str, ...] = tuple(ADAPTERS)


def adapter_for(output_format: str, cwd: str = "") -> OutputAdapter:
    """A fresh adapter for one agent's output (an unknown format reads as text);
    ``cwd``, the agent's working directory, lets it show paths relative to it."""
    return ADAPTERS.get(output_format, TextAdapter)(cwd)
