"""The per-agent supervisor and the engine's view of it, with real processes only.

Each test starts a real supervisor through `start_job` (or runs the module itself) for a
small Python agent, then looks at what it left on disk: the log (byte for byte) and the
status file. `LogTail` and `watch_jobs` are tested on real files and real jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tui_orch.engine.agents.exits import AgentExit, ExitReason
from tui_orch.engine.agents.jobs import (
    MAX_LINE_BYTES,
    MAX_READ_PER_TICK,
    JobFiles,
    JobHandle,
    LogTail,
    SupervisorSpec,
    SupervisorStatus,
    is_alive,
    read_status,
    start_job,
    stop_job,
    wait_until_stopped,
)
from tui_orch.engine.agents.supervisor import process_start_time, to_json, write_atomic
from tui_orch.engine.agents.watcher import WatchedJob, watch_jobs

MB = 1024 * 1024


# -- helpers ---------------------------------------------------------------------------------


class Job:
    """One supervised job started by `start_job`, with the means to wait for its end."""

    def __init__(
        self,
        tmp_path: Path,
        body: str | list[str],
        *,
        timeout: float | None = None,
        grace: float = 1.0,
        name: str = "job",
    ) -> None:
        if isinstance(body, str):
            script = tmp_path / f"{name}.py"
            script.write_text(textwrap.dedent(body), encoding="utf-8")
            argv = [sys.executable, str(script)]
        else:
            argv = body
        self.tmp_path = tmp_path
        self.files = JobFiles(tmp_path / "jobs" / name, tmp_path / "logs" / f"{name}.log")
        self.started = time.monotonic()
        self.handle, self.process = start_job(
            self.files, argv, tmp_path, dict(os.environ), timeout, grace
        )

    def wait(self, timeout: float = 15) -> SupervisorStatus:
        """Wait for the supervisor to end; return its final status."""
        self.process.wait(timeout)
        assert self.process.returncode == 0, self.supervisor_log()
        status = read_status(self.files)
        assert status is not None, self.supervisor_log()
        assert status.state == "exited"
        return status

    def wait_for_log(self, needle: bytes, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log():
                return
            time.sleep(0.02)
        raise AssertionError(f"{needle!r} never appeared in the log: {self.log()!r}")

    def log(self) -> bytes:
        try:
            return self.files.log.read_bytes()
        except FileNotFoundError:
            return b""

    def supervisor_log(self) -> str:
        with contextlib.suppress(FileNotFoundError):
            return self.files.supervisor_log.read_text(errors="replace")
        return ""


def pid_alive(pid: int, start_time: str) -> bool:
    """True while that very process runs and is not a zombie."""
    return is_alive(JobHandle(pid, start_time))


def wait_for_file(path: Path, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(FileNotFoundError):
            text = path.read_text()
            if text.endswith("\n"):
                return text
        time.sleep(0.02)
    raise AssertionError(f"{path} was never written")


# -- the log: every byte -----------------------------------------------------------------------


def test_every_byte_reaches_the_log_including_bad_utf8_and_a_huge_unterminated_line(
    tmp_path: Path,
) -> None:
    job = Job(
        tmp_path,
        """
        import os
        os.write(1, b"plain line\\n")
        os.write(2, b"to stderr\\n")
        os.write(1, bytes(range(256)) + b"\\n")
        os.write(1, b"bad \\xff\\xfe\\xc3 utf-8\\r\\n")
        os.write(2, b"stderr again\\n")
        big = bytes((i % 251) + 1 if (i % 251) + 1 != 10 else 65 for i in range(1024 * 1024))
        view = memoryview(big)
        while view:
            view = view[os.write(1, view):]
        """,
    )
    status = job.wait()
    assert (status.reason, status.exit_code, status.signal) == ("exited", 0, None)
    big = bytes((i % 251) + 1 if (i % 251) + 1 != 10 else 65 for i in range(MB))
    expected = (
        b"plain line\n"
        b"to stderr\n" + bytes(range(256)) + b"\n"
        b"bad \xff\xfe\xc3 utf-8\r\n"
        b"stderr again\n" + big
    )
    log = job.log()
    assert len(log) == len(expected)
    assert log == expected


def test_stdout_and_stderr_both_reach_the_log_in_order(tmp_path: Path) -> None:
    job = Job(
        tmp_path,
        """
        import sys
        for i in range(200):
            stream = sys.stdout if i % 2 else sys.stderr
            stream.write(f"{'out' if i % 2 else 'err'} {i}\\n")
            stream.flush()
        """,
    )
    job.wait()
    expected = [f"{'out' if i % 2 else 'err'} {i}" for i in range(200)]
    assert job.log().decode().splitlines() == expected


def test_a_flood_of_output_is_logged_whole(tmp_path: Path) -> None:
    """Several MB in many writes, faster than the supervisor's poll: nothing lost or doubled."""
    job = Job(
        tmp_path,
        """
        import sys
        out = sys.stdout
        for i in range(200_000):
            out.write(f"{i:07d} " + "x" * 20 + "\\n")
        """,
    )
    job.wait()
    lines = job.log().decode().splitlines()
    assert len(lines) == 200_000
    assert lines == [f"{i:07d} " + "x" * 20 for i in range(200_000)]


