"""Streaming benchmark: the real cockpit, headless, measured against the targets of issue 12.

Each measurement runs in a fresh process, ``--rounds`` times (5 by default); the table
shows medians. In one invocation:

(a) flood: every agent prints ``--lines`` lines as fast as it can. Against a bare asyncio
    reader that copies their stdout to files (the least any tool must do) and the same
    reader with a git worktree per agent (the least a tool that gives agents worktrees
    must do). Targets: the app's worst event-loop stall over the whole run no worse than
    the bare reader's own; its total time (from the approving key until every line is
    counted on screen) within 2.5x the reader with worktrees. The app runs a second time
    with a quarter of the lines, to show memory does not grow with the line count.
(b) realistic: every agent prints 50 lines a second for 20 s while keys are pressed.
    Targets: worst stall under 33 ms; every key answered on screen within 100 ms (see
    `KeyLatency` for what "answered" means). The bare reader runs the same agents too:
    starting 16 processes at once stalls it as well, so the stall is also shown once
    every agent is up.
(c) idle: the agents run and print nothing for 20 s. Target: the app's process (engine
    and UI, agents excluded: they are other processes) under 2% of one core.
(d) the peer baseline, if tmux is installed: the same agents, flood and realistic, in as
    many windows of a private tmux server; the time until tmux has absorbed every line
    and the server's CPU time, printed beside ours.

Stalls are the lateness of a 10 ms ticker on the app's event loop. Every run exits 0:
it is a benchmark; the table marks each target PASS or FAIL.

    .venv/bin/python benchmarks/stream_ui.py [--rounds 5] [--agents 16] [--lines 20000]
    .venv/bin/python benchmarks/stream_ui.py --quick     # a smoke run: 1 round, 4 agents
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

if TYPE_CHECKING:
    from textual.app import App
    from textual.pilot import Pilot

    from tui_orch.ui.app import OrchApp

# argv: LINES RATE [HOLD]. RATE lines a second (0: as fast as it can); then, given HOLD,
# it waits until that file exists (or its folder is gone: the benchmark ended).
AGENT = """\
import os, sys, time
task = os.environ.get("TUI_ORCH_TASK_ID", "agent")
lines, rate = int(sys.argv[1]), float(sys.argv[2])
hold = sys.argv[3] if len(sys.argv) > 3 else None
write, start = sys.stdout.write, time.monotonic()
for number in range(lines):
    if rate:
        delay = start + number / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    write(f"{task}: line {number} of {lines}: the quick brown fox jumps over the lazy dog\\n")
    if rate:
        sys.stdout.flush()
sys.stdout.flush()
while hold and not os.path.exists(hold) and os.path.isdir(os.path.dirname(hold)):
    time.sleep(0.1)
for path in os.environ.get("TUI_ORCH_FILES", "").splitlines():
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    open(path, "w").write(task + "\\n")
"""

TIMEOUT = 120.0  # seconds to wait for lines: a hang is reported, not waited out
SIZE = (200, 60)  # the terminal, for the app and for tmux
STALL_TARGET = 0.033
KEY_TARGET = 0.100
IDLE_CPU_TARGET = 2.0  # percent of one core
FLOOD_TOTAL_TARGET = 2.5  # times the bare reader with worktrees
# Pressed in this order, a cycle at a time, while agents stream: each changes the screen.
KEY_CYCLE = ("question_mark", "escape", "z", "z", "tab", "l", "escape", "d", "escape")
KEY_PAUSE = 0.4  # seconds between presses: a person's pace, and time for a screen to load
KEY_CHARACTERS = {"question_mark": "?", "escape": "\x1b", "tab": "\t", "enter": "\r"}


@dataclass(frozen=True)
class Load:
    """What the agents do: ``lines`` each at ``rate`` a second (0: as fast as they can);
    with ``hold`` they then wait until the benchmark lets them finish."""

    agents: int
    lines: int
    rate: float = 0.0
    hold: bool = False

    def command(self, work: Path) -> list[str]:
        hold = [str(work / "release")] if self.hold else []
        return [sys.executable, str(work / "agent.py"), str(self.lines), f"{self.rate:g}", *hold]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class StallMeter:
    """A 10 ms ticker on the event loop; the largest lateness is the longest stall.

    Each gap also records the CPU time the loop's thread used meanwhile: a stall the
    thread spent computing is ours; one it spent waiting was the machine's (no free
    core for it among the agents) or another thread's (the GIL).
    """

    TICK = 0.01

    def __init__(self) -> None:
        self.gaps: list[tuple[float, float, float]] = []  # (when the tick came, how late, busy)
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            before, busy = time.perf_counter(), time.thread_time()
            await asyncio.sleep(self.TICK)
            now = time.perf_counter()
            self.gaps.append((now, now - before - self.TICK, time.thread_time() - busy))

    def worst(self, since: float = 0.0) -> float:
        """The longest stall that ended after ``since`` (a perf_counter time)."""
        return self.worst_gap(since)[0]

    def worst_gap(self, since: float = 0.0) -> tuple[float, float]:
        """The longest stall that ended after ``since``, and the loop's CPU time in it."""
        return max(
            ((late, busy) for when, late, busy in self.gaps if when >= since), default=(0, 0)
        )

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._tick())

    def stop(self) -> None:
        if self._task:
            self._task.cancel()


