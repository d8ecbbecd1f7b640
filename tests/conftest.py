"""Shared fixtures: throwaway git repos, a clean user config, and the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.process_guard import no_leftover_processes

__all__ = ["no_leftover_processes"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_PLAN = PROJECT_ROOT / "tui_orch" / "examples" / "example-plan.yaml"


@pytest.fixture(autouse=True)
def isolated_config(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test (and every CLI it starts) sees an empty user config directory, and
    its own data directory (where worktrees go)."""
    config_home = tmp_path_factory.mktemp("xdg-config")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg-data")))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "test@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "test@example.com")
    return config_home


def git(repo: Path, *args: str) -> str:
    """Run real git in repo and return its stdout."""
    done = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A real git repository with one commit on 'main'."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "README.md").write_text("demo\n")
    git(path, "add", "README.md")
    git(path, "commit", "-q", "-m", "initial")
    return path


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> CliResult:
    """Run `tui-orch` as a user would: a real subprocess."""
    done = subprocess.run(
        [sys.executable, "-m", "tui_orch", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )
    return CliResult(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def outside_repo(tmp_path: Path) -> Iterator[Path]:
    """A working directory that is not inside any git repository."""
    path = tmp_path / "plain"
    path.mkdir()
    yield path
