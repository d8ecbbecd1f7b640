"""The real agent CLIs (Claude Code, Codex, Gemini CLI) as tui-orch agents, set up against the
scripted model server (tests/scripted_model_server.py) with no network and no account.

Each CLI is looked for in ``.cache/<name>`` (``make real-agents`` installs pinned
versions there), then on PATH; a test that needs one it cannot find skips and says how
to install it. Each runs with a fresh HOME whose config file points it at the server, so
tui-orch's built-in profile runs unchanged, with only the binary's path made absolute.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT_ROOT
from tests.scripted_model_server import ScriptedModelServer
from tui_orch.engine.plans.profiles import builtin_profiles

# The model each CLI is told to use: any name works with the scripted server; these are
# ones the CLIs know, so they do not route between models first.
CODEX_MODEL = "gpt-5-codex"
GEMINI_MODEL = "gemini-2.5-flash"


def _claude_home(home: Path, server: ScriptedModelServer) -> dict[str, str]:
    """All Claude Code needs to work non-interactively against the server: an empty HOME
    is enough (no ~/.claude.json, no onboarding); the key is only sent to our server. The
    last two stop its telemetry, title generation and update checks."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": server.url,
        "ANTHROPIC_API_KEY": "test-key",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
    }


def _codex_home(home: Path, server: ScriptedModelServer) -> dict[str, str]:
    """Codex reads `$CODEX_HOME/config.toml`: a provider of our own on the server's
    Responses API (`/v1/responses`), its key from FAKE_KEY."""
    codex_home = home / ".codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    (codex_home / "config.toml").write_text(
        f'model = "{CODEX_MODEL}"\n'
        'model_provider = "scripted"\n'
        "[model_providers.scripted]\n"
        'name = "scripted"\n'
        f'base_url = "{server.url}/v1"\n'
        'wire_api = "responses"\n'
        'env_key = "FAKE_KEY"\n',
        encoding="utf-8",
    )
    return {"HOME": str(home), "CODEX_HOME": str(codex_home), "FAKE_KEY": "test-key"}


def _gemini_home(home: Path, server: ScriptedModelServer) -> dict[str, str]:
    """Gemini CLI takes its endpoint from GOOGLE_GEMINI_BASE_URL; headless, it accepts
    that only with the API-key auth chosen in its settings (`gateway` is refused)."""
    settings = home / ".gemini" / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(
        json.dumps(
            {
                "security": {"auth": {"selectedType": "gemini-api-key"}},
                "model": {"name": GEMINI_MODEL},
            }
        ),
        encoding="utf-8",
    )
    return {
        "HOME": str(home),
        "GOOGLE_GEMINI_BASE_URL": server.url,
        "GEMINI_API_KEY": "test-key",
    }


@dataclass(frozen=True)
class RealAgent:
    """One installable CLI: its profile name, npm package and how to point it at us."""

    profile: str
    package: str
    configure: Callable[[Path, ScriptedModelServer], dict[str, str]]
    cache: str  # its folder under .cache/

    def find(self) -> Path:
        local = PROJECT_ROOT / ".cache" / self.cache / "node_modules" / ".bin" / self.profile
        if local.exists():
            return local
        on_path = shutil.which(self.profile)
        if on_path is None:
            pytest.skip(
                f"the {self.profile} CLI is not installed: run `make real-agents` "
                f"(npm install --prefix .cache/{self.cache} {self.package})"
            )
        return Path(on_path)

    def write_plan(
        self, path: Path, cli: Path, env: dict[str, str], tasks: dict[str, list[str]]
    ) -> Path:
        """A plan whose every task runs this CLI through tui-orch's built-in profile."""
        profile = builtin_profiles()[self.profile]
        plan = {
            "base": "main",
            "default_agent": self.profile,
            "agents": {
                self.profile: {
                    "command": [str(cli), *profile.command[1:]],
                    "resume": [str(cli), *profile.resume[1:]],
                    "format": profile.format,
                    "env": env,
                    "timeout": "60s",
                }
            },
            "tasks": [
                {"id": task, "prompt": f"Create the {task} files.", "files": files}
                for task, files in tasks.items()
            ],
        }
        path.write_text(yaml.safe_dump(plan, sort_keys=False), encoding="utf-8")
        return path


REAL_AGENTS = {
    "claude": RealAgent("claude", "@anthropic-ai/claude-code", _claude_home, "claude-code"),
    "codex": RealAgent("codex", "@openai/codex", _codex_home, "codex"),
    "gemini": RealAgent("gemini", "@google/gemini-cli", _gemini_home, "gemini"),
}
