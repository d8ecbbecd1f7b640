"""Codex's ``codex exec --json``: one JSON object a line.

Seen from the real CLI (samples in tests/samples/codex/): ``thread.started`` (the thread
id, which ``codex exec resume`` takes), ``turn.started``, ``item.started`` /
``item.updated`` / ``item.completed`` for each item of the turn (``agent_message``,
``reasoning``, ``command_execution`` with its command, output and exit code,
``file_change`` with the paths it added, updated or deleted, ``mcp_tool_call``,
``web_search``, ``todo_list``, and ``error`` items that are warnings), then
``turn.completed`` with the turn's token usage, or ``turn.failed`` / ``error`` with a
message. Codex reports tokens only, never a price. Unknown types are passed over,
anything not JSON shown as it is.
"""

from __future__ import annotations

import json
import re
import shlex
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

# What a provider's limit looks like in Codex's error messages (a usage limit of a
# plan, or HTTP 429 after its own retries).
RATE_LIMITED = re.compile(r"usage limit|rate limit|too many requests|\b429\b", re.IGNORECASE)
SHELL_WRAPPER = re.compile(r"^(?:/\S*/)?(?:ba|z)?sh -l?c ")
CHANGE_VERBS = {"add": "Add", "update": "Edit", "delete": "Delete"}