def send_key(app: App[Any], key: str) -> None:
    """The key as a terminal's driver sends it. Pilot.press would then wait until the
    process is idle, which it never is while agents stream."""
    from textual import events

    assert app._driver is not None
    app._driver.send_message(events.Key(key, KEY_CHARACTERS.get(key, key)))


@dataclass(frozen=True)
class Look:
    """What a key can visibly change: the screens, the focus, the zoomed (or maximised)
    pane, toasts."""

    screens: tuple[int, ...]
    focused: int
    maximized: int
    toasts: frozenset[int]

    def changed_to(self, other: Look) -> bool:
        return (
            (self.screens, self.focused, self.maximized)
            != (other.screens, other.focused, other.maximized)
            or not other.toasts <= self.toasts  # a new toast (one expiring is no answer)
        )


class KeyLatency:
    """Key-to-screen latency: from a key sent as a terminal sends it to the first frame
    painted that shows what it did.

    Textual composes every frame, headless too, and hands it to ``App._display``; this
    wraps that method. A key is answered by the first frame painted after its effect is
    in place: a frame of another screen (a screen pushed or popped), or one painted after
    focus moved, a widget was maximised or restored, or a new toast was laid out. The
    state is read as the frame is handed over, after Textual restyled and laid out for it,
    so the frame shows it. A frame of a pushed screen counts even if parts of it (a log
    read in a worker) fill in later: the key was answered, the screen is there.
    """

    def __init__(self, app: App[Any]) -> None:
        self.app = app
        self._display = app._display
        app._display = self._painted  # type: ignore[method-assign]
        self._before: Look | None = None
        self._answer: asyncio.Future[tuple[float, float]] | None = None
        self.busy = 0.0
        self.windows: list[tuple[float, float]] = []  # (sent, answered) of every press

    def look(self) -> Look:
        from textual.widgets._toast import Toast

        screen = self.app.screen
        toasts = frozenset(id(w) for w in screen._compositor.widgets if isinstance(w, Toast))
        return Look(
            tuple(id(s) for s in self.app.screen_stack),
            id(screen.focused),
            id(getattr(screen, "zoomed", None) or screen.maximized),
            toasts,
        )

    def _painted(self, screen: Any, renderable: Any) -> None:
        self._display(screen, renderable)
        answer, before = self._answer, self._before
        if answer is None or answer.done() or before is None or renderable is None:
            return
        if screen is self.app.screen and before.changed_to(self.look()):
            answer.set_result((time.perf_counter(), time.thread_time()))

    async def press(self, key: str, timeout: float = 5.0) -> float:
        """Seconds from sending ``key`` to the frame that answered it (inf: none did).

        ``busy`` is then the CPU time the loop's thread used meanwhile (its work for the
        key, and whatever else ran on the loop); the rest of the wait was for a core.
        """
        self._before = self.look()
        self._answer = asyncio.get_running_loop().create_future()
        start, busy = time.perf_counter(), time.thread_time()
        send_key(self.app, key)
        try:
            answered, cpu = await asyncio.wait_for(self._answer, timeout)
            self.busy = cpu - busy
            self.windows.append((start, answered))
            return answered - start
        except TimeoutError:
            self.busy = float("inf")
            return float("inf")
        finally:
            self._answer = None


