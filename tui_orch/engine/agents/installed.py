"""What of an agent profile is installed here: its program, its version, and whether
the program still accepts every flag the profile passes (CLIs rename flags between
releases; a profile that passes a gone flag fails every task at once)."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

from tui_orch.engine.plans.commands import placeholders_in
from tui_orch.engine.plans.profiles import AgentProfile
from tui_orch.tables import first_text_line

ASK_TIMEOUT = 10.0  # seconds for `--version` or `--help`: a CLI that hangs is reported


@dataclass(frozen=True)
class Installed:
    """A profile's program as found on this machine."""

    path: str | None  # None: not on PATH (or not there, for an absolute path)
    version: str = ""  # the first line of `--version`, '' if it gave none


def find_program(profile: AgentProfile) -> Installed:
    path = shutil.which(profile.command[0]) if profile.command else None
    if path is None:
        return Installed(None)
    return Installed(path, first_text_line(_ask(path, "--version")))


def flags_of(profile: AgentProfile) -> list[str]:
    """The flags the profile passes, to start an agent or to resume one (`--verbose`,
    `-p`; `--flag=value` as `--flag`), each once, not the values nor placeholders."""
    flags: dict[str, None] = {}
    for argument in [*profile.command[1:], *profile.resume[1:]]:
        if argument.startswith("-") and argument != "-" and not placeholders_in(argument):
            flags[argument.split("=", 1)[0]] = None
    return list(flags)


def unknown_flags(profile: AgentProfile, program: str) -> list[str] | None:
    """The profile's flags that the program's `--help` does not mention (None: it gave no
    help at all). A subcommand's flags are looked up in that subcommand's help
    (`codex exec --help`)."""
    subcommand = [argument for argument in profile.command[1:2] if not argument.startswith("-")]
    text = _ask(program, *subcommand, "--help")
    if not text.strip():
        return None
    return [
        flag
        for flag in flags_of(profile)
        if not re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text)
    ]


def _ask(program: str, *args: str) -> str:
    try:
        done = subprocess.run(
            [program, *args],
            capture_output=True,
            text=True,
            timeout=ASK_TIMEOUT,
            stdin=subprocess.DEVNULL,
            errors="replace",
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout + done.stderr
