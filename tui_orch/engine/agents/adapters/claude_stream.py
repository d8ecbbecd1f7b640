"""Claude Code's ``-p --output-format stream-json --verbose``: one JSON object a line.

Seen from the real CLI (samples in tests/samples/claude/): ``system``/``init`` (session,
model, working directory), ``assistant`` messages (text, thinking, ``tool_use``),
``user`` messages carrying ``tool_result`` blocks (``is_error`` when a call failed or
was refused), ``rate_limit_event`` and a last ``result`` line (the final text, usage,
``total_cost_usd``, ``permission_denials``). The CLI adds event types and fields from
release to release: anything unknown is passed over, anything not JSON shown as it is.
"""

from __future__ import annotations

import json
import time
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

# Tools whose call is best told by the file they touch.
FILE_TOOLS = ("Write", "Edit", "MultiEdit", "Read", "NotebookEdit")


class ClaudeStreamAdapter:
    """Reads one Claude Code stream; remembers its working directory (to show paths
    relative to it) and which tool call each result answers."""

    passthrough = False

    def __init__(self, cwd: str = "") -> None:
        self.cwd = cwd
        self.calls: dict[str, str] = {}  # tool_use id -> its line
        self.refused: set[str] = set()  # tool_use ids already counted as refused

    def read(self, raw: str) -> Report:
        try:
            event = json.loads(raw)
        except ValueError:
            return Report([raw] if raw.strip() else [])
        if not isinstance(event, dict):
            return Report([raw])
        kind = event.get("type")
        try:
            if kind == "system":
                return self._system(event)
            if kind == "assistant":
                return self._assistant(as_dict(event.get("message")))
            if kind == "user":
                return self._user(as_dict(event.get("message")))
            if kind == "result":
                return self._result(event)
            if kind == "rate_limit_event":
                return self._rate_limit(event)
        except (AttributeError, TypeError, ValueError):
            return Report([raw])  # a known type in a shape we do not know: as it is
        return Report()  # a type this version does not know: nothing to show

    def _system(self, event: dict[str, Any]) -> Report:
        if event.get("subtype") != "init":
            return Report()
        self.cwd = str(event.get("cwd") or self.cwd)
        model = event.get("model") or "?"
        mode = event.get("permissionMode") or "default permissions"
        version = str(event.get("claude_code_version") or "")
        return Report(
            [f"● Claude Code {version}".rstrip() + f" · {model} · {mode}"],
            activity=Activity.THINKING,
            session_id=str(event.get("session_id") or ""),
        )

    def _assistant(self, message: dict[str, Any]) -> Report:
        report = Report(activity=Activity.THINKING)
        for block in _blocks(message):
            match block.get("type"):
                case "text":
                    report.lines += [line for line in str(block.get("text", "")).splitlines()]
                case "tool_use":
                    call = self._label(str(block.get("name", "?")), as_dict(block.get("input")))
                    self.calls[str(block.get("id", ""))] = call
                    report.lines.append(f"→ {call}")
                    report.activity, report.tool = Activity.RUNNING_TOOL, str(block.get("name"))
        return report

    def _user(self, message: dict[str, Any]) -> Report:
        report = Report(activity=Activity.THINKING)
        for block in _blocks(message):
            if block.get("type") != "tool_result":
                continue
            call_id = str(block.get("tool_use_id", ""))
            said = brief(relative_in(_text_of(block.get("content")), self.cwd))
            if block.get("is_error"):
                call = self.calls.get(call_id, "a tool call")
                report.lines.append(f"✗ {call}: {said}")
                if call_id not in self.refused:
                    self.refused.add(call_id)
                    report.refusals.append(f"{call}: {said}")
            elif said:
                report.lines.append(f"  {said}")
        return report

    def _result(self, event: dict[str, Any]) -> Report:
        text = str(event.get("result") or "")
        failed = bool(event.get("is_error")) or event.get("subtype") != "success"
        if failed and event.get("api_error_status") == 429:
            # The API refused for its rate limit (the CLI gave up retrying): no reset
            # time is in the line, so the run's rate_limit_wait applies.
            return Report(
                [f"rate limited: {brief(text) or 'API error 429'}"],
                activity=Activity.RATE_LIMITED,
                usage=_usage(as_dict(event.get("usage")), event.get("total_cost_usd")),
                session_id=str(event.get("session_id") or ""),
            )
        report = Report(
            activity=Activity.FAILED if failed else Activity.DONE,
            usage=_usage(as_dict(event.get("usage")), event.get("total_cost_usd")),
            session_id=str(event.get("session_id") or ""),
            final_message=text,
        )
        for denial in event.get("permission_denials") or []:
            denial = as_dict(denial)
            call_id = str(denial.get("tool_use_id", ""))
            if call_id in self.refused:
                continue
            self.refused.add(call_id)
            call = self._label(str(denial.get("tool_name", "?")), as_dict(denial.get("tool_input")))
            report.refusals.append(f"{call}: permission denied")
            report.lines.append(f"✗ {call}: permission denied")
        mark = "✗" if failed else "✔"
        summary = brief(text) or str(event.get("subtype", ""))
        report.lines.append(f"{mark} {summary}")
        return report

    def _rate_limit(self, event: dict[str, Any]) -> Report:
        info = as_dict(event.get("rate_limit_info")) or event
        status = str(info.get("status") or "")
        if not status or status == "allowed":
            return Report()
        resets = info.get("resetsAt") or info.get("resets_at")
        until = ""
        if isinstance(resets, int | float) and resets > 0:
            until = " until " + time.strftime("%H:%M", time.localtime(resets))
        return Report(
            [f"rate limited ({status}){until}"],
            activity=Activity.RATE_LIMITED,
            resets_at=float(resets) if until else None,
        )

    def _label(self, name: str, given: dict[str, Any]) -> str:
        """A tool call as one readable line: `Edit src/auth.py`, `$ pytest -q`."""
        if name in FILE_TOOLS:
            path = str(given.get("file_path") or given.get("notebook_path") or "")
            line = f"{name} {relative(path, self.cwd)}"
        elif name == "Bash":
            line = f"$ {brief(str(given.get('command', '')))}"
        elif name in ("Grep", "Glob"):
            line = f"{name} {given.get('pattern', '')}"
        elif name in ("Task", "Agent"):
            line = f"{name} {given.get('description', '')}"
        elif name == "WebFetch":
            line = f"{name} {given.get('url', '')}"
        elif name == "WebSearch":
            line = f"{name} {given.get('query', '')}"
        else:
            line = f"{name} {json.dumps(given, ensure_ascii=False)}" if given else name
        return label(line)


def _blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [block for block in content or [] if isinstance(block, dict)]


def _text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _usage(usage: dict[str, Any], cost: object) -> Usage | None:
    if not usage and cost is None:
        return None
    return Usage(
        input_tokens=count(usage, "input_tokens"),
        output_tokens=count(usage, "output_tokens"),
        cache_read_tokens=count(usage, "cache_read_input_tokens"),
        cache_write_tokens=count(usage, "cache_creation_input_tokens"),
        cost_usd=float(cost) if isinstance(cost, int | float) else None,
    )