# -- the bare reader ------------------------------------------------------------------


async def read_agent(work: Path, index: int, load: Load, cwd: Path | None = None) -> None:
    """Run agent t<index> and copy its stdout to t<index>.log, as a bare reader does."""
    command = load.command(work)
    process = await asyncio.create_subprocess_exec(
        *command,
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
    work: Path, load: Load, start: float, cpu: float, meter: StallMeter
) -> dict[str, float]:
    """A bare reader's measurement, once every line was checked to be on disk."""
    total = time.perf_counter() - start
    cpu = time.process_time() - cpu
    meter.stop()
    written = sum(len((work / f"t{i}.log").read_bytes().splitlines()) for i in range(load.agents))
    assert written == load.agents * load.lines, written
    stall, busy = meter.worst_gap()
    return {
        "total": total,
        "stall": stall,
        "stall_busy": busy,
        "stream_stall": stall,
        "cpu": cpu,
        "rss": peak_rss_mb(),
    }


async def measure_baseline(work: Path, load: Load) -> dict[str, float]:
    (work / "agent.py").write_text(AGENT)
    meter = StallMeter()
    meter.start()
    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(read_agent(work, index, load) for index in range(load.agents)))
    return baseline_result(work, load, start, cpu, meter)


async def measure_baseline_with_worktrees(work: Path, load: Load) -> dict[str, float]:
    """The bare reader, each agent in a worktree of its own made first, as git requires
    them made: one at a time (two `git worktree add` at once fail). What any tool that
    gives agents worktrees must do at the least; tui-orch also supervises, records and
    draws."""
    repo, _plan = make_repo(work, load)
    meter = StallMeter()
    meter.start()
    start, cpu = time.perf_counter(), time.process_time()
    readers = []
    for index in range(load.agents):
        worktree = work / f"w{index}"
        process = await asyncio.create_subprocess_exec(
            "git", "worktree", "add", "--quiet", "-b", f"t{index}", str(worktree), cwd=repo
        )  # fmt: skip
        assert await process.wait() == 0
        readers.append(asyncio.create_task(read_agent(work, index, load, cwd=worktree)))
    await asyncio.gather(*readers)
    return baseline_result(work, load, start, cpu, meter)


# -- the app ------------------------------------------------------------------------------


