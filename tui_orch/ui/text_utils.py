"""Cleaning agent output for display: no escape sequences, no tabs, no control bytes."""

from __future__ import annotations

import re

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_line(line: str) -> str:
    """A line as plain text that cannot move the cursor or change colours."""
    if "\x1b" in line:
        line = _ANSI.sub("", line)
    if "\t" in line:
        line = line.expandtabs(4)
    return _CONTROL.sub("", line)


def elapsed_text(seconds: float | None) -> str:
    """'12s', '3m05s', '1h02m'; '-' when unknown."""
    if seconds is None:
        return "-"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def minutes_text(seconds: float | None) -> str:
    """A time that moves once a minute: '' under a minute, then '3m', '1h02m'."""
    if seconds is None or seconds < 60:
        return ""
    if seconds >= 3600:
        return elapsed_text(seconds)  # hours and minutes already
    return f"{int(seconds) // 60}m"
