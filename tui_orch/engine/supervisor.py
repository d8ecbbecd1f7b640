"""The per-agent supervisor: a small process that keeps one agent alive and accountable.

Started detached (its own session) by the engine as ``python -m tui_orch.engine.supervisor
SPEC``, it outlives the app the way conmon outlives a container engine:

* runs the agent in its own process group, never through a shell;
* appends everything the agent prints to the task's log file as it arrives, so nothing
  is lost if the app dies;
* enforces the timeout and obeys SIGTERM: SIGTERM to the agent's group, SIGKILL after a
  grace period;
* is a child subreaper, so descendants that escape the group with ``setsid`` come back to
  it and are killed when the agent ends: nothing of the agent survives it;
* records its own pid, the agent's and finally the exit status in a JSON file, atomically.

It imports only the standard library so it starts fast and cannot break with the app.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
READ_CHUNK = 1024 * 1024
PIPE_SIZE = 1024 * 1024  # a big pipe: a chatty agent blocks less often waiting for us
F_SETPIPE_SZ = 1031
POLL_SECONDS = 0.05
# After the agent ends, how long to wait for stragglers that still hold its output pipe.
DRAIN_SECONDS = 2.0


@dataclass
class SupervisorSpec:
    """What to run and where to report; written by the engine as JSON."""

    argv: list[str]
    cwd: str
    env: dict[str, str]
    log_path: str
    status_path: str
    timeout: float | None = None
    grace: float = 5.0

    def save(self, path: Path) -> None:
        write_json_atomic(path, asdict(self))

    @classmethod
    def load(cls, path: Path) -> SupervisorSpec:
        return cls(**json.loads(path.read_text()))


@dataclass
class SupervisorStatus:
    """The supervisor's report; ``state`` is 'running' until it becomes 'exited'."""

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


def write_json_atomic(path: Path, data: object, durable: bool = False) -> None:
    """Write JSON so a reader sees the old file or the new one, never half of one.

    The rename alone survives any process being killed; ``durable`` also flushes to
    the disk (for a machine losing power), which costs milliseconds, so only the few
    writes that matter most (an agent's final status) ask for it.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
        if durable:
            handle.flush()
            os.fsync(handle.fileno())
    os.replace(temporary, path)


def process_start_time(pid: int) -> str:
    """The kernel's start time of a process: with the pid, it names one process for good."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


