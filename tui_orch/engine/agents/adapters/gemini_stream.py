"""Gemini CLI's ``-p ... --output-format stream-json``: one JSON object a line.

Seen from the real CLI (samples in tests/samples/gemini/): ``init`` (session id, model),
``message`` (the user's prompt, then the assistant's text in chunks marked ``delta``),
``tool_use`` (tool name, id, parameters), ``tool_result`` (``success`` or ``error`` with
a message: a tool not allowed, a path outside the workspace), ``error`` (non-fatal
warnings) and a last ``result`` (``success`` or ``error``, and the token counts).
Gemini CLI reports tokens only, never a price. Unknown types are passed over, anything
not JSON shown as it is.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tui_orch.engine.agents.adapters.report import Activity, Report, Usage
from tui_orch.engine.agents.adapters.shared import (
    as_dict,
    brief,
    count,
    label,
    relative,
    relative_in,
)

RATE_LIMITED = re.compile(
    r"rate limit|quota|RESOURCE_EXHAUSTED|too many requests|\b429\b", re.IGNORECASE
)
# Tools whose call is best told by the path they touch, and the word to show.
FILE_TOOLS = {
    "write_file": "Write",
    "replace": "Edit",
    "read_file": "Read",
    "read_many_files": "Read",
    "list_directory": "List",
}


class GeminiStreamAdapter:
    """Reads one Gemini CLI stream. The assistant's text comes in chunks: whole lines
    are shown as they complete; the text since the last tool call is the final message."""

    passthrough = False

    def __init__(self, cwd: str = "") -> None:
        self.cwd = cwd
        self.pending = ""  # assistant text after its last complete line
        self.said = ""  # assistant text since the last tool call
        self.calls: dict[str, str] = {}  # tool id -> its line

    def read(self, raw: str) -> Report:
        try:
            event = json.loads(raw)
        except ValueError:
            return Report([raw] if raw.strip() else [])
        if not isinstance(event, dict):
            return Report([raw])
        kind = event.get("type")
        try:
            if kind == "message":
                return self._message(event)
            report = self._event(kind, event)
        except (AttributeError, TypeError, ValueError):
            report = Report([raw])  # a known type in a shape we do not know: as it is
        if report.lines and self.pending:  # what it said before this, shown first
            report.lines.insert(0, self.pending)
            self.pending = ""
        return report

    def _event(self, kind: object, event: dict[str, Any]) -> Report:
        if kind == "init":
            self.cwd = str(event.get("cwd") or self.cwd)
            line = f"● Gemini CLI · {event.get('model') or '?'}"
            return Report([line], Activity.THINKING, session_id=str(event.get("session_id") or ""))
        if kind == "tool_use":
            return self._tool_use(event)
        if kind == "tool_result":
            return self._tool_result(event)
        if kind == "error":
            said = str(event.get("message") or as_dict(event.get("error")).get("message") or "")
            if RATE_LIMITED.search(said):
                return Report([f"rate limited: {brief(said)}"], Activity.RATE_LIMITED)
            return Report([f"! {brief(said)}"])
        if kind == "result":
            return self._result(event)
        return Report()

    def _message(self, event: dict[str, Any]) -> Report:
        if event.get("role") != "assistant":
            return Report()  # the prompt it was given: the prompt file has it
        text = str(event.get("content") or "")
        self.said += text
        lines = (self.pending + text).split("\n")
        self.pending = lines.pop()
        return Report(lines, Activity.THINKING)

    def _tool_use(self, event: dict[str, Any]) -> Report:
        name = str(event.get("tool_name") or "?")
        call = self._label(name, as_dict(event.get("parameters")))
        self.calls[str(event.get("tool_id", ""))] = call
        self.said = ""
        return Report([f"→ {call}"], Activity.RUNNING_TOOL, tool=name)

    def _tool_result(self, event: dict[str, Any]) -> Report:
        call = self.calls.get(str(event.get("tool_id", "")), "a tool call")
        if event.get("status") == "error":
            message = as_dict(event.get("error")).get("message") or event.get("output") or ""
            said = brief(relative_in(str(message), self.cwd)) or "failed"
            refusal = f"{call}: {said}"
            return Report([f"✗ {refusal}"], Activity.THINKING, refusals=[refusal])
        output = brief(relative_in(str(event.get("output") or ""), self.cwd))
        return Report([f"  {output}"] if output else [], Activity.THINKING)

    def _result(self, event: dict[str, Any]) -> Report:
        stats = as_dict(event.get("stats"))
        cached = count(stats, "cached")
        fresh = count(stats, "input") if "input" in stats else count(stats, "input_tokens") - cached
        usage: Usage | None = Usage(
            input_tokens=max(0, fresh),
            output_tokens=count(stats, "output_tokens"),
            cache_read_tokens=cached,
        )
        if usage is not None and not usage.tokens:
            usage = None  # it failed before asking the model: nothing was spent
        final = self.said.strip()
        if event.get("status") == "success":
            return Report(
                [f"✔ {brief(final) or 'done'}"], Activity.DONE, usage=usage, final_message=final
            )
        said = str(as_dict(event.get("error")).get("message") or event.get("status") or "failed")
        if RATE_LIMITED.search(said):
            return Report([f"rate limited: {brief(said)}"], Activity.RATE_LIMITED, usage=usage)
        return Report([f"✗ {brief(said)}"], Activity.FAILED, usage=usage, final_message=said)

    def _label(self, name: str, given: dict[str, Any]) -> str:
        """A tool call as one readable line: `Write src/auth.py`, `$ pytest -q`."""
        if name in FILE_TOOLS:
            path = str(given.get("file_path") or given.get("dir_path") or given.get("path") or "")
            return label(f"{FILE_TOOLS[name]} {relative(path, self.cwd)}")
        if name == "run_shell_command":
            return label(f"$ {brief(str(given.get('command', '')))}")
        if name in ("glob", "grep_search", "search_file_content"):
            return label(f"{name} {given.get('pattern', '')}")
        if name == "google_web_search":
            return label(f"WebSearch {given.get('query', '')}")
        shown = json.dumps(given, ensure_ascii=False) if given else ""
        return label(f"{name} {shown}")
