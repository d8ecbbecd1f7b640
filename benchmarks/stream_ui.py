"""Streaming benchmark: the real cockpit, headless, with many agents printing as fast as they can.

For each of ``--rounds`` rounds it measures, each in a fresh process:

* baseline: the same agents started by a bare asyncio program that reads their stdout
  and writes it to files (the least any tool must do);
* the same bare reader, each agent in a git worktree made just before it starts, one
  worktree at a time as git requires (the least a tool that gives agents worktrees
  must do);
* app: the real OrchApp over the real engine (worktrees, supervisors, log files, the
  bridge, panes), until every line is on disk and counted on screen;
* app with a quarter of the lines, to show memory does not grow with the line count.

It prints medians: total time (from the key that approves the batch), the streaming
time (first agent start to last line on screen), the longest event-loop stall seen by
a 10 ms ticker over the whole measurement and over the streaming time alone (the
whole one includes the switch from the plan screen to the dashboard), and peak
memory (RSS).

    .venv/bin/python benchmarks/stream_ui.py [--agents 16] [--lines 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AGENT = """\
import os, sys
task = os.environ.get("TUI_ORCH_TASK_ID", "agent")
lines = int(sys.argv[1])
write = sys.stdout.write
for number in range(lines):
    write(f"{task}: line {number} of {lines}: the quick brown fox jumps over the lazy dog\\n")
sys.stdout.flush()
for path in os.environ.get("TUI_ORCH_FILES", "").splitlines():
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    open(path, "w").write(task + "\\n")
"""


TIMEOUT = 120.0  # seconds for one measurement: a hang is reported, not waited out


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class StallMeter:
    """A 10 ms ticker on the event loop; the largest lateness is the longest stall."""

    def __init__(self) -> None:
        self.gaps: list[tuple[float, float]] = []  # (when the tick came, how late)
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            self.gaps.append((now, now - before - 0.01))

    def worst(self, since: float = 0.0) -> float:
        """The longest stall that ended after ``since`` (a perf_counter time)."""
        return max((gap for when, gap in self.gaps if when >= since), default=0.0)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._tick())

    def stop(self) -> None:
        if self._task:
            self._task.cancel()


async def read_agent(work: Path, index: int, lines: int, cwd: Path | None = None) -> None:
    """Run agent t<index> and copy its stdout to t<index>.log, as a bare reader does."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(work / "agent.py"),
        str(lines),
        stdout=asyncio.subprocess.PIPE,
        env={"TUI_ORCH_TASK_ID": f"t{index}"},
        cwd=cwd,
    )
    assert process.stdout is not None
    with open(work / f"t{index}.log", "wb") as log:
        while chunk := await process.stdout.read(65536):
            log.write(chunk)
    await process.wait()


def baseline_result(
    work: Path, agents: int, lines: int, start: float, meter: StallMeter
) -> dict[str, float]:
    """A bare reader's measurement, once every line was checked to be on disk."""
    total = time.perf_counter() - start
    meter.stop()
    written = sum(len((work / f"t{i}.log").read_bytes().splitlines()) for i in range(agents))
    assert written == agents * lines, written
    stall = meter.worst()
    return {
        "total": total,
        "stream": total,
        "stall": stall,
        "stream_stall": stall,
        "rss": peak_rss_mb(),
    }


async def measure_baseline(work: Path, agents: int, lines: int) -> dict[str, float]:
    (work / "agent.py").write_text(AGENT)
    meter = StallMeter()
    meter.start()
    start = time.perf_counter()
    await asyncio.gather(*(read_agent(work, index, lines) for index in range(agents)))
    return baseline_result(work, agents, lines, start, meter)


async def measure_baseline_with_worktrees(work: Path, agents: int, lines: int) -> dict[str, float]:
    """The bare reader, each agent in a worktree of its own made first, as git requires
    them made: one at a time (two `git worktree add` at once fail). What any tool that
    gives agents worktrees must do at the least; tui-orch also supervises, records and
    draws."""
    repo, _plan = make_repo(work, agents, lines)
    meter = StallMeter()
    meter.start()
    start = time.perf_counter()
    readers = []
    for index in range(agents):
        worktree = work / f"w{index}"
        process = await asyncio.create_subprocess_exec(
            "git", "worktree", "add", "--quiet", "-b", f"t{index}", str(worktree), cwd=repo
        )  # fmt: skip
        assert await process.wait() == 0
        readers.append(asyncio.create_task(read_agent(work, index, lines, cwd=worktree)))
    await asyncio.gather(*readers)
    return baseline_result(work, agents, lines, start, meter)