class Supervisor:
    """Runs one agent to its end; see the module docstring."""

    def __init__(self, spec: SupervisorSpec) -> None:
        self.spec = spec
        self.status_path = Path(spec.status_path)
        self.stop_requested = False
        self.status = SupervisorStatus(
            state="running",
            supervisor_pid=os.getpid(),
            supervisor_start=process_start_time(os.getpid()),
            started_at=time.time(),
        )

    def run(self) -> int:
        _become_subreaper()
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._request_stop)
        log_fd = os.open(self.spec.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        if not Path(self.spec.cwd).is_dir():
            message = (
                f"cannot start {self.spec.argv[0]}: its working directory {self.spec.cwd} is gone"
            )
            os.write(log_fd, f"tui-orch: {message}\n".encode())
            os.close(log_fd)
            self._finish(reason="failed-to-start", exit_code=127, message=message)
            return 0
        read_fd, write_fd = os.pipe()
        with contextlib.suppress(OSError):  # Linux only; the default 64 KiB works too
            fcntl.fcntl(write_fd, F_SETPIPE_SZ, PIPE_SIZE)
        try:
            agent = subprocess.Popen(
                self.spec.argv,
                cwd=self.spec.cwd,
                env=self.spec.env,
                stdin=subprocess.DEVNULL,
                stdout=write_fd,
                stderr=write_fd,
                process_group=0,
                close_fds=True,
            )
        except OSError as error:
            os.close(write_fd)
            os.close(read_fd)
            message = f"cannot start {self.spec.argv[0]}: {error.strerror or error}"
            os.write(log_fd, f"tui-orch: {message}\n".encode())
            os.close(log_fd)
            self._finish(reason="failed-to-start", exit_code=127, message=message)
            return 0
        os.close(write_fd)
        self.status.agent_pid = agent.pid
        write_json_atomic(self.status_path, asdict(self.status))
        agent_status = self._pump(agent.pid, read_fd, log_fd)
        agent.returncode = 0  # reaped by us; keeps Popen from trying again
        os.close(read_fd)
        os.close(log_fd)
        reason = "exited"
        if self.status.reason:
            reason = self.status.reason
        exit_code, signum = _decode_wait_status(agent_status)
        self._finish(reason=reason, exit_code=exit_code, signum=signum)
        return 0

    def _request_stop(self, signum: int, frame: object) -> None:
        self.stop_requested = True

    def _pump(self, agent_pid: int, read_fd: int, log_fd: int) -> int:
        """Copy output to the log until the agent ends and its pipe closes; return wait status."""
        deadline = time.monotonic() + self.spec.timeout if self.spec.timeout is not None else None
        agent_status: int | None = None
        pipe_open = True
        kill_at: float | None = None
        drain_until: float | None = None
        while pipe_open or agent_status is None:
            if pipe_open:
                ready, _, _ = select.select([read_fd], [], [], POLL_SECONDS)
                if ready:
                    data = os.read(read_fd, READ_CHUNK)
                    if data:
                        os.write(log_fd, data)
                    else:
                        pipe_open = False
            else:
                time.sleep(POLL_SECONDS)
            if agent_status is None:
                agent_status = self._reap(agent_pid)
                if agent_status is not None:
                    # The agent is gone: nothing it started may outlive it.
                    _kill_group(agent_pid, signal.SIGKILL)
                    self._kill_orphans()
                    drain_until = time.monotonic() + DRAIN_SECONDS
                    continue
                now = time.monotonic()
                if kill_at is None and (self.stop_requested or (deadline and now > deadline)):
                    self.status.reason = "stopped" if self.stop_requested else "timeout"
                    _kill_group(agent_pid, signal.SIGTERM)
                    kill_at = now + self.spec.grace
                elif kill_at is not None and now > kill_at:
                    _kill_group(agent_pid, signal.SIGKILL)
            else:
                self._kill_orphans()
                if drain_until is not None and time.monotonic() > drain_until:
                    break
        self._kill_orphans()
        return agent_status

    def _reap(self, agent_pid: int) -> int | None:
        """Reap any dead children (orphans re-parented to us); the agent's wait status."""
        found: int | None = None
        while True:
            try:
                pid, wait_status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return found
            if pid == 0:
                return found
            if pid == agent_pid:
                found = wait_status

    def _kill_orphans(self) -> None:
        """SIGKILL every child we have: once the agent is reaped, all of them are strays."""
        for _ in range(50):
            children = _children_of(os.getpid())
            if not children:
                return
            for pid in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.01)
            with contextlib.suppress(ChildProcessError):
                while os.waitpid(-1, os.WNOHANG)[0]:
                    pass

    def _finish(
        self, reason: str, exit_code: int | None, signum: int | None = None, message: str = ""
    ) -> None:
        self.status.state = "exited"
        self.status.reason = reason
        self.status.exit_code = exit_code
        self.status.signal = signum
        self.status.message = message
        self.status.ended_at = time.time()
        write_json_atomic(self.status_path, asdict(self.status), durable=True)


def _decode_wait_status(wait_status: int) -> tuple[int | None, int | None]:
    if os.WIFSIGNALED(wait_status):
        signum = os.WTERMSIG(wait_status)
        return 128 + signum, signum
    return os.waitstatus_to_exitcode(wait_status), None


def _kill_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _children_of(parent: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{parent}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            children.extend(int(pid) for pid in task.read_text().split())
    return children


def _become_subreaper() -> None:
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m tui_orch.engine.supervisor SPEC.json", file=sys.stderr)
        return 2
    return Supervisor(SupervisorSpec.load(Path(args[0]))).run()


if __name__ == "__main__":
    sys.exit(main())
