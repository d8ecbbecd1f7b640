"""Placeholders in agent argv lists: ``{prompt}``, ``{prompt_file}``, ``{task_id}``,
``{session_id}`` (a new id per attempt, chosen by tui-orch), ``{files}``.

Commands are argv lists, never shell strings, so a prompt full of quotes and
dollars reaches the agent exactly as written. ``{{`` and ``}}`` stand for literal braces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

PLACEHOLDERS: tuple[str, ...] = ("prompt", "prompt_file", "task_id", "session_id", "files")

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


def placeholders_in(argument: str) -> list[str]:
    """Names inside single braces in one argument, known or not."""
    return [m.group(1) for m in _TOKEN.finditer(argument) if m.group(1) is not None]


def render_argv(argv: Sequence[str], values: Mapping[str, str], files: Sequence[str]) -> list[str]:
    """Fill placeholders; an argument that is exactly ``{files}`` becomes one argument per file."""
    rendered: list[str] = []
    for argument in argv:
        if argument == "{files}":
            rendered.extend(files)
            continue
        rendered.append(_TOKEN.sub(lambda m: _fill(m, values, files), argument))
    return rendered


def _fill(match: re.Match[str], values: Mapping[str, str], files: Sequence[str]) -> str:
    token = match.group(0)
    if token == "{{":
        return "{"
    if token == "}}":
        return "}"
    name = match.group(1)
    if name == "files":
        return " ".join(files)
    return values[name]
