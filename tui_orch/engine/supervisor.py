"""The per-agent supervisor: a small process that keeps one agent alive and accountable.

Started detached (its own session) by the engine (see `jobs.start_job`), it outlives
the app the way conmon outlives a container engine:

* runs the agent in its own process group, never through a shell;
* gives the agent the task's log file itself as stdout and stderr (appending), so every
  byte lands on disk as the agent writes it, with no copy through us: even if this
  process dies, the agent's output still reaches the file;
* enforces the timeout and obeys SIGTERM: SIGTERM to the agent's group, SIGKILL after a
  grace period;
* is a child subreaper, so descendants that escape the group with ``setsid`` come back to
  it and are killed when the agent ends: nothing of the agent survives it;
* records its own pid, the agent's and finally the exit status in a JSON file, atomically
  (the engine reads it as `jobs.SupervisorStatus`).

One runs per agent, started while other agents already load the CPU, so it imports only
a few standard modules (no dataclasses, no pathlib): its start-up is part of every
agent's.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time

PR_SET_CHILD_SUBREAPER = 36
POLL_SECONDS = 0.05


def write_json_atomic(path: os.PathLike[str] | str, data: object, durable: bool = False) -> None:
    """Write JSON so a reader sees the old file or the new one, never half of one.

    The rename alone survives any process being killed; ``durable`` also flushes to
    the disk (for a machine losing power), which costs milliseconds, so only the few
    writes that matter most (an agent's final status) ask for it. ``json.dumps``
    without indentation runs in C: a run's state is saved at every step.
    """
    path = os.fspath(path)
    directory, name = os.path.split(path)
    temporary = os.path.join(directory, f".{name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(data))
        if durable:
            handle.flush()
            os.fsync(handle.fileno())
    os.replace(temporary, path)


def process_start_time(pid: int) -> str:
    """The kernel's start time of a process: with the pid, it names one process for good."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            stat = handle.read()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


class Supervisor:
    """Runs one agent to its end; see the module docstring.

    ``spec`` holds the fields of `jobs.SupervisorSpec`; ``status`` those of
    `jobs.SupervisorStatus`.
    """

    def __init__(self, spec: dict[str, object]) -> None:
        self.argv: list[str] = list(spec["argv"])  # type: ignore[call-overload]
        self.cwd = str(spec["cwd"])
        self.env: dict[str, str] = dict(spec["env"])  # type: ignore[call-overload]
        self.log_path = str(spec["log_path"])
        self.status_path = str(spec["status_path"])
        timeout = spec.get("timeout")
        self.timeout = float(timeout) if timeout is not None else None  # type: ignore[arg-type]
        self.grace = float(spec.get("grace", 5.0))  # type: ignore[arg-type]
        self.nice = int(spec.get("nice", 0))  # type: ignore[call-overload]
        self.stop_requested = False
        self.status: dict[str, object] = {
            "state": "running",
            "supervisor_pid": os.getpid(),
            "supervisor_start": process_start_time(os.getpid()),
            "agent_pid": None,
            "started_at": time.time(),
            "ended_at": None,
            "exit_code": None,
            "signal": None,
            "reason": "",
            "message": "",
            "extra": {},
        }

    def run(self) -> int:
        if self.nice:
            with contextlib.suppress(OSError):
                os.nice(self.nice)  # we and the agent we start, which inherits it
        _become_subreaper()
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._request_stop)
        log_fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            agent = self._start(log_fd)
        finally:
            os.close(log_fd)  # the agent holds its own copy
        if agent is None:
            return 0
        self.status["agent_pid"] = agent.pid
        write_json_atomic(self.status_path, self.status)
        wait_status = self._wait(agent.pid)
        agent.returncode = 0  # reaped by us; keeps Popen from trying again
        exit_code, signum = _decode_wait_status(wait_status)
        self._finish(str(self.status["reason"]) or "exited", exit_code, signum)
        return 0

    def _start(self, log_fd: int) -> subprocess.Popen[bytes] | None:
        """The running agent, or None after recording why it could not start."""
        if not os.path.isdir(self.cwd):
            self._failed_to_start(
                log_fd, f"cannot start {self.argv[0]}: its working directory {self.cwd} is gone"
            )
            return None
        try:
            return subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log_fd,
                stderr=log_fd,
                process_group=0,
                close_fds=True,
            )
        except OSError as error:
            self._failed_to_start(log_fd, f"cannot start {self.argv[0]}: {error.strerror or error}")
            return None

    def _failed_to_start(self, log_fd: int, message: str) -> None:
        os.write(log_fd, f"tui-orch: {message}\n".encode())
        self._finish("failed-to-start", exit_code=127, message=message)

    def _request_stop(self, signum: int, frame: object) -> None:
        self.stop_requested = True

    def _wait(self, agent_pid: int) -> int:
        """Wait for the agent, enforcing timeout and stop; return its wait status.

        A pidfd wakes us the moment the agent exits; the short poll only bounds how
        late a stop request or a timeout is noticed.
        """
        deadline = time.monotonic() + self.timeout if self.timeout is not None else None
        kill_at: float | None = None
        exit_fd = _open_pidfd(agent_pid)
        try:
            while (wait_status := self._reap(agent_pid)) is None:
                now = time.monotonic()
                if kill_at is None and (self.stop_requested or (deadline and now > deadline)):
                    self.status["reason"] = "stopped" if self.stop_requested else "timeout"
                    _kill_group(agent_pid, signal.SIGTERM)
                    kill_at = now + self.grace
                elif kill_at is not None and now > kill_at:
                    _kill_group(agent_pid, signal.SIGKILL)
                if exit_fd is None:
                    time.sleep(POLL_SECONDS)
                else:
                    select.select([exit_fd], [], [], POLL_SECONDS)
        finally:
            if exit_fd is not None:
                os.close(exit_fd)
        # The agent is gone: nothing it started may outlive it.
        _kill_group(agent_pid, signal.SIGKILL)
        self._kill_orphans()
        return wait_status

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
        self.status.update(
            state="exited",
            reason=reason,
            exit_code=exit_code,
            signal=signum,
            message=message,
            ended_at=time.time(),
        )
        write_json_atomic(self.status_path, self.status, durable=True)


def _decode_wait_status(wait_status: int) -> tuple[int | None, int | None]:
    if os.WIFSIGNALED(wait_status):
        signum = os.WTERMSIG(wait_status)
        return 128 + signum, signum
    return os.waitstatus_to_exitcode(wait_status), None


def _open_pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when pid exits (Linux 5.3+), else None."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _kill_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _children_of(parent: int) -> list[int]:
    children: list[int] = []
    with contextlib.suppress(OSError):
        for thread in os.listdir(f"/proc/{parent}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{parent}/task/{thread}/children") as f:
                children.extend(int(pid) for pid in f.read().split())
    return children


def _become_subreaper() -> None:
    """Orphaned descendants come back to us, not to init (Linux; elsewhere a no-op)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m tui_orch.engine.supervisor SPEC.json", file=sys.stderr)
        return 2
    with open(args[0], encoding="utf-8") as handle:
        spec = json.load(handle)
    return Supervisor(spec).run()


if __name__ == "__main__":
    sys.exit(main())