def make_repo(work: Path, agents: int, lines: int) -> tuple[Path, Path]:
    repo = work / "repo"
    repo.mkdir()
    run = lambda *args: subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)  # noqa: E731
    run("init", "-q", "-b", "main")
    (repo / "README.md").write_text("bench\n")
    run("add", ".")
    run("-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "init")
    script = work / "agent.py"
    script.write_text(AGENT)
    import yaml

    plan = {
        "base": "main",
        "default_agent": "flood",
        "max_parallel": agents,
        "agents": {"flood": {"command": [sys.executable, str(script), str(lines)]}},
        "tasks": [
            {"id": f"t{i}", "prompt": "print", "files": [f"out/t{i}.txt"]} for i in range(agents)
        ],
    }
    plan_path = work / "plan.yaml"
    plan_path.write_text(yaml.safe_dump(plan))
    return repo, plan_path


async def measure_app(work: Path, agents: int, lines: int) -> dict[str, float]:
    from textual import events

    from tui_orch.engine.events import AgentStarted
    from tui_orch.engine.orchestrator import RunOptions
    from tui_orch.launch_spec import Launch
    from tui_orch.ui.app import OrchApp

    repo, plan = make_repo(work, agents, lines)
    # Worktrees in the throwaway folder, not the user's data dir (runs are not cleaned).
    options = RunOptions(poll_interval=0.05, worktree_root=work / "worktrees")
    app = OrchApp(Launch(plan=plan, repo=repo, options=options))
    bridge = app.bridge
    started: list[float] = []

    class RecordingBridge:
        """The app's bridge, noting when the engine reports the first agent started."""

        def __call__(self, event: object) -> None:
            if isinstance(event, AgentStarted) and not started:
                started.append(time.perf_counter())
            bridge(event)  # type: ignore[arg-type]

        def drain(self) -> object:
            return bridge.drain()

    app.bridge = RecordingBridge()  # type: ignore[assignment]
    meter = StallMeter()
    async with app.run_test(size=(200, 60)) as pilot:
        while type(app.screen).__name__ != "PlanScreen" or app.screen.report is None:
            await pilot.pause(0.01)
        meter.start()
        start = time.perf_counter()
        # The key as a terminal would send it: Pilot.press would wait for the app to be
        # idle, which it is not while agents stream, and the wait would count as ours.
        app.post_message(events.Key("a", "a"))
        while True:
            await asyncio.sleep(0.01)
            panes = list(app.dashboard.panes.values())
            if len(panes) == agents and all(p.line_count >= lines and p.visible for p in panes):
                break
            if time.perf_counter() - start > TIMEOUT:
                counts = {pane.task_id: pane.line_count for pane in panes}
                logs = sorted((repo / ".git" / "tui-orch" / "runs").glob("*/logs/*.log"))
                on_disk = {log.stem: len(log.read_bytes().splitlines()) for log in logs}
                raise SystemExit(
                    f"not every line reached the screen: on screen {counts}, on disk {on_disk}, "
                    f"states {app.dashboard.task_states}, screen {app.screen!r}"
                )
        total = time.perf_counter() - start
        stream = time.perf_counter() - started[0]
        meter.stop()
        logs = sorted((repo / ".git" / "tui-orch" / "runs").glob("*/logs/*.log"))
        on_disk = sum(len(log.read_bytes().splitlines()) for log in logs)
        assert on_disk >= agents * lines, on_disk
        while any(pane.state == "running" for pane in panes):  # not timed: only a check
            await asyncio.sleep(0.05)
        failed = [pane.task_id for pane in panes if pane.state != "succeeded"]
        assert not failed, f"agents failed, the numbers would mean nothing: {failed}"
        await pilot.press("q")
    return {
        "total": total,
        "stream": stream,
        "stall": meter.worst(),
        "stream_stall": meter.worst(since=started[0]),
        "rss": peak_rss_mb(),
    }


def child(mode: str, agents: int, lines: int) -> None:
    with tempfile.TemporaryDirectory(prefix="tui-orch-bench-") as work:
        measure = {
            "baseline": measure_baseline,
            "worktrees": measure_baseline_with_worktrees,
            "app": measure_app,
        }[mode]
        print(json.dumps(asyncio.run(measure(Path(work), agents, lines))))


def run_child(mode: str, agents: int, lines: int) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--agents", str(agents), "--lines", str(lines)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"the {mode} measurement failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=16)
    parser.add_argument("--lines", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", choices=["baseline", "worktrees", "app"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.agents, args.lines)
        return
    results: dict[str, list[dict[str, float]]] = {
        "baseline": [],
        "worktrees": [],
        "app": [],
        "app-quarter": [],
    }
    for _ in range(args.rounds):
        results["baseline"].append(run_child("baseline", args.agents, args.lines))
        results["worktrees"].append(run_child("worktrees", args.agents, args.lines))
        results["app"].append(run_child("app", args.agents, args.lines))
        results["app-quarter"].append(run_child("app", args.agents, max(1, args.lines // 4)))

    def median(mode: str, key: str) -> float:
        return statistics.median(r[key] for r in results[mode])

    print(f"{args.agents} agents x {args.lines} lines, median of {args.rounds} rounds")
    print(
        f"{'':28}{'total s':>9}{'stream s':>10}{'worst stall ms':>16}"
        f"{'streaming ms':>14}{'peak RSS MB':>13}"
    )
    for mode, label in (
        ("baseline", "bare asyncio reader"),
        ("worktrees", "bare reader + worktrees"),
        ("app", "tui-orch app"),
        ("app-quarter", f"tui-orch app, {args.lines // 4} lines"),
    ):
        print(
            f"{label:28}{median(mode, 'total'):9.2f}{median(mode, 'stream'):10.2f}"
            f"{median(mode, 'stall') * 1000:16.1f}{median(mode, 'stream_stall') * 1000:14.1f}"
            f"{median(mode, 'rss'):13.1f}"
        )
    stream_ratio = median("app", "stream") / median("baseline", "total")
    total_ratio = median("app", "total") / median("baseline", "total")
    print(
        f"app / baseline: streaming {stream_ratio:.2f}x, total (with worktrees) {total_ratio:.2f}x"
    )
    floor_ratio = median("app", "total") / median("worktrees", "total")
    print(f"app / bare reader with worktrees: total {floor_ratio:.2f}x")
    print(
        f"memory with 4x the lines: {median('app', 'rss') - median('app-quarter', 'rss'):+.1f} MB"
    )


if __name__ == "__main__":
    main()
