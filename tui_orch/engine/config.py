"""Settings shared by many plans: agent profiles and a default agent.

Read from the user's ``$XDG_CONFIG_HOME/tui-orch/config.yaml`` (default
``~/.config/tui-orch/config.yaml``) and the repository's ``.tui-orch.yaml``;
the repository's file overrides the user's, and a plan overrides both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from tui_orch.engine.fields import FieldReader
from tui_orch.engine.located_yaml import parse_yaml
from tui_orch.engine.problems import InputError, Problem
from tui_orch.engine.profiles import (
    AgentProfile,
    builtin_profiles,
    read_profiles,
    unknown_profile,
)

REPO_CONFIG_NAME = ".tui-orch.yaml"
CONFIG_FIELDS = ("agents", "default_agent", "worktree_root")


@dataclass
class Settings:
    """Agent profiles by name and the default agent, after layering all sources.

    ``broken`` names profiles that were defined but could not be read, and
    ``problems`` says why; what could be read is kept, so one typo does not
    hide the rest of a config file.
    """

    profiles: dict[str, AgentProfile] = field(default_factory=builtin_profiles)
    default_agent: str | None = None
    # Where worktrees go (relative paths are taken from the config file's folder).
    worktree_root: Path | None = None
    broken: set[str] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)


def user_config_path() -> Path:
    """Where the user's config lives, following the XDG base directory spec."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "tui-orch" / "config.yaml"


def read_text(path: Path, label: str) -> str:
    """Read a UTF-8 input file, turning OS errors into one clear problem."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError([Problem(label, 0, "", "file not found")]) from None
    except IsADirectoryError:
        raise InputError([Problem(label, 0, "", "is a directory, not a file")]) from None
    except OSError as error:
        raise InputError([Problem(label, 0, "", f"cannot be read: {error.strerror}")]) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        byte = data[error.start]
        raise InputError(
            [
                Problem(
                    label,
                    line,
                    "",
                    f"not UTF-8 text (byte 0x{byte:02x} in column {column}); "
                    "save the file as UTF-8",
                )
            ]
        ) from None


def load_settings(repo_root: Path | None) -> Settings:
    """Layer built-in, user and repository settings; problems are kept in the result."""
    settings = Settings()
    sources = [user_config_path()]
    if repo_root is not None:
        sources.append(repo_root / REPO_CONFIG_NAME)
    for path in sources:
        if not path.is_file():
            continue
        try:
            _apply_config_file(path, settings)
        except InputError as error:
            settings.problems.extend(error.problems)
    return settings


def _apply_config_file(path: Path, settings: Settings) -> None:
    label = str(path)
    root, problems = parse_yaml(read_text(path, label), label)
    settings.problems.extend(problems)
    if root is None:
        return
    reader = FieldReader(label)
    items = reader.mapping(root, "", CONFIG_FIELDS)
    if items is not None:
        if "agents" in items:
            profiles, broken = read_profiles(items["agents"], "agents", reader)
            settings.profiles.update(profiles)
            settings.broken.update(broken)
        if "default_agent" in items:
            node = items["default_agent"]
            name = reader.text(node, "default_agent")
            if name is not None and name in settings.broken:
                settings.default_agent = name
            elif name is not None and name not in settings.profiles:
                reader.problem(node.line, "default_agent", unknown_profile(name, settings.profiles))
            elif name is not None:
                settings.default_agent = name
        if "worktree_root" in items:
            root = reader.text(items["worktree_root"], "worktree_root")
            if root is not None:
                settings.worktree_root = path.parent / Path(root).expanduser()
    settings.problems.extend(reader.problems)
