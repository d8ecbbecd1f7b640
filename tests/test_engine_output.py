"""Every line an agent prints reaches the engine's output events, whatever the timing.

Driven through the engine's own API (as the app drives it), with real agents in a
throwaway repository.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.run_helpers import script_agent, write_plan
from tui_orch.engine.run import events as ev
from tui_orch.engine.run.approvals import ApproveEverything
from tui_orch.engine.run.launch import prepare_new_run


def run_and_collect_output(
    plan: Path, repo: Path, on_started: Callable[[], None] = lambda: None
) -> list[str]:
    """Run the plan through the engine with --yes approvals; every output line, in order."""
    lines: list[str] = []

    def sink(event: ev.Event) -> None:
        if isinstance(event, ev.AgentStarted):
            on_started()
        if isinstance(event, ev.AgentOutput):
            lines.extend(event.lines)

    result = asyncio.run(prepare_new_run(plan, repo, ApproveEverything(), sink).run())
    assert result.exit_code == 0, result.message
    return lines


def test_an_agent_that_finishes_before_its_start_is_recorded_loses_no_line(
    repo: Path, tmp_path: Path
) -> None:
    """The agent prints everything and exits while the engine is still busy starting it
    (here: a front end slow to take the AgentStarted event). Its lines must all arrive:
    the log is followed from where it stood before the start, not after."""
    quick = script_agent(
        tmp_path,
        "quick",
        """
        for number in range(500):
            print(f"{TASK} line {number}")
        sys.stdout.flush()
        pathlib.Path(FILES[0]).write_text("done\\n")
        """,
    )
    plan = write_plan(
        tmp_path / "plan.yaml",
        [{"id": "quick", "files": ["quick.txt"]}],
        {"quick": quick},
    )
    # A front end slow to take the AgentStarted event: the agent is done long before.
    lines = run_and_collect_output(plan, repo, on_started=lambda: time.sleep(1.0))

    assert lines == [f"quick line {number}" for number in range(500)]


@pytest.mark.parametrize(("plan_nice", "added"), [(None, 10), (0, 0), (3, 3)])
def test_agents_run_at_the_plan_s_lower_cpu_priority(
    repo: Path, tmp_path: Path, plan_nice: int | None, added: int
) -> None:
    """By default agents yield the CPU to the cockpit; agent_nice: 0 gives an equal share."""
    reports = script_agent(
        tmp_path,
        "reports",
        """
        print(f"nice {os.nice(0)}", flush=True)
        pathlib.Path(FILES[0]).write_text("done\\n")
        """,
    )
    top = {} if plan_nice is None else {"agent_nice": plan_nice}
    plan = write_plan(
        tmp_path / "plan.yaml",
        [{"id": "reports", "files": ["reports.txt"]}],
        {"reports": reports},
        **top,
    )
    lines = run_and_collect_output(plan, repo)

    assert lines == [f"nice {min(19, os.nice(0) + added)}"]