# -- exit codes and signals ----------------------------------------------------------------------


@pytest.mark.parametrize("code", [0, 1, 3, 127, 255])
def test_exit_code_recorded(tmp_path: Path, code: int) -> None:
    job = Job(tmp_path, [sys.executable, "-c", f"import sys; print('bye'); sys.exit({code})"])
    status = job.wait()
    assert status.state == "exited"
    assert status.reason == "exited"
    assert status.exit_code == code
    assert status.signal is None
    assert status.agent_pid is not None and status.agent_pid != status.supervisor_pid
    assert status.supervisor_pid == job.handle.pid
    assert status.ended_at is not None and status.ended_at >= status.started_at
    assert job.log() == b"bye\n"


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM, signal.SIGSEGV])
def test_a_job_killed_by_a_signal_records_it(tmp_path: Path, signum: int) -> None:
    job = Job(
        tmp_path,
        f"""
        import os, signal
        signal.signal(signal.SIGSEGV, signal.SIG_DFL)
        print("about to die", flush=True)
        os.kill(os.getpid(), {int(signum)})
        """,
    )
    status = job.wait()
    assert status.reason == "exited"
    assert status.signal == signum
    assert status.exit_code == 128 + signum
    assert job.log() == b"about to die\n"


# -- timeout and stop ------------------------------------------------------------------------------

IGNORES_TERM = """
import os, signal, sys, time
def on_term(signum, frame):
    os.write(1, b"got TERM, ignoring it\\n")
signal.signal(signal.SIGTERM, on_term)
os.write(1, b"ready\\n")
while True:
    time.sleep(0.01)
"""

OBEYS_TERM = """
import os, signal, sys, time
def on_term(signum, frame):
    os.write(1, b"got TERM, leaving\\n")
    sys.exit(5)
signal.signal(signal.SIGTERM, on_term)
os.write(1, b"ready\\n")
while True:
    time.sleep(0.01)
"""


def test_timeout_sends_term_then_kill_after_grace_to_an_agent_that_ignores_term(
    tmp_path: Path,
) -> None:
    job = Job(tmp_path, IGNORES_TERM, timeout=0.5, grace=0.7)
    status = job.wait()
    elapsed = time.monotonic() - job.started
    assert status.reason == ExitReason.TIMEOUT
    assert status.signal == signal.SIGKILL
    assert status.exit_code == 128 + signal.SIGKILL
    log = job.log()
    assert log.startswith(b"ready\n")
    assert b"got TERM, ignoring it\n" in log  # TERM came first ...
    assert 1.2 <= elapsed < 5, elapsed  # ... and KILL only after the grace period
    assert status.ended_at is not None
    assert status.ended_at - status.started_at >= 1.2


def test_timeout_of_an_agent_that_obeys_term_records_its_own_exit(tmp_path: Path) -> None:
    job = Job(tmp_path, OBEYS_TERM, timeout=0.3, grace=10)
    status = job.wait()
    elapsed = time.monotonic() - job.started
    assert status.reason == ExitReason.TIMEOUT
    assert (status.exit_code, status.signal) == (5, None)
    assert job.log() == b"ready\ngot TERM, leaving\n"
    assert elapsed < 5  # no waiting for the 10 s grace period


