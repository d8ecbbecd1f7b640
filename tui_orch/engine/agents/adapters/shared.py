"""Small readers every structured adapter uses: a value as a mapping, a tool's answer
cut to one line, a path made relative to the agent's working directory."""

from __future__ import annotations

from typing import Any

from tui_orch.tables import first_text_line

LABEL_MAX = 120  # characters of a tool call's line; the log has the whole call
RESULT_MAX = 100  # characters of a tool result's first line


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def brief(text: str) -> str:
    """A tool's answer as its first line, cut to RESULT_MAX characters."""
    return cut(first_text_line(text), RESULT_MAX)


def label(text: str) -> str:
    """A tool call's line, cut to LABEL_MAX characters."""
    return cut(text.rstrip(), LABEL_MAX)


def relative(path: str, cwd: str) -> str:
    """``path`` relative to ``cwd`` when it is under it, else as it is."""
    prefix = cwd.rstrip("/") + "/"
    return path[len(prefix) :] if cwd and path.startswith(prefix) else path


def relative_in(text: str, cwd: str) -> str:
    """Every path under ``cwd`` in a tool's answer, made relative."""
    return text.replace(cwd.rstrip("/") + "/", "") if cwd else text


def count(mapping: dict[str, Any], key: str) -> int:
    """A token count, or 0 when the field is missing or not a whole number."""
    value = mapping.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
