"""Settings shared by many plans: agent profiles and a default agent.

Read from the user's ``$XDG_CONFIG_HOME/tui-orch/config.yaml`` (default
``~/.config/tui-orch/config.yaml``) and the repository's ``.tui-orch.yaml``;
the repository's file overrides the user's, and a plan overrides both.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from tui_orch.engine.plans.fields import FieldReader
from tui_orch.engine.plans.located_yaml import parse_yaml
from tui_orch.engine.plans.problems import InputError, Problem
from tui_orch.engine.plans.profiles import (
    AgentProfile,
    builtin_profiles,
    read_profiles,
    unknown_profile,
)

REPO_CONFIG_NAME = ".tui-orch.yaml"
CONFIG_FIELDS = ("agents", "default_agent", "worktree_root", "theme", "confirm_stop")


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
    theme: str | None = None  # the app's colour theme (the app saves the one picked)
    confirm_stop: bool = True  # `x` in the app asks before stopping an agent
    broken: set[str] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)


def user_config_path() -> Path:
    """Where the user's config lives, following the XDG base directory spec."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "tui-orch" / "config.yaml"


# Plans and config files are read whole; past this they are refused before being decoded
# or parsed (a real plan is a few KB; the pure-Python YAML scanner needs up to ~2.5 s a MiB).
MAX_INPUT_BYTES = 1024 * 1024
# Byte-order marks of other Unicode encodings; UTF-32 LE starts like UTF-16 LE, so it is first.
FOREIGN_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)
UTF8_BOM = b"\xef\xbb\xbf"


def read_text(path: Path, label: str) -> str:
    """Read a UTF-8 input file of at most 1 MiB, turning OS errors into one clear problem."""
    data = _read_at_most(path, label, MAX_INPUT_BYTES)
    for bom, encoding in FOREIGN_BOMS:
        if data.startswith(bom):
            message = f"the file is {encoding} (it starts with a {encoding} byte-order mark); "
            raise InputError([Problem(label, 1, "", message + "save it as UTF-8")])
    data = data.removeprefix(UTF8_BOM)
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


def _read_at_most(path: Path, label: str, limit: int) -> bytes:
    """The file's bytes; never reads more than limit + 1 of them, however big the file."""
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
            size = os.fstat(handle.fileno()).st_size
    except FileNotFoundError:
        raise InputError([Problem(label, 0, "", "file not found")]) from None
    except IsADirectoryError:
        raise InputError([Problem(label, 0, "", "is a directory, not a file")]) from None
    except OSError as error:
        raise InputError([Problem(label, 0, "", f"cannot be read: {error.strerror}")]) from None
    if len(data) <= limit:
        return data
    # st_size is 0 for a pipe; then all we know is that there is more than the limit.
    shown = f"{size / 2**20:.1f} MiB ({size:,} bytes)" if size > limit else "more than 1 MiB"
    line = data.count(b"\n", 0, limit) + 1
    message = (
        f"the file is {shown}; a plan or config file may be at most 1 MiB "
        f"({limit:,} bytes), so split the work into smaller plans"
    )
    raise InputError([Problem(label, line, "", message)])


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
        if "theme" in items:
            settings.theme = reader.text(items["theme"], "theme") or settings.theme
        if "confirm_stop" in items:
            confirm = reader.boolean(items["confirm_stop"], "confirm_stop")
            settings.confirm_stop = settings.confirm_stop if confirm is None else confirm
        if "worktree_root" in items:
            root = reader.text(items["worktree_root"], "worktree_root")
            if root is not None:
                settings.worktree_root = path.parent / Path(root).expanduser()
    settings.problems.extend(reader.problems)


def remember_theme(name: str) -> bool:
    """Write `theme: NAME` into the user's config file, keeping every other line (and
    comment) as it is; False if the file cannot be written."""
    path = user_config_path()
    line = f"theme: {name}\n"
    try:
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        if re.search(r"^theme\s*:.*$", text, flags=re.MULTILINE):
            text = re.sub(r"^theme\s*:.*$\n?", line, text, count=1, flags=re.MULTILINE)
        else:
            text += ("" if not text or text.endswith("\n") else "\n") + line
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    except (OSError, UnicodeDecodeError):
        return False
    return True