def test_no_timeout_when_the_agent_ends_in_time(tmp_path: Path) -> None:
    job = Job(tmp_path, [sys.executable, "-c", "print('quick')"], timeout=5, grace=1)
    status = job.wait()
    assert (status.reason, status.exit_code) == (ExitReason.EXITED, 0)


def test_stop_job_stops_the_agent_with_reason_stopped(tmp_path: Path) -> None:
    job = Job(tmp_path, OBEYS_TERM, grace=10)
    job.wait_for_log(b"ready\n")
    stop_job(job.handle, job.files)
    status = job.wait()
    assert status.reason == ExitReason.STOPPED
    assert (status.exit_code, status.signal) == (5, None)
    assert job.log() == b"ready\ngot TERM, leaving\n"


def test_stop_job_kills_an_agent_that_ignores_term_after_grace(tmp_path: Path) -> None:
    job = Job(tmp_path, IGNORES_TERM, grace=0.5)
    job.wait_for_log(b"ready\n")
    asked = time.monotonic()
    stop_job(job.handle, job.files)
    assert wait_until_stopped(job.handle, 10)
    took = time.monotonic() - asked
    status = job.wait()
    assert status.reason == ExitReason.STOPPED
    assert status.signal == signal.SIGKILL
    assert b"got TERM, ignoring it\n" in job.log()
    assert 0.4 <= took < 5, took


def test_stop_job_right_after_start_job_records_stopped(tmp_path: Path) -> None:
    job = Job(tmp_path, [sys.executable, "-c", "import time; time.sleep(30)"], grace=1)
    stop_job(job.handle, job.files)
    status = job.wait()
    assert status.reason == ExitReason.STOPPED


def test_stop_job_kills_the_agent_group_when_its_supervisor_is_gone(tmp_path: Path) -> None:
    """The supervisor was SIGKILLed: watch_jobs reports 'lost', stop_job kills the agent."""
    job = Job(tmp_path, IGNORES_TERM)
    job.wait_for_log(b"ready\n")
    status = read_status(job.files)
    assert status is not None and status.state == "running" and status.agent_pid
    agent = status.agent_pid, process_start_time(status.agent_pid)
    os.kill(job.handle.pid, signal.SIGKILL)
    job.process.wait(5)
    ended = asyncio.run(
        watch_jobs(
            [WatchedJob("job", job.files, job.handle, job.process)],
            on_lines=lambda key, lines: None,
            on_end=lambda key, status: None,
            interval=0.02,
        )
    )
    assert ended["job"].reason == "lost"
    assert pid_alive(*agent)  # without its supervisor, nothing killed the agent yet
    stop_job(job.handle, job.files)
    deadline = time.monotonic() + 5
    while pid_alive(*agent) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not pid_alive(*agent)


# -- nothing of the agent survives it ------------------------------------------------------------

SPAWNS_DESCENDANTS = """
import os, subprocess, sys, time
from pathlib import Path
sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
# A child in the agent's own process group, holding the output pipe.
in_group = subprocess.Popen(sleeper)
# A daemon that escaped the group and the session with setsid, pipe closed.
escaped = subprocess.Popen(
    sleeper, start_new_session=True,
    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
)
# A double-forked daemon: its parent exits at once, so it is nobody's child but ours.
double = subprocess.Popen(
    [sys.executable, "-c",
     "import os, subprocess, sys; "
     "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], "
     "start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
     "print(p.pid, flush=True)"],
    stdout=subprocess.PIPE, text=True,
)
double_pid = int(double.stdout.readline())
double.wait()
Path("pids.txt").write_text(f"{in_group.pid} {escaped.pid} {double_pid}\\n")
print("spawned", flush=True)
time.sleep(0.3)
sys.exit(EXIT)
"""


