"""Fail any test that leaves a process of its own behind.

Each test gets a unique tag in its environment. Every process it starts (the CLI, our
supervisors, agents, their children) inherits it, so after the test we can find any
survivor by scanning /proc/*/environ, kill it, and fail the test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

TAG_NAME = "TUI_ORCH_TEST_TAG"
# Processes may still be finishing when a test returns (a supervisor writing its status).
SETTLE_SECONDS = "10"


def tagged_processes(tag: str) -> list[int]:
    """Pids of live processes whose environment carries the tag."""
    needle = f"{TAG_NAME}={tag}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if needle in (entry / "environ").read_bytes():
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(int(entry.name))
    return found


def describe(pid: int) -> str:
    with contextlib.suppress(OSError):
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        return f"{pid} {cmdline.strip()}"
    return str(pid)


@pytest.fixture(autouse=True)
def no_leftover_processes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    tag = uuid.uuid4().hex
    monkeypatch.setenv(TAG_NAME, tag)
    yield
    deadline = time.monotonic() + float(os.environ.get("TUI_ORCH_TEST_SETTLE", SETTLE_SECONDS))
    survivors = tagged_processes(tag)
    while survivors and time.monotonic() < deadline:
        time.sleep(0.1)
        survivors = tagged_processes(tag)
    if survivors:
        names = [describe(pid) for pid in survivors]
        for pid in survivors:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        pytest.fail("the test left processes behind:\n" + "\n".join(names), pytrace=False)
