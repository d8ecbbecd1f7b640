"""Follow running jobs: their new output lines and their end, a few times a second.

All file reads of a tick happen in one worker thread, so a flood of output from many
agents never blocks the event loop that also draws the UI. Output is handed over as
one batch of lines per job per tick, never line by line.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tui_orch.engine.agents.jobs import (
    JobFiles,
    JobHandle,
    LogTail,
    SupervisorStatus,
    is_alive,
    read_status,
)

# While no job prints or ends, the ticks slow down to this: a quiet agent's first new
# line shows within half a second, and sixteen idle agents cost next to no CPU.
QUIET_INTERVAL = 0.5

LinesCallback = Callable[[str, list[str]], None]
EndCallback = Callable[[str, SupervisorStatus], Awaitable[None] | None]


@dataclass
class WatchedJob:
    """A job to follow: where its files are, how to recognise its supervisor."""

    key: str
    files: JobFiles
    handle: JobHandle
    process: subprocess.Popen[bytes] | None = None
    tail: LogTail = field(init=False)
    log_offset: int = 0

    _status: SupervisorStatus | None = field(default=None, init=False)
    _status_key: tuple[int, int, int] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.tail = LogTail(self.files.log, self.log_offset)

    def status(self) -> SupervisorStatus | None:
        """The supervisor's status, read and parsed again only when its file changed: it
        is replaced whole (a new inode each time), so a quiet job costs one stat."""
        try:
            stat = os.stat(self.files.status)
        except FileNotFoundError:
            self._status = self._status_key = None
            return None
        key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if key != self._status_key:
            self._status, self._status_key = read_status(self.files), key
        return self._status

    def supervisor_alive(self) -> bool:
        """Our own child's exit is known without reading /proc (and reaps it)."""
        if self.process is not None:
            return self.process.poll() is None
        return is_alive(self.handle)


@dataclass
class _Tick:
    lines: dict[str, list[str]]
    ended: dict[str, SupervisorStatus]
    backlog: bool = False  # some job has more to read right now


def _lost_status(job: WatchedJob) -> SupervisorStatus:
    return SupervisorStatus(
        state="exited",
        supervisor_pid=job.handle.pid,
        reason="lost",
        message=f"its supervisor ended without a result; see {job.files.supervisor_log}",
    )


def _read_tick(jobs: list[WatchedJob]) -> _Tick:
    """One pass over all jobs (runs in a worker thread)."""
    tick = _Tick({}, {})
    for job in jobs:
        status = job.status()
        ended = status is not None and status.state == "exited"
        if not ended and not job.supervisor_alive():
            status = read_status(job.files)  # it may have finished just now
            ended = True
            if status is None or status.state != "exited":
                status = _lost_status(job)
        # A job that has ended is still read one bounded chunk per tick, so a flood it
        # left behind never has to fit in memory at once.
        lines = job.tail.read_lines()
        # The size was taken after the status was read: for an ended job, it is final.
        caught_up = job.tail.offset >= job.tail.size_seen
        tick.backlog = tick.backlog or not caught_up
        if ended and caught_up:
            lines += job.tail.finish()
        else:
            ended = False
        if lines:
            tick.lines[job.key] = lines
        if ended and status is not None:
            tick.ended[job.key] = status
            if job.process is not None:  # it exits right after its last status: reap it
                with contextlib.suppress(subprocess.TimeoutExpired):
                    job.process.wait(timeout=2)
    return tick


async def watch_jobs(
    jobs: list[WatchedJob],
    on_lines: LinesCallback,
    on_end: EndCallback | None = None,
    interval: float = 0.1,
    arrivals: asyncio.Queue[WatchedJob | None] | None = None,
    keep_open: Callable[[], bool] = lambda: False,
) -> dict[str, SupervisorStatus]:
    """Follow jobs until each has ended; return their final statuses by key.

    Jobs put on ``arrivals`` while this runs are followed too, until a None says no
    more will come: an agent's output shows while the next agents are still starting.
    After that None, jobs still put there (a task restarted while others run) are
    followed as long as any job runs, or while ``keep_open()`` says one is on its way;
    once nothing runs and ``keep_open()`` is False, this returns.

    ``on_end`` is awaited as each job ends (after its last lines were handed over),
    so a finished agent is dealt with at once, not when the slowest one ends. The
    handlers run one at a time, in the order the jobs ended, beside the reading: a
    slow one (committing an agent's work) never holds up the other jobs' output.
    """
    remaining = list(jobs)
    expecting = arrivals is not None
    results: dict[str, SupervisorStatus] = {}
    ends: asyncio.Queue[tuple[str, SupervisorStatus] | None] = asyncio.Queue()

    unhandled = 0  # ends put on the queue whose handler has not finished

    async def handle_ends() -> None:
        nonlocal unhandled
        while (item := await ends.get()) is not None:
            try:
                if on_end is not None:
                    outcome = on_end(*item)
                    if inspect.isawaitable(outcome):
                        await outcome
            finally:
                unhandled -= 1

    def take(job: WatchedJob | None) -> None:
        nonlocal expecting
        if job is None:
            expecting = False
        else:
            remaining.append(job)

    handler = asyncio.create_task(handle_ends())
    quiet = 0  # ticks in a row with no output and no end
    try:
        while True:
            while arrivals is not None and not arrivals.empty():
                take(arrivals.get_nowait())
            if not remaining:
                if arrivals is None:
                    break
                if expecting:
                    take(await arrivals.get())  # nothing to follow yet: wait for one
                    continue
                if unhandled:
                    # An end still being handled may start a job again (a restart, a
                    # rate limit waited out): keep_open is asked once it has been.
                    await asyncio.sleep(interval)
                    if handler.done():
                        handler.result()
                    continue
                if not keep_open():
                    break
                with contextlib.suppress(TimeoutError):  # a restart on its way (or failing)
                    take(await asyncio.wait_for(arrivals.get(), interval))
                continue
            tick = await asyncio.to_thread(_read_tick, remaining)
            for key, lines in tick.lines.items():
                on_lines(key, lines)
            for key, status in tick.ended.items():
                results[key] = status
                unhandled += 1
                ends.put_nowait((key, status))
            if handler.done():
                handler.result()  # a handler failed: raise its error here
            remaining = [job for job in remaining if job.key not in tick.ended]
            quiet = 0 if tick.lines or tick.ended else quiet + 1
            if remaining:
                # With a backlog, read on at once (each tick is bounded); else wait a
                # beat, longer while every job is quiet (an idle run costs almost nothing).
                pause = min(interval * (1 + quiet), max(interval, QUIET_INTERVAL))
                await asyncio.sleep(0.005 if tick.backlog else pause)
        ends.put_nowait(None)
        await handler
    finally:
        handler.cancel()
    return results
