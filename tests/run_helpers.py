"""Building blocks for tests that run plans: script agents, plans, the real CLI, git facts."""

from __future__ import annotations

import json
import os
import re
import sys
import textwrap
from pathlib import Path

import yaml

from tests.conftest import CliResult, git, run_cli


def script_agent(directory: Path, name: str, body: str) -> list[str]:
    """Write a small Python agent script; return the argv list that runs it.

    The script runs with cwd = the task's worktree and sees TUI_ORCH_TASK_ID,
    TUI_ORCH_FILES (newline-separated) and TUI_ORCH_PROMPT_FILE. Like the real agent
    CLIs, it refuses to work (and exits 3) in a directory under a `.git` directory.
    """
    path = directory / f"{name}.py"
    header = "import os, sys, time, subprocess, pathlib\n"
    header += "if '.git' in pathlib.Path.cwd().resolve().parts:\n"
    header += "    print(f'refusing to edit {pathlib.Path.cwd()}: it is under .git', flush=True)\n"
    header += "    sys.exit(3)\n"
    header += "TASK = os.environ['TUI_ORCH_TASK_ID']\n"
    header += "FILES = os.environ['TUI_ORCH_FILES'].splitlines()\n"
    path.write_text(header + textwrap.dedent(body), encoding="utf-8")
    return [sys.executable, str(path)]


def write_plan(
    path: Path,
    tasks: list[dict[str, object]],
    agents: dict[str, list[str]],
    validate: list[object] | None = None,
    **top: object,
) -> Path:
    """Write a plan file; ``agents`` maps profile names to argv lists."""
    plan: dict[str, object] = {
        "base": "main",
        "default_agent": next(iter(agents)),
        "agents": {name: {"command": argv} for name, argv in agents.items()},
        **top,
        "tasks": [{"prompt": f"do {t['id']}", **t} for t in tasks],
    }
    if validate is not None:
        plan["validate"] = validate
    path.write_text(yaml.safe_dump(plan, sort_keys=False), encoding="utf-8")
    return path


def run_plan(plan: Path, repo: Path, *extra: str, timeout: float = 120) -> CliResult:
    """`tui-orch run PLAN --repo REPO --headless --yes` as a user would type it."""
    return run_cli("run", str(plan), "--repo", str(repo), "--headless", "--yes", *extra, cwd=repo)


def json_events(result: CliResult) -> list[dict[str, object]]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def head(repo: Path, ref: str = "main") -> str:
    return git(repo, "rev-parse", ref)


def branches(repo: Path) -> list[str]:
    return git(repo, "branch", "--format=%(refname:short)").splitlines()


def worktree_paths(repo: Path) -> list[str]:
    out = git(repo, "worktree", "list", "--porcelain")
    return [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("worktree ")]


def commits_on(repo: Path, branch: str, since: str) -> list[str]:
    return git(repo, "rev-list", f"{since}..{branch}").splitlines()


def worktrees_home() -> Path:
    """Where worktrees go by default: the data dir every test gets (see conftest)."""
    return Path(os.environ["XDG_DATA_HOME"]) / "tui-orch" / "worktrees"


def worktree_of(repo: Path, run_id: str, task_id: str) -> Path:
    """The task's worktree in the default layout: <data>/<repo name>-<8 hex>/<run>/<task>."""
    found = [
        folder / run_id / task_id
        for folder in worktrees_home().glob(f"{repo.name}-*")
        if re.fullmatch(rf"{re.escape(repo.name)}-[0-9a-f]{{8}}", folder.name)
    ]
    assert len(found) == 1, found
    return found[0]


def only_run(repo: Path) -> str:
    """The id of the one run in repo (its state lives under the git dir)."""
    ids = sorted(p.name for p in (repo / ".git" / "tui-orch" / "runs").iterdir())
    assert len(ids) == 1, ids
    return ids[0]
