"""Supervised jobs (agents and validators) seen from the engine: start, watch, stop, re-attach.

The engine never holds a pipe to a job: it starts a detached supervisor, follows the
job's log file, and reads the supervisor's status file. So the engine may die and a
later one picks up where it left off, finding each job running or finished.
"""

from __future__ import annotations

import contextlib
import json
import marshal
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import tui_orch
from tui_orch.engine.agents.supervisor import process_start_time, write_atomic

READ_CHUNK = 64 * 1024
# One tick reads at most this much per job: a flood can neither starve the other jobs
# nor make memory grow with the amount printed (the rest is read on the next tick).
MAX_READ_PER_TICK = 256 * 1024
MAX_LINE_BYTES = 8 * 1024
STARTUP_WAIT = 5.0  # how long a stop waits for a just-started supervisor to be ready


# Where `tui_orch` is importable from: the supervisor runs isolated (-I: no environment
# variables, no user site) and without site-packages (-S), the fastest Python start-up.
PACKAGE_PARENT = str(Path(tui_orch.__file__).resolve().parent.parent)
SUPERVISOR_LAUNCH = (
    f"import sys; sys.path.insert(0, {PACKAGE_PARENT!r}); "
    "from tui_orch.engine.agents.supervisor import main; sys.exit(main())"
)


def write_json_atomic(path: Path, data: object) -> None:
    """JSON that a reader sees whole or not at all. ``json.dumps`` without indentation
    runs in C: a run's state is saved at every step."""
    write_atomic(path, json.dumps(data))


@dataclass
class SupervisorSpec:
    """What a supervisor runs and where it reports; written by the engine as JSON."""

    argv: list[str]
    cwd: str
    env: dict[str, str]
    log_path: str
    status_path: str
    timeout: float | None = None
    grace: float = 5.0
    nice: int = 0  # added to the agent's CPU niceness

    def save(self, path: Path) -> None:
        """In `marshal`, which the supervisor reads without importing anything."""
        write_atomic(path, marshal.dumps(asdict(self)))


@dataclass
class SupervisorStatus:
    """A supervisor's report; ``state`` is 'running' until it becomes 'exited'."""

    state: str
    supervisor_pid: int
    supervisor_start: str = ""
    agent_pid: int | None = None
    started_at: float = 0.0
    ended_at: float | None = None
    exit_code: int | None = None
    signal: int | None = None
    # exited: the agent ended by itself; timeout; stopped: on request; failed-to-start
    reason: str = ""
    message: str = ""
    extra: dict[str, object] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> SupervisorStatus | None:
        try:
            return cls(**json.loads(path.read_text()))
        except (FileNotFoundError, json.JSONDecodeError, TypeError):
            return None


@dataclass(frozen=True)
class JobFiles:
    """Where one job keeps its spec, status, output and the supervisor's own log."""

    directory: Path
    log: Path

    @property
    def spec(self) -> Path:
        return self.directory / "spec.marshal"

    @property
    def status(self) -> Path:
        return self.directory / "status.json"

    @property
    def supervisor_log(self) -> Path:
        return self.directory / "supervisor.log"


@dataclass(frozen=True)
class JobHandle:
    """Enough to find a supervisor again after a restart: pid plus kernel start time."""

    pid: int
    start_time: str


def start_job(
    files: JobFiles,
    argv: list[str],
    cwd: Path,
    env: dict[str, str],
    timeout: float | None,
    grace: float,
    nice: int = 0,
) -> tuple[JobHandle, subprocess.Popen[bytes]]:
    """Start a detached supervisor for argv; return its handle and the Popen to reap it."""
    files.directory.mkdir(parents=True, exist_ok=True)
    files.log.parent.mkdir(parents=True, exist_ok=True)
    files.status.unlink(missing_ok=True)
    SupervisorSpec(
        argv=argv,
        cwd=str(cwd),
        env=env,
        log_path=str(files.log),
        status_path=str(files.status),
        timeout=timeout,
        grace=grace,
        nice=nice,
    ).save(files.spec)
    with open(files.supervisor_log, "ab") as supervisor_log:
        process = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", SUPERVISOR_LAUNCH, str(files.spec)],
            cwd=files.directory,
            stdin=subprocess.DEVNULL,
            stdout=supervisor_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    return JobHandle(process.pid, process_start_time(process.pid)), process


def read_status(files: JobFiles) -> SupervisorStatus | None:
    return SupervisorStatus.load(files.status)


