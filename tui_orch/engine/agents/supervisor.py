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

One runs per agent, started while other agents already load the CPU, and its start-up
is part of every agent's: so it imports only modules that load no others (`_signal`
rather than `signal`, which loads `enum`; fork and exec rather than `subprocess`;
its spec in `marshal` and its status written by a few lines rather than `json`, which
loads `re`). That takes a supervised start from 30 to 20 ms of CPU.
"""

from __future__ import annotations

import _signal
import _thread
import ctypes
import marshal
import os
import select
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
POLL_SECONDS = 0.05
# What a JSON string may not hold as is; any other character is written as it is (UTF-8).
JSON_ESCAPES = {
    **{code: f"\\u{code:04x}" for code in range(32)},
    ord('"'): '\\"',
    ord("\\"): "\\\\",
}


def write_atomic(path: os.PathLike[str] | str, data: str | bytes, durable: bool = False) -> None:
    """Write a file so a reader sees the old one or the new one, never half of one.

    The rename alone survives any process being killed; ``durable`` also flushes to
    the disk (for a machine losing power), which costs milliseconds, so only the few
    writes that matter most (an agent's final status) ask for it.
    """
    if isinstance(data, str):
        # A lone surrogate (an undecodable file name) becomes its JSON escape, "\\udcff".
        data = data.encode("utf-8", "backslashreplace")
    path = os.fspath(path)
    directory, name = os.path.split(path)
    temporary = os.path.join(directory, f".{name}.{os.getpid()}.{_thread.get_ident()}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        if durable:
            handle.flush()
            os.fsync(handle.fileno())
    os.replace(temporary, path)


def to_json(value: object) -> str:
    """JSON for the status: dicts, lists, strings, finite numbers, booleans and None."""
    if isinstance(value, str):
        return '"' + value.translate(JSON_ESCAPES) + '"'
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{to_json(str(k))}: {to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(to_json(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


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
            try:
                os.nice(self.nice)  # we and the agent we start, which inherits it
            except OSError:
                pass
        _become_subreaper()
        for signum in (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP):
            _signal.signal(signum, self._request_stop)
        log_fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            agent_pid = self._start(log_fd)
        finally:
            os.close(log_fd)  # the agent holds its own copy
        if agent_pid is None:
            return 0
        self.status["agent_pid"] = agent_pid
        write_atomic(self.status_path, to_json(self.status))
        wait_status = self._wait(agent_pid)
        exit_code, signum = _decode_wait_status(wait_status)
        self._finish(str(self.status["reason"]) or "exited", exit_code, signum)
        return 0

    def _start(self, log_fd: int) -> int | None:
        """The running agent's pid, or None after recording why it could not start."""
        if not os.path.isdir(self.cwd):
            self._failed_to_start(
                log_fd, f"cannot start {self.argv[0]}: its working directory {self.cwd} is gone"
            )
            return None
        pid, error = 0, ""
        try:
            pid, error = _spawn(self.argv, self.cwd, self.env, log_fd)
        except OSError as fork_error:  # no fork at all (out of processes or memory)
            error = fork_error.strerror or str(fork_error)
        if error:
            self._failed_to_start(log_fd, f"cannot start {self.argv[0]}: {error}")
            return None
        return pid

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
                    _kill_group(agent_pid, _signal.SIGTERM)
                    kill_at = now + self.grace
                elif kill_at is not None and now > kill_at:
                    _kill_group(agent_pid, _signal.SIGKILL)
                if exit_fd is None:
                    time.sleep(POLL_SECONDS)
                else:
                    select.select([exit_fd], [], [], POLL_SECONDS)
        finally:
            if exit_fd is not None:
                os.close(exit_fd)
        # The agent is gone: nothing it started may outlive it.
        _kill_group(agent_pid, _signal.SIGKILL)
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
                try:
                    os.kill(pid, _signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.01)
            try:
                while os.waitpid(-1, os.WNOHANG)[0]:
                    pass
            except ChildProcessError:
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
        write_atomic(self.status_path, to_json(self.status), durable=True)


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


def _spawn(argv: list[str], cwd: str, env: dict[str, str], log_fd: int) -> tuple[int, str]:
    """Fork and exec the agent in its own process group, output to log_fd.

    Returns its pid and "" once it runs, or the reason exec failed (as the shell would
    say it: "No such file or directory"), which the child sends back through a pipe
    closed on a successful exec.
    """
    report_read, report_write = os.pipe()  # both closed on exec (not inheritable)
    pid = os.fork()
    if pid == 0:  # the child: become the agent, or report why not
        try:
            os.setpgid(0, 0)
            os.chdir(cwd)
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            os.dup2(log_fd, 1)
            os.dup2(log_fd, 2)
            # Python ignores these; an agent must get the defaults (as subprocess does).
            for signum in (_signal.SIGPIPE, _signal.SIGXFSZ):
                _signal.signal(signum, _signal.SIG_DFL)
            os.execvpe(argv[0], argv, env)
        except BaseException as error:
            reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
            try:
                os.write(report_write, reason.encode("utf-8", "replace"))
            finally:
                os._exit(127)
    os.close(report_write)
    chunks = []
    while chunk := os.read(report_read, 4096):
        chunks.append(chunk)
    os.close(report_read)
    if chunks:
        os.waitpid(pid, 0)
        return pid, b"".join(chunks).decode("utf-8", "replace")
    return pid, ""


def _kill_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _children_of(parent: int) -> list[int]:
    children: list[int] = []
    try:
        threads = os.listdir(f"/proc/{parent}/task")
    except OSError:
        return children
    for thread in threads:
        try:
            with open(f"/proc/{parent}/task/{thread}/children") as handle:
                children.extend(int(pid) for pid in handle.read().split())
        except OSError:
            pass
    return children


def _become_subreaper() -> None:
    """Orphaned descendants come back to us, not to init (Linux; elsewhere a no-op)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m tui_orch.engine.agents.supervisor SPEC", file=sys.stderr)
        return 2
    with open(args[0], "rb") as handle:
        spec = marshal.load(handle)
    return Supervisor(spec).run()


if __name__ == "__main__":
    sys.exit(main())