class CodexJsonAdapter:
    """Reads one Codex stream; ``cwd`` (the worktree) makes its absolute paths short.
    Remembers the commands it has shown, so a completed one is not shown twice, and the
    turn's last message (its final message)."""

    passthrough = False

    def __init__(self, cwd: str = "") -> None:
        self.cwd = cwd
        self.shown: set[str] = set()  # ids of items whose start was shown
        self.last_message = ""
        self.usage = Usage()  # summed over the turns of this process

    def read(self, raw: str) -> Report:
        try:
            event = json.loads(raw)
        except ValueError:
            return Report([raw] if raw.strip() else [])
        if not isinstance(event, dict):
            return Report([raw])
        kind = event.get("type")
        try:
            if kind == "thread.started":
                thread = str(event.get("thread_id") or "")
                return Report([f"● Codex · thread {thread}"], Activity.STARTING, session_id=thread)
            if kind == "turn.started":
                return Report(activity=Activity.THINKING)
            if kind in ("item.started", "item.updated"):
                return self._started(as_dict(event.get("item")))
            if kind == "item.completed":
                return self._completed(as_dict(event.get("item")))
            if kind == "turn.completed":
                return self._turn_completed(as_dict(event.get("usage")))
            if kind == "turn.failed":
                return self._failed(str(as_dict(event.get("error")).get("message") or ""))
            if kind == "error":
                return self._error(str(event.get("message") or ""))
        except (AttributeError, TypeError, ValueError):
            return Report([raw])  # a known type in a shape we do not know: as it is
        return Report()

    def _started(self, item: dict[str, Any]) -> Report:
        item_id = str(item.get("id", ""))
        match item.get("type"):
            case "command_execution" if item_id not in self.shown:
                self.shown.add(item_id)
                command = _command(str(item.get("command", "")))
                return Report([f"→ $ {command}"], Activity.RUNNING_TOOL, tool="shell")
            case "mcp_tool_call" if item_id not in self.shown:
                self.shown.add(item_id)
                tool = f"{item.get('server', '?')}.{item.get('tool', '?')}"
                return Report([f"→ {tool}"], Activity.RUNNING_TOOL, tool=tool)
            case "file_change":
                return Report(activity=Activity.RUNNING_TOOL, tool="apply_patch")
        return Report()

    def _completed(self, item: dict[str, Any]) -> Report:
        item_id = str(item.get("id", ""))
        failed = item.get("status") == "failed"
        match item.get("type"):
            case "agent_message":
                text = str(item.get("text") or "")
                self.last_message = text
                return Report(text.splitlines(), Activity.THINKING)
            case "reasoning":
                return Report(activity=Activity.THINKING)
            case "command_execution":
                return self._command_done(item, item_id, failed)
            case "file_change":
                changes = [as_dict(change) for change in item.get("changes") or []]
                lines = [self._change(change) for change in changes]
                if failed:
                    refused = [f"{line}: the patch was not applied" for line in lines]
                    return Report([f"✗ {line}" for line in refused], refusals=refused)
                return Report([f"→ {line}" for line in lines], Activity.THINKING)
            case "mcp_tool_call":
                tool = f"{item.get('server', '?')}.{item.get('tool', '?')}"
                if failed:
                    said = brief(str(as_dict(item.get("error")).get("message") or "failed"))
                    return Report([f"✗ {tool}: {said}"], refusals=[f"{tool}: {said}"])
                shown = [] if item_id in self.shown else [f"→ {tool}"]
                return Report(shown, Activity.THINKING)
            case "web_search":
                return Report([label(f"→ WebSearch {item.get('query', '')}")], Activity.THINKING)
            case "error":
                return Report([f"! {brief(str(item.get('message') or ''))}"])
        return Report()

    def _command_done(self, item: dict[str, Any], item_id: str, failed: bool) -> Report:
        command = _command(str(item.get("command", "")))
        said = brief(relative_in(str(item.get("aggregated_output") or ""), self.cwd))
        exit_code = item.get("exit_code")
        lines = [] if item_id in self.shown else [f"→ $ {command}"]
        if failed or (isinstance(exit_code, int) and exit_code != 0):
            why = f"exit {exit_code}" if isinstance(exit_code, int) else "failed"
            refusal = label(f"$ {command}: {why}" + (f": {said}" if said else ""))
            return Report([*lines, f"✗ {refusal}"], Activity.THINKING, refusals=[refusal])
        return Report([*lines, f"  {said}"] if said else lines, Activity.THINKING)

    def _change(self, change: dict[str, Any]) -> str:
        verb = CHANGE_VERBS.get(str(change.get("kind", "")), "Change")
        return label(f"{verb} {relative(str(change.get('path', '')), self.cwd)}")

    def _turn_completed(self, usage: dict[str, Any]) -> Report:
        cached = count(usage, "cached_input_tokens")
        turn = Usage(
            input_tokens=max(0, count(usage, "input_tokens") - cached),
            output_tokens=count(usage, "output_tokens"),
            cache_read_tokens=cached,
            cache_write_tokens=count(usage, "cache_write_input_tokens"),
        )
        self.usage = Usage(
            input_tokens=self.usage.input_tokens + turn.input_tokens,
            output_tokens=self.usage.output_tokens + turn.output_tokens,
            cache_read_tokens=self.usage.cache_read_tokens + turn.cache_read_tokens,
            cache_write_tokens=self.usage.cache_write_tokens + turn.cache_write_tokens,
        )
        summary = brief(self.last_message) or "turn completed"
        return Report(
            [f"✔ {summary}"], Activity.DONE, usage=self.usage, final_message=self.last_message
        )

    def _failed(self, message: str) -> Report:
        said = _error_text(message)
        if RATE_LIMITED.search(said):
            return Report([f"rate limited: {brief(said)}"], Activity.RATE_LIMITED)
        return Report([f"✗ {brief(said)}"], Activity.FAILED, final_message=said)

    def _error(self, message: str) -> Report:
        """A stream-level error: a turn.failed follows when it ends the turn, so this
        only shows it (or marks a rate limit at once)."""
        said = _error_text(message)
        if RATE_LIMITED.search(said):
            return Report([f"rate limited: {brief(said)}"], Activity.RATE_LIMITED)
        return Report([f"! {brief(said)}"])


def _command(command: str) -> str:
    """The command as the agent gave it: without Codex's `/bin/bash -lc` wrapper."""
    if SHELL_WRAPPER.match(command):
        inner = SHELL_WRAPPER.sub("", command, count=1)
        try:
            words = shlex.split(inner)
        except ValueError:
            return brief(inner)
        return brief(words[0] if len(words) == 1 else inner)
    return brief(command)


def _error_text(message: str) -> str:
    """An API error's own message when Codex passes the provider's JSON body on."""
    try:
        body = json.loads(message)
    except ValueError:
        return message
    error = as_dict(as_dict(body).get("error"))
    return str(error.get("message") or message)
