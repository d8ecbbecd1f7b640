"""Conflict prediction benchmark: how long one monitoring round takes.

Builds a throwaway repository with ``--worktrees`` worktrees (default 16), each with
``--files`` changed files (default 50: half edits of shared files, so pairs really
conflict, half new files), then times with the real ConflictMonitor:

* a full round: a fresh monitor snapshots every worktree and runs merge-tree on every pair;
* an incremental round: one worktree changed since the last round, so only its snapshot
  and its pairs are new.

Prints medians over ``--rounds`` rounds (default 7). Target: incremental under 200 ms.

    .venv/bin/python benchmarks/predict_conflicts.py [--worktrees 16] [--files 50] [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tui_orch.engine.conflicts.monitor import ConflictMonitor, WorktreeView  # noqa: E402
from tui_orch.engine.conflicts.predict import predictions_available  # noqa: E402
from tui_orch.engine.repository.worktrees import Workspace  # noqa: E402

SHARED = 200  # files in the base commit that worktrees edit


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def build(work: Path, worktrees: int, files: int) -> tuple[Path, list[WorktreeView], str]:
    repo = work / "repo"
    (repo / "src").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    for number in range(SHARED):
        lines = "\n".join(f"line {i} of shared file {number}" for i in range(40))
        (repo / "src" / f"shared_{number}.py").write_text(lines + "\n")
    git(repo, "add", ".")
    git(repo, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "base")
    start = git(repo, "rev-parse", "HEAD")
    workspace = Workspace(repo)
    views = []
    for index in range(worktrees):
        path = work / "wt" / f"t{index}"
        workspace.add_worktree(path, f"bench/t{index}", start)
        for number in range(files // 2):
            # Neighbouring worktrees edit some of the same files: real conflicts to find.
            shared = path / "src" / f"shared_{(index * 7 + number) % SHARED}.py"
            text = shared.read_text().replace("line 3 ", f"line 3 changed by t{index} ")
            shared.write_text(text)
        for number in range(files - files // 2):
            (path / "src" / f"t{index}_new_{number}.py").write_text(f"x = {number}\n")
        views.append(WorktreeView(f"t{index}", path, start))
    return repo, views, start


def timed(monitor: ConflictMonitor, views: list[WorktreeView], head: str) -> tuple[float, int]:
    begin = time.perf_counter()
    monitor.round(views, head)
    return time.perf_counter() - begin, len(monitor.current)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worktrees", type=int, default=16)
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    if not predictions_available():
        print("git is older than 2.38: merge-tree predictions are not available here")
        return
    with tempfile.TemporaryDirectory(prefix="tui-orch-predict-") as work:
        repo, views, start = build(Path(work), args.worktrees, args.files)
        owners = {
            f"src/t{i}_new_{n}.py": f"t{i}"
            for i in range(args.worktrees)
            for n in range(args.files)
        }
        order = [view.task_id for view in views]
        full, incremental = [], []
        conflicts = 0
        for round_number in range(args.rounds):
            monitor = ConflictMonitor(repo, owners, {}, order, predict=True)
            seconds, conflicts = timed(monitor, views, start)
            full.append(seconds)
            changed = views[round_number % len(views)].worktree / "src" / "extra.py"
            changed.write_text(f"y = {round_number}\n")
            seconds, _ = timed(monitor, views, start)
            incremental.append(seconds)
        pairs = len(views) * (len(views) - 1) // 2
        print(
            f"{len(views)} worktrees x {args.files} changed files, {pairs} pairs, "
            f"{conflicts} conflicts found; median of {args.rounds} rounds"
        )
        print(
            f"full round (every snapshot, every pair):   {statistics.median(full) * 1000:7.0f} ms"
        )
        print(
            f"incremental round (one worktree changed):  "
            f"{statistics.median(incremental) * 1000:7.0f} ms   (target: under 200 ms)"
        )


if __name__ == "__main__":
    main()
