"""Triage: job size to mode, and warnings when a plan's shape does not fit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tui_orch.engine.plans.triage import Mode, mode_for, triage_plan


@pytest.mark.parametrize(
    ("files", "mode"),
    [
        (0, Mode.DIRECT),
        (1, Mode.DIRECT),
        (2, Mode.DIRECT),
        (3, Mode.SINGLE),
        (10, Mode.SINGLE),
        (11, Mode.PARALLEL),
        (500, Mode.PARALLEL),
    ],
)
def test_mode_follows_the_file_count(files: int, mode: Mode) -> None:
    assert mode_for(files) is mode


def test_few_files_across_parallel_agents_warns_overhead() -> None:
    triage = triage_plan([["a.py", "b.py"], ["c.py"], ["d.py"]], [3])
    assert triage.mode is Mode.SINGLE
    assert triage.warnings == (
        "4 files split across 3 parallel agents: overhead exceeds benefit; "
        "one agent, working sequentially would be quicker",
    )


def test_files_shared_in_the_count_once() -> None:
    assert triage_plan([["a.py"], ["a.py"]], [1, 1]).file_count == 1


def test_a_big_single_task_is_told_to_split() -> None:
    triage = triage_plan([[f"f{i}.py" for i in range(12)]], [1])
    assert triage.mode is Mode.PARALLEL
    assert "split it into tasks" in triage.warnings[0]


def test_a_big_chain_is_told_nothing_runs_in_parallel() -> None:
    triage = triage_plan([[f"a{i}" for i in range(6)], [f"b{i}" for i in range(6)]], [1, 1])
    assert "form a chain" in triage.warnings[0]


def test_a_well_shaped_parallel_plan_has_no_warning() -> None:
    triage = triage_plan([[f"a{i}" for i in range(6)], [f"b{i}" for i in range(6)]], [2])
    assert triage.warnings == ()


def test_triage_command(tmp_path: Path) -> None:
    result = run_cli("triage", "--files", "12", "add", "billing", cwd=tmp_path)
    assert result.code == 0
    assert result.stdout.splitlines()[0] == (
        "parallel: 12 files for: add billing; parallel agents, each in its own worktree"
    )
    as_json = run_cli("triage", "--files", "2", "--json", cwd=tmp_path)
    assert json.loads(as_json.stdout)["mode"] == "direct"
    bad = run_cli("triage", "--files", "-1", cwd=tmp_path)
    assert bad.code == 2
    assert "expected 0 or more, got -1" in bad.stderr
