"""How much do parallel agents gain, and what does the engine cost per task?

Run with ``.venv/bin/python benchmarks/parallel_speedup.py [--rounds N]``.

1. A plan of 4 agents that each sleep 2 s and write one file runs through the real engine
   (`prepare_new_run` + `Orchestrator` with `ApproveEverything`) on a throwaway repository,
   (a) all in one batch (max_parallel 4) and (b) one after another (max_parallel 1).
   Each is repeated N times; the median wall times and their ratio are printed.
2. The engine's git work per task, timed directly on a throwaway repository for 20 tasks:
   worktree create, commit, merge into the integration worktree, worktree remove.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from tui_orch.engine.repository.merge import merge_into
from tui_orch.engine.repository.worktrees import Workspace
from tui_orch.engine.run.approvals import ApproveEverything
from tui_orch.engine.run.events import Event
from tui_orch.engine.run.launch import prepare_new_run
from tui_orch.engine.run.orchestrator import RunOptions

AGENTS = 4
AGENT_SECONDS = 2.0
OVERHEAD_TASKS = 20

AGENT_SCRIPT = f"""\
import os, pathlib, time
time.sleep({AGENT_SECONDS})
path = pathlib.Path(os.environ["TUI_ORCH_FILES"].splitlines()[0])
path.write_text("written by " + os.environ["TUI_ORCH_TASK_ID"] + "\\n")
"""


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Benchmark")
    git(path, "config", "user.email", "benchmark@example.com")
    (path / "README.md").write_text("benchmark\n")
    git(path, "add", "README.md")
    git(path, "commit", "-q", "-m", "initial")
    return path


def write_plan(path: Path, agent: Path, max_parallel: int) -> Path:
    plan = {
        "base": "main",
        "default_agent": "sleeper",
        "max_parallel": max_parallel,
        "agents": {"sleeper": {"command": [sys.executable, str(agent)]}},
        "tasks": [
            {"id": f"t{n}", "prompt": f"write out{n}.txt", "files": [f"out{n}.txt"]}
            for n in range(1, AGENTS + 1)
        ],
    }
    path.write_text(yaml.safe_dump(plan, sort_keys=False), encoding="utf-8")
    return path


def timed_run(work: Path, label: str, max_parallel: int) -> float:
    """One whole run on a fresh repository; its wall time in seconds."""
    repo = make_repo(work / f"repo-{label}")
    agent = work / "agent.py"
    agent.write_text(AGENT_SCRIPT, encoding="utf-8")
    plan = write_plan(work / f"plan-{label}.yaml", agent, max_parallel)
    events: list[Event] = []
    started = time.perf_counter()
    options = RunOptions(worktree_root=work / "worktrees")  # not the user's data dir
    orchestrator = prepare_new_run(plan, repo, ApproveEverything(), events.append, options)
    result = asyncio.run(orchestrator.run())
    elapsed = time.perf_counter() - started
    if result.exit_code != 0:
        raise SystemExit(f"benchmark run {label} failed: {result.message}")
    written = sorted(p.name for p in repo.glob("out*.txt"))
    if len(written) != AGENTS:
        raise SystemExit(f"benchmark run {label} merged only {written}")
    return elapsed


@contextmanager
def timing(samples: list[float]) -> Iterator[None]:
    started = time.perf_counter()
    yield
    samples.append(time.perf_counter() - started)


def git_overheads(work: Path, tasks: int) -> dict[str, list[float]]:
    """Time the engine's git steps of one task, for `tasks` tasks in a row."""
    repo = make_repo(work / "repo-overhead")
    workspace = Workspace(repo)
    root = work / "worktrees"
    integration = root / "_integration"
    workspace.add_worktree(integration, "integration", "main")
    samples: dict[str, list[float]] = {
        "worktree create": [],
        "commit": [],
        "merge": [],
        "worktree remove": [],
    }
    for n in range(tasks):
        path, branch = root / f"task-{n}", f"task-{n}"
        start = workspace.rev("integration")
        with timing(samples["worktree create"]):
            workspace.add_worktree(path, branch, start)
        (path / f"file-{n}.txt").write_text(f"task {n}\n")
        with timing(samples["commit"]):
            workspace.commit_all(path, f"task {n}")
        with timing(samples["merge"]):
            outcome = merge_into(workspace, integration, branch, f"merge {n}")
        if not outcome.ok:
            raise SystemExit(f"merge of {branch} failed: {outcome}")
        with timing(samples["worktree remove"]):
            workspace.remove_worktree(path, force=True)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs of each kind (default 3)")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    work = Path(tempfile.mkdtemp(prefix="tui-orch-bench-"))
    # A clean user config, as in the tests: no profiles or settings from the user's own.
    os.environ["XDG_CONFIG_HOME"] = str(work / "xdg-config")
    total_started = time.perf_counter()
    try:
        parallel: list[float] = []
        sequential: list[float] = []
        print(
            f"{AGENTS} agents x {AGENT_SECONDS:g} s each, {args.rounds} round(s), "
            f"git {git(work, 'version').split()[-1]}, python {sys.version.split()[0]}"
        )
        for number in range(1, args.rounds + 1):
            parallel.append(timed_run(work / f"round-{number}", "parallel", AGENTS))
            sequential.append(timed_run(work / f"round-{number}", "sequential", 1))
            print(
                f"  round {number}: parallel {parallel[-1]:6.2f} s   "
                f"sequential {sequential[-1]:6.2f} s"
            )
        par, seq = statistics.median(parallel), statistics.median(sequential)
        ideal_par, ideal_seq = AGENT_SECONDS, AGENTS * AGENT_SECONDS
        print()
        print("whole runs (median wall time, plan check to merged and cleaned up)")
        rows = [
            (f"(a) one batch, max_parallel {AGENTS}", par, ideal_par),
            ("(b) in sequence, max_parallel 1", seq, ideal_seq),
        ]
        for label, value, ideal in rows:
            print(
                f"  {label:<34} {value:6.2f} s   (ideal {ideal:g} s, "
                f"overhead {value - ideal:.2f} s)"
            )
        print(f"  {'speed-up (b)/(a)':<34} {seq / par:6.2f}x   (target: close to {AGENTS}x)")
        print(
            f"  {'engine overhead per batch':<34} {(seq - ideal_seq) / AGENTS:6.2f} s   "
            "(from (b): agent start, watch, commit, merge)"
        )

        samples = git_overheads(work, OVERHEAD_TASKS)
        print()
        print(f"engine git steps per task (median of {OVERHEAD_TASKS} tasks)")
        for name, values in samples.items():
            print(
                f"  {name:<16} {statistics.median(values) * 1000:7.1f} ms"
                f"   (min {min(values) * 1000:.1f}, max {max(values) * 1000:.1f})"
            )
        per_task = sum(statistics.median(values) for values in samples.values())
        print(f"  {'sum':<16} {per_task * 1000:7.1f} ms")
        print()
        print(f"benchmark took {time.perf_counter() - total_started:.1f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