def make_repo(work: Path, load: Load) -> tuple[Path, Path]:
    """A repository with one commit, and a plan of one task per agent, all in one batch."""
    import yaml

    repo = work / "repo"
    repo.mkdir()
    run = lambda *args: subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)  # noqa: E731
    run("init", "-q", "-b", "main")
    (repo / "README.md").write_text("bench\n")
    run("add", ".")
    run("-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "init")
    (work / "agent.py").write_text(AGENT)
    plan = {
        "base": "main",
        "default_agent": "bench",
        "max_parallel": load.agents,
        "agents": {"bench": {"command": load.command(work)}},
        "tasks": [
            {"id": f"t{i}", "prompt": "print", "files": [f"out/t{i}.txt"]}
            for i in range(load.agents)
        ],
    }
    plan_path = work / "plan.yaml"
    plan_path.write_text(yaml.safe_dump(plan))
    return repo, plan_path


@dataclass
class AppRun:
    """The app at its plan screen, and when the engine reported each agent started."""

    app: OrchApp
    pilot: Pilot[Any]
    work: Path
    repo: Path
    load: Load
    started: list[float] = field(default_factory=list)

    @property
    def panes(self) -> list[Any]:
        return list(self.app.dashboard.panes.values())

    def approve(self) -> float:
        """Press `a` on the plan screen; returns when."""
        start = time.perf_counter()
        send_key(self.app, "a")
        return start

    def release(self) -> None:
        (self.work / "release").touch()


def record_starts(app: OrchApp, started: list[float]) -> None:
    """Note the time of each AgentStarted the engine sends the app's bridge."""
    from tui_orch.engine.run.events import AgentStarted

    bridge = app.bridge

    class RecordingBridge:
        def __call__(self, event: object) -> None:
            if isinstance(event, AgentStarted):
                started.append(time.perf_counter())
            bridge(event)  # type: ignore[arg-type]

        def drain(self) -> object:
            return bridge.drain()

    app.bridge = RecordingBridge()  # type: ignore[assignment]


async def poll(condition: Callable[[], bool], what: Callable[[], str]) -> None:
    """Wait (in 10 ms steps) until condition holds; after TIMEOUT, stop with ``what()``."""
    deadline = time.perf_counter() + TIMEOUT
    while not condition():
        if time.perf_counter() > deadline:
            raise SystemExit(f"timed out: {what()}")
        await asyncio.sleep(0.01)


def describe(run: AppRun) -> str:
    """Lines on screen and on disk, for a measurement that never ended."""
    counts = {pane.task_id: pane.line_count for pane in run.panes}
    logs = sorted((run.repo / ".git" / "tui-orch" / "runs").glob("*/logs/*.log"))
    on_disk = {log.stem: len(log.read_bytes().splitlines()) for log in logs}
    dashboard = run.app.dashboard
    return f"on screen {counts}, on disk {on_disk}, states {dashboard.task_states}"


async def every_pane(run: AppRun, lines: int) -> None:
    """Wait until every agent has a visible pane showing at least ``lines`` lines."""
    agents = run.load.agents
    await poll(
        lambda: (
            len(run.panes) == agents
            and all(pane.line_count >= lines and pane.visible for pane in run.panes)
        ),
        lambda: describe(run),
    )


async def every_agent_started(run: AppRun) -> None:
    await poll(
        lambda: (
            len(run.started) == run.load.agents
            and len(run.panes) == run.load.agents
            and all(pane.visible for pane in run.panes)
        ),
        lambda: describe(run),
    )


@asynccontextmanager
async def running_app(work: Path, load: Load, poll_interval: float = 0.1) -> AsyncIterator[AppRun]:
    """The real OrchApp over the real engine, headless, at its checked plan screen.

    Afterwards the agents are let finish; each must have succeeded (else the numbers
    would mean nothing), and the app quits.
    """
    from tui_orch.engine.run.orchestrator import RunOptions
    from tui_orch.launch_spec import Launch
    from tui_orch.ui.app import OrchApp

    repo, plan = make_repo(work, load)
    # Worktrees in the throwaway folder, not the user's data dir (runs are not cleaned).
    options = RunOptions(poll_interval=poll_interval, worktree_root=work / "worktrees")
    app = OrchApp(Launch(plan=plan, repo=repo, options=options))
    async with app.run_test(size=SIZE) as pilot:
        run = AppRun(app, pilot, work, repo, load)
        record_starts(app, run.started)
        screen = lambda: app.screen  # noqa: E731
        await poll(
            lambda: type(screen()).__name__ == "PlanScreen" and screen().report is not None,
            lambda: f"no checked plan: {screen()!r}",
        )
        yield run
        run.release()
        await poll(lambda: all(pane.state != "running" for pane in run.panes), lambda: "")
        failed = [pane.task_id for pane in run.panes if pane.state != "succeeded"]
        assert not failed, f"agents failed, the numbers would mean nothing: {failed}"
        await pilot.press("q")


def stalls(meter: StallMeter, started: float) -> dict[str, float]:
    """The worst stall over the whole run and since the first agent started; for the
    first, how much of it the loop's thread spent computing."""
    stall, busy = meter.worst_gap()
    return {"stall": stall, "stall_busy": busy, "stream_stall": meter.worst(since=started)}


async def measure_flood(work: Path, load: Load) -> dict[str, float]:
    """(a): from the approving key until every line is counted on screen."""
    meter = StallMeter()
    async with running_app(work, load, poll_interval=0.05) as run:
        meter.start()
        cpu = time.process_time()
        start = run.approve()
        await every_pane(run, load.lines)
        total = time.perf_counter() - start
        cpu = time.process_time() - cpu
        meter.stop()
        logs = sorted((run.repo / ".git" / "tui-orch" / "runs").glob("*/logs/*.log"))
        on_disk = sum(len(log.read_bytes().splitlines()) for log in logs)
        assert on_disk >= load.agents * load.lines, on_disk
    return {
        "total": total,
        **stalls(meter, run.started[0]),
        "cpu": cpu,
        "rss": peak_rss_mb(),
    }


async def press_keys(
    run: AppRun, cycles: int
) -> tuple[list[tuple[str, float, float]], list[tuple[float, float]]]:
    """Press KEY_CYCLE ``cycles`` times at a person's pace: each key, its latency, and
    the loop's CPU time meanwhile; and when each was being answered."""
    latency = KeyLatency(run.app)
    pressed = []
    for _ in range(cycles):
        for key in KEY_CYCLE:
            seconds = await latency.press(key)
            pressed.append((key, seconds, latency.busy))
            await asyncio.sleep(KEY_PAUSE)
    return pressed, latency.windows


def stall_outside(meter: StallMeter, since: float, windows: list[tuple[float, float]]) -> float:
    """The worst stall since ``since`` that overlaps no key being answered: a key's own
    work (a screen composed and drawn) is judged by its latency, not as a stall."""
    worst = 0.0
    for when, late, _busy in meter.gaps:
        began = when - late - StallMeter.TICK
        if when >= since and not any(began < end and when > sent for sent, end in windows):
            worst = max(worst, late)
    return worst


async def measure_realistic(work: Path, load: Load, cycles: int) -> dict[str, Any]:
    """(b): stalls and key latency while every agent prints at ``load.rate``."""
    meter = StallMeter()
    async with running_app(work, load) as run:
        meter.start()
        start = run.approve()
        await every_pane(run, 1)
        await asyncio.sleep(0.5)  # the switch to the dashboard is behind us
        cpu, since = time.process_time(), time.perf_counter()
        keys, windows = await press_keys(run, cycles)
        await every_pane(run, load.lines)
        end = time.perf_counter()
        cpu = time.process_time() - cpu
        meter.stop()
    return {
        "total": end - start,
        **stalls(meter, run.started[0]),
        "free_stall": stall_outside(meter, run.started[0], windows),
        # Once every agent is up: the start of 16 processes stalls even a bare reader.
        "steady_stall": stall_outside(meter, since, windows),
        "keys": keys,
        "cpu_percent": 100 * cpu / (end - since),
    }


async def measure_idle(work: Path, load: Load, seconds: float) -> dict[str, float]:
    """(c): the app's CPU (all its threads) while its agents run and print nothing."""
    async with running_app(work, load) as run:
        run.approve()
        await every_agent_started(run)
        await asyncio.sleep(2.0)  # starting is done: worktrees, panes, the first ticks
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        assert all(pane.state == "running" for pane in run.panes), describe(run)
    return {"cpu_percent": 100 * cpu / wall}


# -- tmux ---------------------------------------------------------------------------------


class TmuxServer:
    """A private tmux server (its own socket, no config), killed when done."""

    def __init__(self) -> None:
        self.socket = f"tui-orch-bench-{os.getpid()}"
        self.socket_path: Path | None = None
        self.pid = 0

    def __call__(self, *args: str) -> str:
        command = ["tmux", "-L", self.socket, "-f", "/dev/null", *args]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout

    def start(self) -> None:
        width, height = SIZE
        self("new-session", "-d", "-s", "bench", "-x", str(width), "-y", str(height), "cat")
        self("set-option", "-g", "remain-on-exit", "on")  # finished panes keep their screen
        self.pid = int(self("display-message", "-p", "#{pid}"))
        self.socket_path = Path(self("display-message", "-p", "#{socket_path}").strip())

    def cpu_seconds(self) -> float:
        """The server's own CPU time (user + system), not its children's."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def kill(self) -> None:
        with suppress(subprocess.CalledProcessError):
            self("kill-server")
        if self.socket_path is not None:
            self.socket_path.unlink(missing_ok=True)  # tmux leaves it behind


def chained(commands: list[list[str]]) -> list[str]:
    """Several tmux commands for one client call (one connection, not one per command)."""
    joined: list[str] = []
    for command in commands:
        joined += [*([";"] if joined else []), *command]
    return joined


def tmux_windows(tmux: TmuxServer, work: Path, load: Load) -> Callable[[], bool]:
    """Start an agent in each of ``load.agents`` new windows, with one client call.

    Returns a check, one client call too: does every window show its agent's last line?
    A window's last line on its screen means tmux has parsed every byte before it.
    """
    windows = range(load.agents)
    command = shlex.join(load.command(work))
    env = [f"TUI_ORCH_TASK_ID=t{i}" for i in windows]
    tmux(
        *chained(
            [["new-window", "-d", "-t", f"bench:{i + 1}", "-e", env[i], command] for i in windows]
        )
    )
    captures = chained([["capture-pane", "-p", "-t", f"bench:{i + 1}"] for i in windows])
    last = [f"t{i}: line {load.lines - 1} of {load.lines}:" for i in windows]

    def every_last_line_shown() -> bool:
        screens = tmux(*captures)
        return all(line in screens for line in last)

    return every_last_line_shown


async def measure_tmux(work: Path, load: Load) -> dict[str, float]:
    """(d): agents in the windows of a private tmux server, until tmux shows each one's
    last line (polled every 50 ms); the server's CPU time meanwhile."""
    (work / "agent.py").write_text(AGENT)
    tmux = TmuxServer()
    tmux.start()
    try:
        cpu, start = tmux.cpu_seconds(), time.perf_counter()
        every_last_line_shown = tmux_windows(tmux, work, load)
        while not every_last_line_shown():
            if time.perf_counter() - start > TIMEOUT:
                raise SystemExit(f"tmux never showed every last line: {tmux('list-windows')}")
            await asyncio.sleep(0.05)
        total, cpu = time.perf_counter() - start, tmux.cpu_seconds() - cpu
    finally:
        tmux.kill()
    return {"total": total, "cpu": cpu, "cpu_percent": 100 * cpu / total}


# -- running and reporting ----------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """One invocation's sizes."""

    agents: int = 16
    lines: int = 20000
    rate: float = 50.0
    seconds: float = 20.0
    cycles: int = 3
    rounds: int = 5

    def load(self, mode: str) -> Load:
        streamed = round(self.rate * self.seconds)
        return {
            "baseline": Load(self.agents, self.lines),
            "worktrees": Load(self.agents, self.lines),
            "flood": Load(self.agents, self.lines),
            "flood-quarter": Load(self.agents, max(1, self.lines // 4)),
            "realistic": Load(self.agents, streamed, self.rate),
            "realistic-baseline": Load(self.agents, streamed, self.rate),
            "idle": Load(self.agents, 0, hold=True),
            # Held: tmux drops what a pane's process wrote just before it exited.
            "tmux-flood": Load(self.agents, self.lines, hold=True),
            "tmux-realistic": Load(self.agents, streamed, self.rate, hold=True),
        }[mode]


MODES = (
    "baseline",
    "worktrees",
    "flood",
    "flood-quarter",
    "realistic",
    "realistic-baseline",
    "idle",
    "tmux-flood",
    "tmux-realistic",
)


def child(mode: str, settings: Settings) -> None:
    """Run one measurement in this (fresh) process; print its result as JSON."""
    load = settings.load(mode)
    measure: Callable[[Path], Any] = {
        "baseline": lambda work: measure_baseline(work, load),
        "worktrees": lambda work: measure_baseline_with_worktrees(work, load),
        "flood": lambda work: measure_flood(work, load),
        "flood-quarter": lambda work: measure_flood(work, load),
        "realistic": lambda work: measure_realistic(work, load, settings.cycles),
        "realistic-baseline": lambda work: measure_baseline(work, load),
        "idle": lambda work: measure_idle(work, load, settings.seconds),
        "tmux-flood": lambda work: measure_tmux(work, load),
        "tmux-realistic": lambda work: measure_tmux(work, load),
    }[mode]
    with tempfile.TemporaryDirectory(prefix="tui-orch-bench-") as work:
        print(json.dumps(asyncio.run(measure(Path(work)))))


def run_child(mode: str, settings: Settings) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--settings", json.dumps(asdict(settings))],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"the {mode} measurement failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


class Results:
    """Every round's result per mode; medians across rounds."""

    def __init__(self) -> None:
        self.rounds: dict[str, list[dict[str, Any]]] = {}

    def add(self, mode: str, result: dict[str, Any]) -> None:
        self.rounds.setdefault(mode, []).append(result)

    def has(self, mode: str) -> bool:
        return mode in self.rounds

    def median(self, mode: str, key: str | Callable[[dict[str, Any]], float]) -> float:
        pick = key if callable(key) else lambda result: result[key]
        return statistics.median(pick(result) for result in self.rounds[mode])

    def keys(self) -> dict[str, list[tuple[float, float]]]:
        """Every press of each key over every round: (latency, the loop's CPU time)."""
        presses: dict[str, list[tuple[float, float]]] = {}
        for result in self.rounds["realistic"]:
            for key, seconds, busy in result["keys"]:
                presses.setdefault(key, []).append((seconds, busy))
        return presses


def worst_key(result: dict[str, Any]) -> float:
    return max(seconds for _key, seconds, _busy in result["keys"])


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def print_flood(results: Results, settings: Settings) -> None:
    print(f"\n(a) flood: {settings.agents} agents x {settings.lines} lines, as fast as they can")
    print(
        f"{'':30}{'total s':>9}{'worst stall ms':>16}{'loop busy':>11}{'streaming ms':>14}"
        f"{'CPU s':>8}{'RSS MB':>8}"
    )
    rows = [
        ("baseline", "bare asyncio reader"),
        ("worktrees", "bare reader + worktrees"),
        ("flood", "tui-orch app"),
        ("flood-quarter", f"tui-orch app, {settings.lines // 4} lines"),
    ]
    for mode, label in rows:
        print(
            f"{label:30}{results.median(mode, 'total'):9.2f}"
            f"{results.median(mode, 'stall') * 1000:16.1f}"
            f"{results.median(mode, 'stall_busy') * 1000:11.1f}"
            f"{results.median(mode, 'stream_stall') * 1000:14.1f}"
            f"{results.median(mode, 'cpu'):8.2f}{results.median(mode, 'rss'):8.1f}"
        )
    if results.has("tmux-flood"):
        print(
            f"{'tmux (server CPU)':30}{results.median('tmux-flood', 'total'):9.2f}"
            f"{'':41}{results.median('tmux-flood', 'cpu'):8.2f}"
        )
    grown = results.median("flood", "rss") - results.median("flood-quarter", "rss")
    print(f"memory with 4x the lines: {grown:+.1f} MB")


def print_realistic(results: Results, settings: Settings) -> None:
    print(
        f"\n(b) realistic: {settings.agents} agents x {settings.rate:g} lines/s "
        f"for {settings.seconds:g} s, keys pressed meanwhile"
    )
    total = results.median("realistic", "total")
    stall = results.median("realistic", "stall") * 1000
    busy = results.median("realistic", "stall_busy") * 1000
    streaming = results.median("realistic", "stream_stall") * 1000
    cpu = results.median("realistic", "cpu_percent")
    print(f"tui-orch app: every line on screen after {total:.2f} s, app CPU {cpu:.1f}% of a core")
    free = results.median("realistic", "free_stall") * 1000
    steady = results.median("realistic", "steady_stall") * 1000
    bare = results.median("realistic-baseline", "stall") * 1000
    print(
        f"  worst stall {stall:.1f} ms over the whole run (the loop busy {busy:.1f} ms of it; "
        f"a bare reader of the same agents: {bare:.1f} ms), {streaming:.1f} ms while "
        f"streaming, {free:.1f} ms while streaming and no key was being answered, "
        f"{steady:.1f} ms of that once every agent was up"
    )
    if results.has("tmux-realistic"):
        print(
            f"tmux: every line absorbed after {results.median('tmux-realistic', 'total'):.2f} s, "
            f"server CPU {results.median('tmux-realistic', 'cpu_percent'):.1f}% of a core"
        )
    print(f"  {'key':14}{'presses':>8}{'median ms':>11}{'worst ms':>10}{'loop busy ms':>14}")
    for key, presses in results.keys().items():
        latencies = [seconds for seconds, _busy in presses]
        busy = statistics.median(busy for _seconds, busy in presses)
        print(
            f"  {key:14}{len(latencies):8}{statistics.median(latencies) * 1000:11.1f}"
            f"{max(latencies) * 1000:10.1f}{busy * 1000:14.1f}"
        )


def print_targets(results: Results) -> None:
    """Each target of issue 12 against the medians: PASS or FAIL."""
    print("\ntargets (medians of the rounds)")
    app_stall = results.median("flood", "stall")
    bare_stall = results.median("baseline", "stall")
    ratio = results.median("flood", "total") / results.median("worktrees", "total")
    rows = [
        (
            "(a) flood: worst stall <= the bare reader's",
            f"{app_stall * 1000:.1f} ms vs {bare_stall * 1000:.1f} ms",
            app_stall <= bare_stall,
        ),
        (
            f"(a) flood: total <= {FLOOD_TOTAL_TARGET}x reader + worktrees",
            f"{ratio:.2f}x",
            ratio <= FLOOD_TOTAL_TARGET,
        ),
    ]
    for key, label in (
        ("steady_stall", "all up, no key"),
        ("free_stall", "streaming, no key"),
        ("stream_stall", "while streaming"),
        ("stall", "whole run"),
    ):
        stall = results.median("realistic", key)
        rows.append(
            (
                f"(b) realistic: worst stall {label} < {STALL_TARGET * 1000:.0f} ms",
                f"{stall * 1000:.1f} ms",
                stall < STALL_TARGET,
            )
        )
    worst = results.median("realistic", worst_key)
    rows.append(
        (
            f"(b) realistic: slowest key < {KEY_TARGET * 1000:.0f} ms",
            f"{worst * 1000:.1f} ms",
            worst < KEY_TARGET,
        )
    )
    idle = results.median("idle", "cpu_percent")
    rows.append(
        (
            f"(c) idle: app CPU < {IDLE_CPU_TARGET:g}% of a core",
            f"{idle:.2f}%",
            idle < IDLE_CPU_TARGET,
        )
    )
    for label, value, ok in rows:
        print(f"  {label:48}{value:>22}  {verdict(ok)}")
    if results.has("tmux-flood"):
        print_peer_ratios(results)


def print_peer_ratios(results: Results) -> None:
    """(d) has no target: how we compare with tmux, as ratios."""
    flood = results.median("flood", "total") / results.median("tmux-flood", "total")
    cpu = results.median("flood", "cpu") / results.median("tmux-flood", "cpu")
    realistic = results.median("realistic", "cpu_percent") / results.median(
        "tmux-realistic", "cpu_percent"
    )
    print(
        f"  (d) app / tmux: flood time {flood:.2f}x, flood CPU {cpu:.2f}x, "
        f"realistic CPU {realistic:.2f}x"
    )


def parse_settings() -> tuple[Settings, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: small and 1 round")
    parser.add_argument("--rounds", type=int, help="rounds (default 5; 1 with --quick)")
    parser.add_argument("--agents", type=int)
    parser.add_argument("--lines", type=int, help="lines per agent in the flood")
    parser.add_argument("--seconds", type=float, help="length of the realistic and idle runs")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--settings", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.settings:
        return Settings(**json.loads(args.settings)), args
    base = (
        Settings(agents=4, lines=2000, seconds=8, cycles=1, rounds=1) if args.quick else Settings()
    )
    chosen = {
        "rounds": args.rounds,
        "agents": args.agents,
        "lines": args.lines,
        "seconds": args.seconds,
    }
    return Settings(**{**asdict(base), **{k: v for k, v in chosen.items() if v}}), args


def main() -> None:
    settings, args = parse_settings()
    if args.child:
        child(args.child, settings)
        return
    modes = [m for m in MODES if shutil.which("tmux") or not m.startswith("tmux")]
    results = Results()
    began = time.perf_counter()
    for number in range(1, settings.rounds + 1):
        for mode in modes:
            results.add(mode, run_child(mode, settings))
        print(
            f"round {number}/{settings.rounds} done, {time.perf_counter() - began:.0f} s",
            flush=True,
        )
    print(f"\nmedians of {settings.rounds} rounds, {os.cpu_count()} cores")
    print_flood(results, settings)
    print_realistic(results, settings)
    print_targets(results)
    if not shutil.which("tmux"):
        print("(d) tmux is not installed: no peer baseline")


if __name__ == "__main__":
    main()