@pytest.mark.parametrize("exit_code", [0, 4])
def test_descendants_in_the_group_and_escaped_with_setsid_are_gone_after_the_agent(
    tmp_path: Path, exit_code: int
) -> None:
    job = Job(tmp_path, SPAWNS_DESCENDANTS.replace("EXIT", str(exit_code)))
    pids = [int(pid) for pid in wait_for_file(tmp_path / "pids.txt").split()]
    starts = [process_start_time(pid) for pid in pids]
    assert all(starts), "the descendants should be running now"
    groups = [os.getpgid(pid) for pid in pids]
    sessions = [os.getsid(pid) for pid in pids]
    assert groups[1] != groups[0] and sessions[1] != sessions[0]  # really escaped
    assert groups[2] not in (groups[0], groups[1])
    status = job.wait()
    assert (status.reason, status.exit_code) == ("exited", exit_code)
    survivors = [pid for pid, start in zip(pids, starts, strict=True) if pid_alive(pid, start)]
    assert survivors == []
    assert job.log() == b"spawned\n"


def test_a_daemon_holding_the_pipe_does_not_keep_the_job_running(tmp_path: Path) -> None:
    """The agent exits 0 at once; its setsid child keeps stdout open and sleeps."""
    job = Job(
        tmp_path,
        """
        import subprocess, sys
        subprocess.Popen(
            [sys.executable, "-c", "import time; print('daemon up', flush=True); time.sleep(60)"],
            start_new_session=True,
        )
        print("agent done", flush=True)
        """,
    )
    status = job.wait(timeout=10)
    assert (status.reason, status.exit_code) == (ExitReason.EXITED, 0)
    assert time.monotonic() - job.started < 6
    assert b"agent done\n" in job.log()


# -- programs that cannot start --------------------------------------------------------------------


@pytest.mark.parametrize(
    "program",
    ["/definitely/not/here/agent", "no-such-agent-program-xyz"],
    ids=["absolute-path", "not-on-path"],
)
def test_a_program_that_does_not_exist_fails_to_start(tmp_path: Path, program: str) -> None:
    job = Job(tmp_path, [program, "--flag"])
    status = job.wait()
    assert status.reason == ExitReason.FAILED_TO_START
    assert status.exit_code == 127
    assert status.agent_pid is None
    assert program in status.message
    lines = job.log().decode().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("tui-orch: cannot start ")
    assert program in lines[0]
    assert "No such file or directory" in lines[0]


def test_a_file_that_is_not_executable_fails_to_start(tmp_path: Path) -> None:
    script = tmp_path / "not-executable.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    job = Job(tmp_path, [str(script)])
    status = job.wait()
    assert (status.reason, status.exit_code) == ("failed-to-start", 127)
    assert "Permission denied" in job.log().decode()


def test_a_missing_working_directory_is_named_as_the_cause(tmp_path: Path) -> None:
    files = JobFiles(tmp_path / "job", tmp_path / "job.log")
    gone = tmp_path / "worktree-that-was-removed"
    _handle, process = start_job(
        files, [sys.executable, "-c", "print(1)"], gone, dict(os.environ), None, 1.0
    )
    process.wait(15)
    status = read_status(files)
    assert status is not None
    assert (status.reason, status.exit_code) == ("failed-to-start", 127)
    assert str(gone) in status.message


# -- the status file -------------------------------------------------------------------------------


def test_the_status_file_is_valid_json_at_all_times(tmp_path: Path) -> None:
    job = Job(
        tmp_path,
        """
        import sys, time
        for i in range(40):
            print(i, flush=True)
            time.sleep(0.02)
        sys.exit(2)
        """,
    )
    states: list[str] = []
    reads = 0
    while True:
        try:
            text = job.files.status.read_text()
        except FileNotFoundError:
            assert not states, "the status file disappeared after it was written"
            continue
        data = json.loads(text)  # raises on a half-written file
        SupervisorStatus(**data)
        reads += 1
        if not states or states[-1] != data["state"]:
            states.append(data["state"])
        if data["state"] == "exited":
            break
        assert time.monotonic() - job.started < 10
    assert states == ["running", "exited"]
    assert reads > 20
    status = job.wait()
    assert status.exit_code == 2
    # No temporary files are left next to it.
    assert sorted(p.name for p in job.files.directory.iterdir()) == [
        "spec.marshal",
        "status.json",
        "supervisor.log",
    ]


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(JSON_VALUES)
def test_the_supervisors_own_json_writer_agrees_with_the_json_module(value: object) -> None:
    """The supervisor writes its status without the json module (it loads too much)."""
    assert json.loads(to_json(value)) == value


