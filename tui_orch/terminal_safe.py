"""Agent text made safe to print on the operator's terminal.

An agent's output (and the file names it creates) can hold escape sequences that set
the terminal's title, clear the screen, or, with CR and backspace, rewrite a line that
was already printed, faking or hiding progress. Every control character but tab is
shown escaped instead (``\\x1b``, ``\\r``), and so are the Unicode marks that reorder
text. The log files on disk keep the raw bytes.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_KEEPING_NEWLINES = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
_NAMED = {"\r": "\\r", "\n": "\\n", "\b": "\\b", "\f": "\\f", "\v": "\\v", "\0": "\\x00"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, keep_newlines: bool = False) -> str:
    """text with every control character but tab (and newline, if asked) escaped."""
    pattern = _UNSAFE_KEEPING_NEWLINES if keep_newlines else _UNSAFE
    return pattern.sub(_escape, text) if pattern.search(text) else text


def printable_line(line: str) -> str:
    """One line of agent output: a CRLF line ending is only a line ending."""
    return printable(line.removesuffix("\r"))
