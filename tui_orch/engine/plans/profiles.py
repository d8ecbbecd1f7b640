"""Agent profiles: how to start one kind of coding agent.

A profile is read the same way from a plan, from the repo's ``.tui-orch.yaml`` and
from the user's config; the nearest definition of a name wins (plan, repo, user,
built-in), whole profiles at a time so nothing is silently half-inherited.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from tui_orch.engine.agents.adapters.formats import OUTPUT_FORMATS
from tui_orch.engine.plans.commands import PLACEHOLDERS, placeholders_in
from tui_orch.engine.plans.fields import FieldReader
from tui_orch.engine.plans.located_yaml import Located
from tui_orch.engine.plans.problems import did_you_mean

PROFILE_FIELDS = ("command", "format", "timeout", "env", "resume", "budget_flag")


@dataclass(frozen=True)
class AgentProfile:
    """One way to run an agent: its argv template, output format, timeout and env;
    ``resume``, if it has one, continues an earlier attempt's conversation (with
    ``{session_id}`` the session recorded for the task and ``{prompt}`` a note of what
    went wrong), so a restart does not start from nothing."""

    name: str
    command: tuple[str, ...]
    format: str = "text"
    timeout: float | None = None
    env: dict[str, str] = field(default_factory=dict)
    source: str = "built-in"
    resume: tuple[str, ...] = ()
    # The flag that caps what the agent spends (`--max-budget-usd`): a task's budget_usd
    # is passed with it; '' for agents that take none.
    budget_flag: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "command": list(self.command),
            "format": self.format,
            "timeout": self.timeout,
            "env": dict(self.env),
            "source": self.source,
            "resume": list(self.resume),
            "budget_flag": self.budget_flag,
        }


def builtin_profiles() -> dict[str, AgentProfile]:
    """Profiles that work without any configuration.

    Each third-party CLI runs in its documented one-shot, non-interactive mode, streaming
    JSON where it can (Claude Code's print mode needs --verbose for it), so its pane shows
    each step as it happens instead of nothing until the end; and each has a way to go on
    with an earlier attempt's conversation.
    """
    claude = ("claude", "-p", "{prompt}", "--output-format", "stream-json", "--verbose")
    claude += ("--permission-mode", "acceptEdits")
    # Codex picks its thread id itself (reported on its first line, recorded as the
    # task's session); the sandbox lets it write in its worktree only.
    codex = ("codex", "exec", "--json", "--sandbox", "workspace-write")
    # Each worktree is a folder Gemini CLI has not seen: --skip-trust trusts it for this
    # session only (headless, an untrusted folder is a fatal error).
    gemini = ("gemini", "-p", "{prompt}", "--output-format", "stream-json")
    gemini += ("--approval-mode", "auto_edit", "--skip-trust")
    profiles = [
        AgentProfile(
            "claude",
            (*claude, "--session-id", "{session_id}"),
            format="claude-stream-json",
            resume=(*claude, "--resume", "{session_id}"),
            budget_flag="--max-budget-usd",
        ),
        AgentProfile(
            "codex",
            (*codex, "{prompt}"),
            format="codex-json",
            resume=(*codex, "resume", "{session_id}", "{prompt}"),
        ),
        AgentProfile(
            "gemini",
            (*gemini, "--session-id", "{session_id}"),
            format="gemini-stream-json",
            resume=(*gemini, "--resume", "{session_id}"),
        ),
        AgentProfile(
            "aider",
            (
                "aider",
                "--message",
                "{prompt}",
                "--yes-always",
                "--no-auto-commits",
                "--no-stream",
                "--no-pretty",
                "{files}",
            ),
        ),
    ]
    return {profile.name: profile for profile in profiles}


def read_profiles(
    node: Located, path: str, reader: FieldReader
) -> tuple[dict[str, AgentProfile], set[str]]:
    """Read an ``agents:`` mapping of name -> profile, recording problems in reader.

    Returns the good profiles and the names of broken ones, so a task that uses a
    broken profile is not also told the profile does not exist.
    """
    if not node.is_mapping:
        reader.wrong_type(node, path, "a mapping of agent names to profiles")
        return {}, set()
    profiles: dict[str, AgentProfile] = {}
    broken: set[str] = set()
    for name, profile_node in node.value.items():
        profile = _read_profile(name, profile_node, f"{path}.{name}", reader)
        if profile is None:
            broken.add(name)
        else:
            profiles[name] = profile
    return profiles, broken


def unknown_profile(name: str, profiles: Collection[str]) -> str:
    """The sentence for a profile name that is not defined anywhere."""
    return (
        f"unknown agent profile '{name}'"
        + did_you_mean(name, profiles)
        + f"; defined: {', '.join(sorted(profiles))}"
    )


def _read_profile(name: str, node: Located, path: str, reader: FieldReader) -> AgentProfile | None:
    items = reader.mapping(node, path, PROFILE_FIELDS, required=("command",))
    if items is None:
        return None
    command_node = items.get("command")
    command = _read_argv(command_node, f"{path}.command", reader) if command_node else None
    resume = _read_argv(items["resume"], f"{path}.resume", reader) if "resume" in items else ()
    ok = command is not None and resume is not None
    output_format = "text"
    if "format" in items:
        value = reader.text(items["format"], f"{path}.format")
        if value is not None and value not in OUTPUT_FORMATS:
            reader.problem(
                items["format"].line,
                f"{path}.format",
                f"unknown output format '{value}'"
                + did_you_mean(value, OUTPUT_FORMATS)
                + f"; known: {', '.join(OUTPUT_FORMATS)}",
            )
            ok = False
        elif value is None:
            ok = False
        else:
            output_format = value
    timeout = None
    if "timeout" in items:
        timeout = reader.duration(items["timeout"], f"{path}.timeout")
        ok = ok and timeout is not None
    env: dict[str, str] = {}
    if "env" in items:
        read_env = reader.text_map(items["env"], f"{path}.env")
        ok = ok and read_env is not None
        env = read_env or {}
    budget_flag = ""
    if "budget_flag" in items:
        flag = reader.text(items["budget_flag"], f"{path}.budget_flag")
        ok = ok and flag is not None
        budget_flag = flag or ""
    if not ok or command is None or resume is None:
        return None
    return AgentProfile(
        name, command, output_format, timeout, env, reader.source, resume, budget_flag
    )


def _read_argv(node: Located, path: str, reader: FieldReader) -> tuple[str, ...] | None:
    """An argv template (`command`, `resume`): a non-empty list, never a shell string."""
    if isinstance(node.value, str):
        reader.problem(
            node.line,
            path,
            "expected a list of arguments such as [my-agent, --prompt, '{prompt}'], "
            "found a single string; agents are never started through a shell",
        )
        return None
    arguments = reader.text_list(node, path, "a list of arguments")
    if arguments is None or len(arguments) != len(node.value):
        return None
    if not arguments:
        reader.problem(node.line, path, "must not be empty")
        return None
    if not _check_placeholders(arguments, path, reader):
        return None
    return tuple(argument for argument, _ in arguments)


def _check_placeholders(arguments: list[tuple[str, int]], path: str, reader: FieldReader) -> bool:
    ok = True
    for index, (argument, line) in enumerate(arguments):
        for name in placeholders_in(argument):
            if name not in PLACEHOLDERS:
                reader.problem(
                    line,
                    f"{path}[{index}]",
                    f"unknown placeholder '{{{name}}}'"
                    + did_you_mean(name, PLACEHOLDERS)
                    + "; known: "
                    + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
                    + " (write {{ and }} for literal braces)",
                )
                ok = False
    return ok