def test_a_status_with_an_undecodable_file_name_is_still_json(tmp_path: Path) -> None:
    name = os.fsdecode(b"agent-\xff")  # a lone surrogate, as os.listdir gives it
    path = tmp_path / "status.json"
    write_atomic(path, to_json({"message": f"cannot start {name}"}))
    assert json.loads(path.read_text())["message"] == f"cannot start {name}"


def test_the_agent_does_not_inherit_pythons_ignored_sigpipe(tmp_path: Path) -> None:
    """Python ignores SIGPIPE; an agent (a shell pipeline) must get the default."""
    job = Job(tmp_path, ["/bin/sh", "-c", "grep SigIgn /proc/$$/status"])
    assert job.wait().exit_code == 0
    ignored = int(job.log().decode().split()[-1], 16)
    assert not ignored & (1 << (signal.SIGPIPE - 1)), f"SIGPIPE ignored: {ignored:#x}"


def test_the_running_status_names_the_agent(tmp_path: Path) -> None:
    job = Job(tmp_path, OBEYS_TERM)
    job.wait_for_log(b"ready\n")
    status = read_status(job.files)
    assert status is not None
    assert status.state == "running"
    assert status.supervisor_pid == job.handle.pid
    assert status.supervisor_start == job.handle.start_time
    assert status.agent_pid is not None
    assert os.getpgid(status.agent_pid) == status.agent_pid  # its own process group
    assert os.getsid(job.handle.pid) == job.handle.pid  # the supervisor: its own session
    stop_job(job.handle, job.files)
    assert job.wait().reason == "stopped"


# -- the supervisor module run by hand ------------------------------------------------------------


def test_the_supervisor_module_runs_a_spec(tmp_path: Path) -> None:
    spec = tmp_path / "spec.marshal"
    SupervisorSpec(
        argv=[sys.executable, "-c", "import sys; print('from spec'); sys.exit(9)"],
        cwd=str(tmp_path),
        env=dict(os.environ),
        log_path=str(tmp_path / "out.log"),
        status_path=str(tmp_path / "status.json"),
    ).save(spec)
    done = subprocess.run(
        [sys.executable, "-m", "tui_orch.engine.agents.supervisor", str(spec)],
        capture_output=True,
        timeout=15,
    )
    assert done.returncode == 0
    status = SupervisorStatus.load(tmp_path / "status.json")
    assert status is not None
    assert (status.state, status.reason, status.exit_code) == ("exited", "exited", 9)
    assert (tmp_path / "out.log").read_bytes() == b"from spec\n"


def test_the_supervisor_module_wants_exactly_one_argument() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tui_orch.engine.agents.supervisor"],
        capture_output=True,
        text=True,
        timeout=15,
    )
    assert done.returncode == 2
    assert "usage:" in done.stderr


# -- LogTail ---------------------------------------------------------------------------------------


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as handle:
        handle.write(data)


def test_logtail_of_a_missing_file_gives_nothing(tmp_path: Path) -> None:
    tail = LogTail(tmp_path / "nothing.log")
    assert tail.read_lines() == []
    assert tail.flush() == []