def is_alive(handle: JobHandle) -> bool:
    """True while that very process runs (a reused pid has another start time)."""
    start = process_start_time(handle.pid)
    if not start or start != handle.start_time:
        return False
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{handle.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    return False


def stop_job(handle: JobHandle, files: JobFiles) -> None:
    """Ask the supervisor to stop its job (TERM, then KILL after its grace period).

    If the supervisor itself is gone but its agent is not, kill the agent's group here.
    """
    if is_alive(handle):
        # A supervisor only obeys TERM once it has started its agent (and written its first
        # status); before that a TERM would kill it before it can record anything.
        deadline = time.monotonic() + STARTUP_WAIT
        while read_status(files) is None and is_alive(handle) and time.monotonic() < deadline:
            time.sleep(0.01)
        with contextlib.suppress(ProcessLookupError):
            os.kill(handle.pid, signal.SIGTERM)
        return
    status = read_status(files)
    if status and status.state == "running" and status.agent_pid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(status.agent_pid, signal.SIGKILL)


def wait_until_stopped(handle: JobHandle, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_alive(handle):
            return True
        time.sleep(0.05)
    return not is_alive(handle)


def last_lines(path: Path, count: int = 5, window: int = 8192) -> tuple[str, ...]:
    """The last count non-empty lines of a log (from its last few KB), for a summary."""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, handle.seek(0, 2) - window))
            data = handle.read(window)
    except OSError:
        return ()
    lines = [line.rstrip() for line in data.decode("utf-8", "replace").splitlines()]
    return tuple(line[:500] for line in lines if line.strip())[-count:]


def replay_offset(path: Path, window: int) -> int:
    """Where to start following a log to show its last ``window`` bytes or so again:
    the start of the first whole line in them (the end of the file for a window of 0)."""
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, 2)
            if size <= window:
                return 0
            handle.seek(size - window)
            chunk = handle.read(window)
    except OSError:
        return 0
    newline = chunk.find(b"\n")
    return size if newline < 0 else size - window + newline + 1


class LogTail:
    """Follows a growing log file and hands out whole lines, decoded leniently.

    Bytes that are not UTF-8 become U+FFFD; a line longer than MAX_LINE_BYTES is cut
    for display (the file on disk keeps it whole), so one 1 MB line without a newline
    costs neither memory nor a crash.
    """

    def __init__(self, path: Path, offset: int = 0) -> None:
        self.path = path
        self.offset = offset
        self.size_seen = 0  # the file's size when last read: a quiet file is only stat'd
        self._partial = bytearray()
        self._dropped = 0

    def read_lines(self) -> list[str]:
        """Lines completed since the last call."""
        try:
            self.size_seen = os.stat(self.path).st_size
            if self.size_seen <= self.offset:
                return []
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                data = handle.read(MAX_READ_PER_TICK)
        except FileNotFoundError:
            return []
        if not data:
            return []
        self.offset += len(data)
        return self._split(data)

    def at_end(self) -> bool:
        """True when everything written to the file so far has been read."""
        try:
            return self.offset >= self.path.stat().st_size
        except FileNotFoundError:
            return True

    def flush(self) -> list[str]:
        """Everything left, including a last line without a newline (call at the end)."""
        lines: list[str] = []
        while not self.at_end():
            lines.extend(self.read_lines())
        return lines + self.finish()

    def finish(self) -> list[str]:
        """The last line if it had no newline; call once the file is fully read."""
        if self._partial or self._dropped:
            return [self._take_partial()]
        return []

    def _split(self, data: bytes) -> list[str]:
        """Complete lines in data (the first one continues what was left over).

        The bulk of the lines is split and decoded in C; only the line that was pending
        and lines longer than the limit are handled one by one.
        """
        last = data.rfind(b"\n")
        if last < 0:
            self._keep(data)
            return []
        first_end = data.find(b"\n")
        self._keep(data[:first_end])
        lines = [self._take_partial()]
        if first_end < last:
            # Every line here ends in "\n", so a "\r\n" is a line's own CRLF ending.
            text = data[first_end + 1 : last].decode("utf-8", errors="replace")
            if "\r" in text:
                text = text.replace("\r\n", "\n").removesuffix("\r")
            middle = text.split("\n")
            # A line under a quarter of the limit in characters is under it in bytes.
            if max(map(len, middle)) > MAX_LINE_BYTES // 4:
                middle = [_cut(line, 0) for line in middle]
            lines.extend(middle)
        self._keep(data[last + 1 :])
        return lines

    def _keep(self, chunk: bytes) -> None:
        room = MAX_LINE_BYTES - len(self._partial)
        if room > 0:
            self._partial += chunk[:room]
        self._dropped += max(0, len(chunk) - max(room, 0))

    def _take_partial(self) -> str:
        text = bytes(self._partial).rstrip(b"\r").decode("utf-8", errors="replace")
        text = _cut(text, self._dropped)
        self._partial.clear()
        self._dropped = 0
        return text


def _cut(line: str, dropped: int) -> str:
    """Shorten a line to MAX_LINE_BYTES bytes for display, saying how much more the log holds."""
    if len(line) > MAX_LINE_BYTES // 4:
        encoded = line.encode("utf-8", errors="replace")
        if len(encoded) > MAX_LINE_BYTES:
            dropped += len(encoded) - MAX_LINE_BYTES
            line = encoded[:MAX_LINE_BYTES].decode("utf-8", errors="ignore")
    if dropped:
        line += f" … [{dropped} more bytes; the log file has the whole line]"
    return line