def test_logtail_joins_lines_split_across_chunks(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    tail = LogTail(log)
    append(log, b"hel")
    assert tail.read_lines() == []
    append(log, b"lo\nwor")
    assert tail.read_lines() == ["hello"]
    append(log, b"ld\n\nlast")
    assert tail.read_lines() == ["world", ""]
    assert tail.read_lines() == []
    assert tail.flush() == ["last"]
    assert tail.flush() == []


def test_logtail_every_split_point_gives_the_same_lines(tmp_path: Path) -> None:
    data = "one\r\ntwo\n\nthré\u00e9 \u2603\nfour\r\n".encode()
    expected = ["one", "two", "", "thré\u00e9 \u2603", "four"]
    for cut in range(len(data) + 1):
        log = tmp_path / f"cut-{cut}.log"
        tail = LogTail(log)
        append(log, data[:cut])
        lines = tail.read_lines()
        append(log, data[cut:])
        lines += tail.read_lines()
        lines += tail.flush()
        assert lines == expected, cut


def test_logtail_strips_crlf(tmp_path: Path) -> None:
    log = tmp_path / "crlf.log"
    log.write_bytes(b"a\r\nb\r\nc\rd\r\n")
    tail = LogTail(log)
    assert tail.read_lines() == ["a", "b", "c\rd"]


def test_logtail_gives_a_partial_last_line_only_on_flush(tmp_path: Path) -> None:
    log = tmp_path / "partial.log"
    log.write_bytes(b"done\nhalf a line")
    tail = LogTail(log)
    assert tail.read_lines() == ["done"]
    assert tail.read_lines() == []
    assert tail.flush() == ["half a line"]


def test_logtail_starts_at_an_offset(tmp_path: Path) -> None:
    log = tmp_path / "offset.log"
    log.write_bytes(b"old line\nnew line\n")
    tail = LogTail(log, offset=len(b"old line\n"))
    assert tail.read_lines() == ["new line"]


def marker(dropped: int) -> str:
    return f" … [{dropped} more bytes; the log file has the whole line]"


def test_logtail_cuts_a_1mb_line_read_at_once_with_a_marker(tmp_path: Path) -> None:
    log = tmp_path / "long.log"
    log.write_bytes(b"y" * (MAX_READ_PER_TICK // 2) + b"\nshort\n")
    lines = LogTail(log).read_lines()
    assert lines == [
        "y" * MAX_LINE_BYTES + marker(MAX_READ_PER_TICK // 2 - MAX_LINE_BYTES),
        "short",
    ]


def test_logtail_cuts_a_1mb_line_with_a_marker(tmp_path: Path) -> None:
    log = tmp_path / "long.log"
    tail = LogTail(log)
    # Written in pieces, as an agent would, so the line spans many reads.
    for _ in range(16):
        append(log, b"y" * (MB // 16))
        assert tail.read_lines() == []
    append(log, b"\nshort\n")
    lines = tail.read_lines()
    assert len(lines) == 2
    dropped = MB - MAX_LINE_BYTES
    assert lines[0] == "y" * MAX_LINE_BYTES + (
        f" … [{dropped} more bytes; the log file has the whole line]"
    )
    assert lines[1] == "short"
    assert log.stat().st_size == MB + len(b"\nshort\n")  # the file keeps it whole


@pytest.mark.parametrize("spans_reads", [False, True], ids=["one-read", "many-reads"])
def test_logtail_marker_counts_exactly_the_bytes_left_out(
    tmp_path: Path, spans_reads: bool
) -> None:
    text = "é" * 10_000 + "\u2603" * 3000  # 20,000 + 9,000 bytes
    data = text.encode()
    log = tmp_path / "multibyte.log"
    tail = LogTail(log)
    if spans_reads:
        append(log, data[: len(data) // 2])
        assert tail.read_lines() == []
        append(log, data[len(data) // 2 :] + b"\n")
    else:
        log.write_bytes(data + b"\n")
    (line,) = tail.read_lines()
    shown, _, rest = line.partition(" … [")
    assert text.startswith(shown)
    assert len(shown.encode()) <= MAX_LINE_BYTES
    left_out = int(rest.split(" ", 1)[0])
    assert len(shown.encode()) + left_out == len(data)


def test_logtail_cuts_a_1mb_line_without_newline_on_flush(tmp_path: Path) -> None:
    log = tmp_path / "long.log"
    log.write_bytes(b"z" * MB)
    tail = LogTail(log)
    assert tail.read_lines() == []
    (line,) = tail.flush()
    assert line.startswith("z" * MAX_LINE_BYTES + " … [")
    assert f"[{MB - MAX_LINE_BYTES} more bytes" in line


def test_logtail_a_line_of_exactly_the_limit_is_not_cut(tmp_path: Path) -> None:
    log = tmp_path / "limit.log"
    log.write_bytes(b"k" * MAX_LINE_BYTES + b"\n" + b"k" * (MAX_LINE_BYTES + 1) + b"\n")
    lines = LogTail(log).read_lines()
    assert lines[0] == "k" * MAX_LINE_BYTES
    assert lines[1] == "k" * MAX_LINE_BYTES + " … [1 more bytes; the log file has the whole line]"


def test_logtail_bad_utf8_becomes_replacement_characters(tmp_path: Path) -> None:
    log = tmp_path / "bad.log"
    log.write_bytes(b"ok \xff\xfe end\n\xc3\n\xe2\x98\x83 snow\n")
    assert LogTail(log).read_lines() == ["ok \ufffd\ufffd end", "\ufffd", "\u2603 snow"]


def test_logtail_reads_a_big_file_in_bounded_ticks_and_flush_gets_it_all(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    line = b"0123456789" * 10 + b"\n"
    count = (MAX_READ_PER_TICK * 2) // len(line) + 100
    log.write_bytes(line * count)
    tail = LogTail(log)
    first = tail.read_lines()
    assert 0 < len(first) < count  # one tick reads at most MAX_READ_PER_TICK
    rest = tail.flush()
    assert len(first) + len(rest) == count
    assert set(first + rest) == {line[:-1].decode()}


# -- watch_jobs ------------------------------------------------------------------------------------


def test_watch_jobs_delivers_lines_in_batches(tmp_path: Path) -> None:
    job = Job(
        tmp_path,
        """
        import sys, time
        for i in range(5000):
            print(f"line {i}")
            if i % 1000 == 999:
                sys.stdout.flush()
                time.sleep(0.15)
        """,
    )
    batches: list[list[str]] = []
    ended: list[tuple[str, SupervisorStatus]] = []
    results = asyncio.run(
        watch_jobs(
            [WatchedJob("flood", job.files, job.handle, job.process)],
            on_lines=lambda key, lines: batches.append(list(lines)),
            on_end=lambda key, status: ended.append((key, status)),
            interval=0.05,
        )
    )
    delivered = [line for batch in batches for line in batch]
    assert delivered == [f"line {i}" for i in range(5000)]
    assert 1 <= len(batches) <= 100, len(batches)
    assert len(batches) < len(delivered) / 20
    assert [key for key, _ in ended] == ["flood"]
    assert results["flood"].reason == "exited" and results["flood"].exit_code == 0
    assert job.process.wait(5) == 0


def test_watch_jobs_follows_several_jobs_to_their_own_ends(tmp_path: Path) -> None:
    jobs = {
        "fast": Job(tmp_path, [sys.executable, "-c", "print('f')"], name="fast"),
        "slow": Job(
            tmp_path,
            [sys.executable, "-c", "import time, sys; time.sleep(0.5); print('s'); sys.exit(6)"],
            name="slow",
        ),
        "missing": Job(tmp_path, ["/no/such/program"], name="missing"),
    }
    order: list[str] = []
    lines: dict[str, list[str]] = {key: [] for key in jobs}
    results = asyncio.run(
        watch_jobs(
            [WatchedJob(key, job.files, job.handle, job.process) for key, job in jobs.items()],
            on_lines=lambda key, new: lines[key].extend(new),
            on_end=lambda key, status: order.append(key),
            interval=0.05,
        )
    )
    assert order[-1] == "slow"
    assert sorted(order) == sorted(jobs)
    assert (results["fast"].reason, results["fast"].exit_code) == ("exited", 0)
    assert (results["slow"].reason, results["slow"].exit_code) == ("exited", 6)
    assert (results["missing"].reason, results["missing"].exit_code) == ("failed-to-start", 127)
    assert lines["fast"] == ["f"]
    assert lines["slow"] == ["s"]
    assert len(lines["missing"]) == 1 and lines["missing"][0].startswith("tui-orch: cannot start")
    for job in jobs.values():
        job.process.wait(5)


@pytest.mark.parametrize(
    ("reason", "code", "succeeded", "state", "label"),
    [
        ("exited", 0, True, "succeeded", "exited 0"),
        ("exited", 3, False, "failed", "exited 3"),
        ("timeout", 143, False, "timed-out", "timed out"),
        ("stopped", 143, False, "stopped", "stopped"),
        ("failed-to-start", 127, False, "failed", "could not start"),
        ("lost", None, False, "failed", "lost"),
        ("left-branch", 0, False, "failed", "exited 0 but left its branch"),
        ("a-reason-of-a-later-version", 0, False, "failed", "exited 0"),
    ],
)
def test_how_an_agent_ended_reads_the_same_everywhere(
    reason: str, code: int | None, succeeded: bool, state: str, label: str
) -> None:
    """One definition of success and of the words for each end (engine, console, app);
    a reason this version does not know is never a success."""
    ended = AgentExit(reason, code)
    assert (ended.succeeded, ended.state, ended.label) == (succeeded, state, label)
