"""Live conflict detection: unowned edits, overlaps, predicted merge conflicts, interfaces.

Runs go through the real CLI on real repositories with real agents (the demo agent or small
scripts); agents that must still be running when a conflict is checked wait for a gate file.
The engine tests at the end drive ConflictMonitor directly on real worktrees, to prove that
looking at an agent's worktree never changes it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import git, run_cli
from tests.run_helpers import (
    branches,
    commits_on,
    head,
    json_events,
    run_plan,
    script_agent,
    write_plan,
)
from tui_orch.engine.conflicts.monitor import ConflictMonitor, WorktreeView
from tui_orch.engine.repository.worktrees import Workspace

Event = dict[str, object]

DEMO = [sys.executable, "-m", "tui_orch.demo.agent", "--pace", "0", "--chatter", "0"]
INTERVAL = "0.2s"
WAIT = 20.0  # seconds to wait for something a live run should show within a second or two
TEN_LINES = "".join(f"line {n}\n" for n in range(1, 11))

# A step-by-step agent: each argument is one step, done in order. PATH:N:TEXT replaces line
# N (from 1) of PATH; wait=FILE waits until FILE exists; undo=PATH puts PATH back as it was
# before this agent's first change to it. It writes nothing else.
EDITOR = """
saved = {}
for step in sys.argv[1:]:
    if step.startswith("wait="):
        while not os.path.exists(step[5:]):
            time.sleep(0.02)
        print(f"went past {step[5:]}", flush=True)
    elif step.startswith("undo="):
        pathlib.Path(step[5:]).write_text(saved[step[5:]])
        print(f"restored {step[5:]}", flush=True)
    else:
        path, number, text = step.split(":", 2)
        target = pathlib.Path(path)
        old = target.read_text() if target.exists() else ""
        saved.setdefault(path, old)
        lines = old.splitlines()
        lines += [""] * (int(number) - len(lines))
        lines[int(number) - 1] = text
        target.write_text("\\n".join(lines) + "\\n")
        print(f"changed line {number} of {path}", flush=True)
"""


# -- helpers ---------------------------------------------------------------------------------


def commit_files(repo: Path, files: dict[str, str]) -> str:
    """Add files to the repo's main branch in one commit; return the new head."""
    for rel, text in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(repo, "add", "--", *files)
    git(repo, "commit", "-q", "-m", "fixtures")
    return head(repo)


def editor(tmp_path: Path, *specs: str) -> list[str]:
    return [*script_agent(tmp_path, "editor", EDITOR), *specs]


def detected(events: list[Event], kind: str) -> list[Event]:
    return [e for e in events if e["event"] == "conflict_detected" and e["conflict_kind"] == kind]


def of_event(events: list[Event], name: str, task_id: str | None = None) -> list[Event]:
    return [e for e in events if e["event"] == name and task_id in (None, e.get("task_id"))]


def first_index(events: list[Event], predicate: Callable[[Event], bool]) -> int:
    return next(i for i, e in enumerate(events) if predicate(e))


def branch_of(events: list[Event], task_id: str) -> str:
    return str(of_event(events, "agent_started", task_id)[0]["branch"])


def show(repo: Path, ref: str, path: str) -> str:
    return git(repo, "show", f"{ref}:{path}")


def changed_by(repo: Path, commit: str) -> list[str]:
    return git(repo, "diff-tree", "--no-commit-id", "--name-only", "-r", commit).splitlines()


class LiveRun:
    """`tui-orch run PLAN --headless --yes` in the background; stdout read as it comes."""

    def __init__(self, plan: Path, repo: Path, gate: Path, *extra: str) -> None:
        self.gate = gate
        self.stderr_path = gate.with_name(gate.name + ".stderr")
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        command = [sys.executable, "-m", "tui_orch", "run", str(plan), "--repo", str(repo)]
        with self.stderr_path.open("w") as stderr:
            self.process = subprocess.Popen(
                [*command, "--headless", "--yes", *extra],
                cwd=repo,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def read_until(self, predicate: Callable[[str], bool], timeout: float = WAIT) -> list[str]:
        """Lines up to and including the first one matching predicate (fails on timeout)."""
        start = len(self.seen)
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                pytest.fail(f"nothing matching after {timeout}s; got:\n" + "\n".join(self.seen))
            if line is None:
                pytest.fail("the run ended first; it printed:\n" + "\n".join(self.seen))
            self.seen.append(line)
            if predicate(line):
                return self.seen[start:]

    def read_event_until(self, predicate: Callable[[Event], bool]) -> list[Event]:
        lines = self.read_until(lambda line: line.startswith("{") and predicate(json.loads(line)))
        return [json.loads(line) for line in lines if line.startswith("{")]

    def finish(self, timeout: float = 60) -> tuple[int, list[str], str]:
        """Open the gate and wait for the end: (exit code, every stdout line, stderr)."""
        self.gate.touch()
        code = self.process.wait(timeout=timeout)
        while (line := self.lines.get(timeout=WAIT)) is not None:
            self.seen.append(line)
        return code, self.seen, self.stderr_path.read_text()

    def close(self) -> None:
        """Whatever happened in the test, let the agents end and the CLI with them."""
        self.gate.touch()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def live_run(plan: Path, repo: Path, gate: Path, *extra: str) -> Iterator[LiveRun]:
    run = LiveRun(plan, repo, gate, *extra)
    try:
        yield run
    finally:
        run.close()


def events_of(lines: list[str]) -> list[Event]:
    return [json.loads(line) for line in lines if line.startswith("{")]


# -- 1. an unowned edit, seen while the agent still runs -----------------------------------


def test_an_unowned_edit_is_reported_while_the_offender_still_runs(
    repo: Path, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    plan = write_plan(
        tmp_path / "plan.yaml",
        [
            {"id": "owner", "files": ["owned.txt"]},
            {"id": "offender", "files": ["mine.txt"], "agent": "offender"},
        ],
        {
            "demo": DEMO,
            "offender": [*DEMO, "--edit-unowned", "owned.txt", "--wait-for", str(gate)],
        },
        conflicts={"interval": INTERVAL},
    )
    before = head(repo)
    with live_run(plan, repo, gate, "--json") as live:
        early = live.read_event_until(
            lambda e: e["event"] == "conflict_detected" and e["conflict_kind"] == "unowned_edit"
        )
        assert not of_event(early, "agent_exited", "offender"), "seen only after it exited"
        assert not gate.exists()
        conflict = early[-1]
        assert conflict["tasks"] == ["offender"]
        assert conflict["paths"] == ["owned.txt"]
        assert conflict["owner"] == "owner"
        assert conflict["policy"] == "block"
        code, lines, stderr = live.finish()
    events = events_of(lines)
    assert code == 1, stderr
    assert of_event(events, "agent_exited", "offender")  # it did go on and finish
    assert not of_event(events, "merge_done", "offender")
    assert head(repo) == before
    branch = branch_of(events, "offender")
    assert branch in branches(repo)
    kept = commits_on(repo, branch, before)
    assert len(kept) == 1
    assert set(changed_by(repo, kept[0])) == {"mine.txt", "owned.txt"}
    assert show(repo, branch, "owned.txt") == "changed by task offender"
    sentence = stderr.strip().splitlines()[-1]
    assert sentence == "tui-orch: " + str(events[-1]["message"])
    assert "task 'offender'" in sentence
    assert "owned.txt" in sentence
    assert "'main' was not touched" in sentence


# -- 2. two agents, one unowned file, edited differently -------------------------------------


def test_a_real_conflict_is_reported_as_overlap_and_predicted_before_the_merge(
    repo: Path, tmp_path: Path
) -> None:
    before = commit_files(repo, {"shared.txt": "original\n"})
    plan = write_plan(
        tmp_path / "plan.yaml",
        [
            {"id": "alpha", "files": ["alpha.txt"]},
            {"id": "beta", "files": ["beta.txt"]},
        ],
        {"demo": [*DEMO, "--edit-unowned", "shared.txt"]},
        conflicts={
            "interval": INTERVAL,
            "unowned_edit": "warn",
            "overlap": "warn",
            "predicted": "warn",
        },
    )
    result = run_plan(plan, repo, "--json")
    events = json_events(result)
    assert result.code == 1, result.stderr
    first_merge = first_index(events, lambda e: e["event"] in ("merge_done", "merge_conflict"))
    for kind in ("overlap", "predicted"):
        found = detected(events, kind)
        assert len(found) == 1, kind
        assert found[0]["paths"] == ["shared.txt"]
        assert found[0]["tasks"] == ["alpha", "beta"]
        assert found[0]["policy"] == "warn"
        assert events.index(found[0]) < first_merge, f"{kind} reported only after merging"
    assert sorted(tuple(e["tasks"]) for e in detected(events, "unowned_edit")) == [
        ("alpha",),
        ("beta",),
    ]
    assert not of_event(events, "task_skipped")  # warnings hold nothing back
    [clash] = of_event(events, "merge_conflict")
    assert clash["task_id"] == "beta"
    assert clash["paths"] == ["shared.txt"]
    sentence = result.stderr.strip().splitlines()[-1]
    assert "merging task 'beta'" in sentence
    assert "shared.txt" in sentence
    assert head(repo) == before


# -- 3. two agents, different parts of one file ----------------------------------------------


def test_edits_to_different_parts_of_one_file_overlap_but_merge(repo: Path, tmp_path: Path) -> None:
    before = commit_files(repo, {"lines.txt": TEN_LINES})
    plan = write_plan(
        tmp_path / "plan.yaml",
        [
            {"id": "alpha", "files": ["alpha.txt"]},
            {"id": "beta", "files": ["beta.txt"], "agent": "beta"},
        ],
        {
            "alpha": [*DEMO, "--edit-line", "lines.txt:2:two by alpha"],
            "beta": [*DEMO, "--edit-line", "lines.txt:9:nine by beta"],
        },
        conflicts={
            "interval": INTERVAL,
            "unowned_edit": "warn",
            "overlap": "warn",
            "predicted": "warn",
        },
    )
    result = run_plan(plan, repo, "--json")
    events = json_events(result)
    assert result.code == 0, result.stderr
    [overlap] = detected(events, "overlap")
    assert overlap["paths"] == ["lines.txt"]
    assert overlap["tasks"] == ["alpha", "beta"]
    assert detected(events, "predicted") == []
    assert not of_event(events, "merge_conflict")
    assert head(repo) != before
    expected = TEN_LINES.replace("line 2\n", "two by alpha\n").replace("line 9\n", "nine by beta\n")
    assert show(repo, "main", "lines.txt") + "\n" == expected
    assert (repo / "lines.txt").read_text() == expected


# -- 4. interfaces: a rename in one task, an import of the old name in another ------------------

PROVIDER = """
path = pathlib.Path("src/lib/provider.py")
path.write_text(path.read_text().replace("old_name", "new_name"))
"""
CONSUMER = """
pathlib.Path("src/lib/consumer.py").write_text(
    "from lib.provider import old_name\\n\\n\\ndef use():\\n    return old_name()\\n"
)
"""


@pytest.mark.parametrize("policy", ["block", "warn"])
def test_an_interface_mismatch_between_tasks(repo: Path, tmp_path: Path, policy: str) -> None:
    before = commit_files(
        repo,
        {
            "src/lib/__init__.py": "",
            "src/lib/provider.py": "def old_name():\n    return 1\n",
        },
    )
    conflicts = {"interval": INTERVAL} | ({"interfaces": "warn"} if policy == "warn" else {})
    plan = write_plan(
        tmp_path / "plan.yaml",
        [
            {"id": "provider", "files": ["src/lib/provider.py"]},
            {"id": "consumer", "files": ["src/lib/consumer.py"], "agent": "consumer"},
        ],
        {
            "provider": script_agent(tmp_path, "provider", PROVIDER),
            "consumer": script_agent(tmp_path, "consumer", CONSUMER),
        },
        conflicts=conflicts,
    )
    result = run_plan(plan, repo, "--json")
    events = json_events(result)
    [problem] = detected(events, "interfaces")
    assert problem["tasks"] == ["consumer", "provider"]
    assert problem["paths"] == ["src/lib/consumer.py"]
    assert problem["policy"] == policy
    assert "src/lib/consumer.py:1" in str(problem["message"])
    assert "old_name" in str(problem["message"])
    if policy == "block":
        assert result.code == 1, result.stderr
        sentence = result.stderr.strip().splitlines()[-1]
        assert "src/lib/consumer.py:1" in sentence
        assert "old_name" in sentence
        assert head(repo) == before
        assert not of_event(events, "base_merged")
    else:
        assert result.code == 0, result.stderr
        assert head(repo) != before
        assert "new_name" in show(repo, "main", "src/lib/provider.py")
        assert "old_name" in show(repo, "main", "src/lib/consumer.py")


# -- 5. each policy honoured ------------------------------------------------------------------

# Per kind: what alpha and beta change, and the other policies. Only the kind under test can
# hold a task back: every other kind that the scenario sets off is set to warn, and every kind
# it must not set off is set to block.
SCENARIOS: dict[str, tuple[list[str], list[str], dict[str, str]]] = {
    # beta also changes notes.txt, which no task owns and alpha does not touch.
    "unowned_edit": (
        ["alpha.txt:1:alpha"],
        ["beta.txt:1:beta", "notes.txt:1:beta was here"],
        {"overlap": "block", "predicted": "block", "interfaces": "block"},
    ),
    # alpha owns lines.txt; beta changes another part of it: they overlap, merge cleanly.
    "overlap": (
        ["lines.txt:2:two by alpha"],
        ["beta.txt:1:beta", "lines.txt:9:nine by beta"],
        {"unowned_edit": "warn", "predicted": "block", "interfaces": "block"},
    ),
    # alpha owns lines.txt; beta changes the same line differently: a real conflict.
    "predicted": (
        ["lines.txt:2:two by alpha"],
        ["beta.txt:1:beta", "lines.txt:2:two by beta"],
        {"unowned_edit": "warn", "overlap": "warn", "interfaces": "block"},
    ),
}


@pytest.mark.parametrize("policy", ["warn", "block"])
@pytest.mark.parametrize("kind", list(SCENARIOS))
def test_each_policy_is_honoured(repo: Path, tmp_path: Path, kind: str, policy: str) -> None:
    before = commit_files(repo, {"lines.txt": TEN_LINES, "notes.txt": "notes\n"})
    alpha, beta, others = SCENARIOS[kind]
    plan = write_plan(
        tmp_path / "plan.yaml",
        [
            {"id": "alpha", "files": ["alpha.txt", "lines.txt"]},
            {"id": "beta", "files": ["beta.txt"], "agent": "beta"},
        ],
        {"alpha": editor(tmp_path, *alpha), "beta": editor(tmp_path, *beta)},
        conflicts={"interval": INTERVAL, **others, kind: policy},
    )
    result = run_plan(plan, repo, "--json")
    events = json_events(result)
    [conflict] = detected(events, kind)
    assert conflict["policy"] == policy
    assert conflict["blocks"] == ["beta"]
    blocking = [e for e in of_event(events, "conflict_detected") if e["policy"] == "block"]
    assert blocking == ([conflict] if policy == "block" else [])
    beta_branch = branch_of(events, "beta")
    if policy == "block":
        assert result.code == 1, result.stderr
        [skipped] = of_event(events, "task_skipped", "beta")
        assert f"({kind}: block)" in str(skipped["reason"])
        assert of_event(events, "merge_done", "alpha")
        assert not of_event(events, "merge_done", "beta")
        assert not of_event(events, "merge_conflict")
        assert head(repo) == before
        assert beta_branch in branches(repo)
        assert len(commits_on(repo, beta_branch, before)) == 1
        sentence = result.stderr.strip().splitlines()[-1]
        assert f"task 'beta' was not merged because {conflict['message']}" in sentence
    elif kind == "predicted":
        # A predicted conflict is a real one: warn lets the merge go ahead, and it conflicts.
        assert result.code == 1, result.stderr
        assert not of_event(events, "task_skipped")
        [clash] = of_event(events, "merge_conflict")
        assert (clash["task_id"], clash["paths"]) == ("beta", ["lines.txt"])
        assert head(repo) == before
    else:
        assert result.code == 0, result.stderr
        assert not of_event(events, "task_skipped")
        assert [e["task_id"] for e in of_event(events, "merge_done")] == ["alpha", "beta"]
        assert show(repo, "main", "beta.txt") == "beta"
        assert beta_branch not in branches(repo)  # merged into main, so cleaned up


# -- a conflict the agent undoes is resolved and holds nothing back ----------------------------


def undo_plan(tmp_path: Path, *steps: str) -> Path:
    """alpha writes its own file and changes notes.txt (which no task owns), then `steps`."""
    return write_plan(
        tmp_path / "plan.yaml",
        [{"id": "alpha", "files": ["alpha.txt"]}],
        {"editor": editor(tmp_path, "alpha.txt:1:a", "notes.txt:1:x", *steps)},
        conflicts={"interval": INTERVAL},
    )


def assert_resolved_and_merged(repo: Path, before: str, code: int, events: list[Event]) -> None:
    [found] = detected(events, "unowned_edit")
    [gone] = of_event(events, "conflict_resolved")
    assert (gone["conflict_kind"], gone["tasks"], gone["paths"]) == (
        "unowned_edit",
        ["alpha"],
        ["notes.txt"],
    )
    assert events.index(found) < events.index(gone)
    assert code == 0, events[-1]["message"]
    assert not of_event(events, "task_skipped")
    assert head(repo) != before
    assert show(repo, "main", "alpha.txt") == "a"
    assert show(repo, "main", "notes.txt") == "notes"


def test_an_unowned_edit_undone_while_the_agent_runs_is_resolved(
    repo: Path, tmp_path: Path
) -> None:
    before = commit_files(repo, {"notes.txt": "notes\n"})
    undo, gate = tmp_path / "undo", tmp_path / "gate"
    plan = undo_plan(tmp_path, f"wait={undo}", "undo=notes.txt", f"wait={gate}")
    with live_run(plan, repo, gate, "--json") as live:
        live.read_event_until(lambda e: e["event"] == "conflict_detected")
        undo.touch()
        early = live.read_event_until(lambda e: e["event"] == "conflict_resolved")
        assert not of_event(early, "agent_exited")
        code, lines, _ = live.finish()
    assert_resolved_and_merged(repo, before, code, events_of(lines))


# Agents for the test below: each prefixes every 20th line of big.txt (alpha from line 1,
# beta from line 11), so they merge cleanly but `git merge-tree` needs a second or so.
PREFIX_LINES = """
big = pathlib.Path("big.txt")
lines = big.read_text().splitlines(keepends=True)
for number in range(int(sys.argv[1]), len(lines), 20):
    lines[number] = TASK + " " + lines[number]
big.write_text("".join(lines))
"""
SLOW_UNDO = (
    PREFIX_LINES
    + """
pathlib.Path("alpha.txt").write_text("a\\n")
pathlib.Path("notes.txt").write_text("x\\n")
while not os.path.exists(sys.argv[2]):
    time.sleep(0.02)
pathlib.Path("notes.txt").write_text("notes\\n")
time.sleep(0.3)  # a round starts, sees the undo, and is still predicting when alpha exits
"""
)


def test_a_conflict_undone_just_before_the_agent_exits_is_resolved(
    repo: Path, tmp_path: Path
) -> None:
    """A round still under way when the agent ends (slow predictions) is not lost: what it
    found is reported, and the final round runs after it (it once ran alongside, and the
    conflict_resolved event went missing)."""
    before = commit_files(
        repo, {"notes.txt": "notes\n", "big.txt": "".join(f"line {n}\n" for n in range(60_000))}
    )
    gate = tmp_path / "gate"
    plan = write_plan(
        tmp_path / "plan.yaml",
        [
            {"id": "alpha", "files": ["alpha.txt"]},
            {"id": "beta", "files": ["big.txt"], "agent": "beta"},
        ],
        {
            "alpha": [*script_agent(tmp_path, "alpha", SLOW_UNDO), "0", str(gate)],
            "beta": [*script_agent(tmp_path, "beta", PREFIX_LINES), "10"],
        },
        conflicts={"interval": INTERVAL, "unowned_edit": "warn", "overlap": "warn"},
    )
    with live_run(plan, repo, gate, "--json") as live:
        live.read_event_until(
            lambda e: e["event"] == "conflict_detected" and e["paths"] == ["notes.txt"]
        )
        code, lines, _ = live.finish()
    events = events_of(lines)
    assert code == 0, events[-1]["message"]
    assert [(e["conflict_kind"], e["paths"]) for e in of_event(events, "conflict_resolved")] == [
        ("unowned_edit", ["notes.txt"])
    ]
    assert show(repo, "main", "notes.txt") == "notes"
    assert head(repo) != before


# alpha writes its own file, lets a few monitor rounds look, then changes notes.txt (which no
# task owns) to text of the same size and puts its mtime back, as `cp -p`, `rsync -t`, `tar x`
# or `touch -r` do (two writes within one file-system clock tick look the same).
KEEP_MTIME = """
pathlib.Path("alpha.txt").write_text("a\\n")
time.sleep(0.8)
notes = pathlib.Path("notes.txt")
before = notes.stat()
notes.write_text("NOTES\\n")
os.utime(notes, ns=(before.st_atime_ns, before.st_mtime_ns))
"""


def test_an_unowned_edit_that_keeps_size_and_mtime_is_still_caught(
    repo: Path, tmp_path: Path
) -> None:
    before = commit_files(repo, {"notes.txt": "notes\n"})
    plan = write_plan(
        tmp_path / "plan.yaml",
        [{"id": "alpha", "files": ["alpha.txt"]}],
        {"alpha": script_agent(tmp_path, "alpha", KEEP_MTIME)},
        conflicts={"interval": INTERVAL},
    )
    result = run_plan(plan, repo, "--json")
    events = json_events(result)
    assert [(e["tasks"], e["paths"]) for e in detected(events, "unowned_edit")] == [
        (["alpha"], ["notes.txt"])
    ]
    assert result.code == 1, result.stderr
    assert head(repo) == before
    assert show(repo, "main", "notes.txt") == "notes"


# -- 6 and 7. the engine on real worktrees ------------------------------------------------------


def worktree_facts(worktree: Path) -> dict[str, object]:
    """Everything an agent could notice: status, its index (bytes and mtime), every file."""
    status = subprocess.run(
        ["git", "--no-optional-locks", "status", "--porcelain=v2", "--untracked-files=all"],
        cwd=worktree,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    index = worktree / git(worktree, "rev-parse", "--git-path", "index")
    admin = Path(git(worktree, "rev-parse", "--absolute-git-dir"))
    files = {
        str(path.relative_to(worktree)): path.read_bytes()
        for path in sorted(worktree.rglob("*"))
        if path.is_file() and path.name != ".git"
    }
    admin_files = {
        str(path.relative_to(admin)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(admin.rglob("*"))
        if path.is_file()
    }
    return {
        "status": status,
        "index_sha256": hashlib.sha256(index.read_bytes()).hexdigest(),
        "index_mtime": index.stat().st_mtime_ns,
        "files": files,
        "admin_files": admin_files,
    }


@pytest.fixture
def two_worktrees(repo: Path, tmp_path: Path) -> tuple[Path, list[WorktreeView], str]:
    """Worktrees 'alpha' and 'beta' with uncommitted work of every kind, clashing in
    shared.txt; returns the repo, their views, and an integration head that moved on."""
    start = commit_files(
        repo,
        {
            "shared.txt": "shared\n",
            "modified.txt": "old\n",
            "deleted.txt": "doomed\n",
            "staged.txt": "one\n",
            "deep/keep.txt": "keep\n",
        },
    )
    workspace = Workspace(repo)
    views = []
    for task in ("alpha", "beta"):
        worktree = tmp_path / "worktrees" / task
        workspace.add_worktree(worktree, f"work/{task}", start)
        (worktree / "shared.txt").write_text(f"shared by {task}\n")
        views.append(WorktreeView(task, worktree, start))
    alpha = views[0].worktree
    (alpha / "modified.txt").write_text("new\n")
    (alpha / "deleted.txt").unlink()
    (alpha / "staged.txt").write_text("two\n")
    git(alpha, "add", "staged.txt")
    (alpha / "staged.txt").write_text("three\n")  # staged and then changed again
    (alpha / "new" / "deeper").mkdir(parents=True)
    (alpha / "new" / "deeper" / "untracked.txt").write_text("brand new\n")
    (views[1].worktree / "beta-new.txt").write_text("beta\n")
    git(repo, "checkout", "-q", "-b", "integration")
    (repo / "shared.txt").write_text("shared on integration\n")
    git(repo, "commit", "-q", "-am", "integration moved on")
    integration = head(repo, "integration")
    git(repo, "checkout", "-q", "main")
    return repo, views, integration


OWNERS = {
    "shared.txt": "alpha",
    "modified.txt": "alpha",
    "deleted.txt": "alpha",
    "staged.txt": "alpha",
    "new/deeper/untracked.txt": "alpha",
    "beta-new.txt": "beta",
}


def test_prediction_never_changes_a_worktree_or_its_index(
    two_worktrees: tuple[Path, list[WorktreeView], str],
) -> None:
    repo, views, integration = two_worktrees
    before = {view.task_id: worktree_facts(view.worktree) for view in views}
    assert "? new/deeper/untracked.txt" in str(before["alpha"]["status"])
    assert ".D N... " in str(before["alpha"]["status"])  # deleted.txt
    assert "MM N... " in str(before["alpha"]["status"])  # staged.txt
    monitor = ConflictMonitor(repo, OWNERS, {}, ["alpha", "beta"], predict=True)
    appeared, _ = monitor.round(views, integration)
    predicted = [c for c in appeared if c.kind == "predicted"]
    assert {c.tasks for c in predicted} == {("alpha", "beta"), ("alpha",), ("beta",)}
    appeared, gone = monitor.round(views, integration)
    assert (appeared, gone) == ([], [])
    after = {view.task_id: worktree_facts(view.worktree) for view in views}
    assert after == before
    assert git(repo, "status", "--porcelain") == ""
    assert head(repo, "work/alpha") == head(repo, "work/beta") == views[0].start


def test_without_prediction_unowned_edits_and_overlaps_are_still_reported(
    two_worktrees: tuple[Path, list[WorktreeView], str],
) -> None:
    repo, views, integration = two_worktrees
    monitor = ConflictMonitor(repo, OWNERS, {}, ["alpha", "beta"], predict=False)
    appeared, gone = monitor.round(views, integration)
    assert gone == []
    found = {(c.kind, c.tasks, c.paths) for c in appeared}
    assert found == {
        ("unowned_edit", ("beta",), ("shared.txt",)),
        ("overlap", ("alpha", "beta"), ("shared.txt",)),
    }
    assert monitor.blocked() == {
        "beta": [
            "task 'beta' changed shared.txt, which task 'alpha' owns (unowned_edit: block)",
            "tasks 'alpha' and 'beta' both changed shared.txt (overlap: block)",
        ]
    }


def sleep_into_a_new_second(room: float) -> None:
    """Sleep until a whole second starts (plus a little), so `room` seconds of it are left."""
    if time.time() % 1 > 1 - room:
        time.sleep(1.02 - time.time() % 1)


def test_an_edit_made_in_the_second_of_the_checkout_is_seen(repo: Path, tmp_path: Path) -> None:
    """git re-reads "racily clean" files (changed in the second its index was written) only
    if the index keeps its mtime; a snapshot from a fresh copy of it once missed them."""
    start = commit_files(repo, {"notes.txt": "notes\n"})
    worktree = tmp_path / "alpha"
    sleep_into_a_new_second(room=0.7)
    Workspace(repo).add_worktree(worktree, "work/alpha", start)
    (worktree / "notes.txt").write_text("NOTES\n")  # same size, as agents often do at once
    index = worktree / git(worktree, "rev-parse", "--git-path", "index")
    if int(index.stat().st_mtime) != int((worktree / "notes.txt").stat().st_mtime):
        pytest.skip("the checkout and the edit did not happen in the same second")
    sleep_into_a_new_second(room=1.0)  # the monitor looks a little later, as it would
    # git itself sees the change (status reads the real index, whose mtime is intact).
    status = ["--no-optional-locks", "status", "--porcelain", "--untracked-files=no"]
    assert git(worktree, *status) == "M notes.txt"
    monitor = ConflictMonitor(repo, {"alpha.txt": "alpha"}, {}, ["alpha"], predict=True)
    view = WorktreeView("alpha", worktree, start)
    appeared, _ = monitor.round([view], start)
    assert [(c.kind, c.paths) for c in appeared] == [("unowned_edit", ("notes.txt",))]
    git(worktree, "commit", "-q", "-am", "alpha's work")  # as the orchestrator does at exit
    monitor.round([view], start)
    assert [(c.kind, c.paths) for c in monitor.current.values()] == [
        ("unowned_edit", ("notes.txt",))
    ]


def test_predicted_paths_are_real_paths_even_with_unusual_names(repo: Path, tmp_path: Path) -> None:
    start = commit_files(repo, {"café.txt": "x\n", 'say "hi".txt': "x\n"})
    workspace = Workspace(repo)
    views = []
    for task in ("alpha", "beta"):
        worktree = tmp_path / task
        workspace.add_worktree(worktree, f"work/{task}", start)
        (worktree / "café.txt").write_text(f"{task}\n")
        (worktree / 'say "hi".txt').write_text(f"{task}\n")
        views.append(WorktreeView(task, worktree, start))
    monitor = ConflictMonitor(repo, {}, {}, ["alpha", "beta"], predict=True)
    appeared, _ = monitor.round(views, start)
    [overlap_paths] = {c.paths for c in appeared if c.kind == "overlap" and "café.txt" in c.paths}
    assert overlap_paths == ("café.txt",)
    [predicted] = [c for c in appeared if c.kind == "predicted"]
    assert predicted.paths == ("café.txt", 'say "hi".txt')


# -- 8 and 9. status --json, and the console ---------------------------------------------------


def blocked_plan(tmp_path: Path, gate: Path | None = None) -> Path:
    """alpha writes its file; beta writes its own and notes.txt, which no task owns."""
    wait = ["--wait-for", str(gate)] if gate else []
    return write_plan(
        tmp_path / "plan.yaml",
        [
            {"id": "alpha", "files": ["alpha.txt"]},
            {"id": "beta", "files": ["beta.txt"], "agent": "beta"},
        ],
        {"demo": DEMO, "beta": [*DEMO, "--edit-unowned", "notes.txt", *wait]},
        conflicts={"interval": INTERVAL},
    )


def test_status_json_lists_the_conflicts_of_a_blocked_run(repo: Path, tmp_path: Path) -> None:
    result = run_plan(blocked_plan(tmp_path), repo, "--json")
    assert result.code == 1, result.stderr
    run_id = json_events(result)[0]["run_id"]
    status = run_cli("status", "--json", "--repo", str(repo), cwd=repo)
    assert status.code == 0, status.stderr
    [run] = json.loads(status.stdout)["runs"]
    assert run["run_id"] == run_id
    assert run["outcome"] == "failed"
    assert run["exit_code"] == 1
    [conflict] = run["conflicts"]
    assert conflict["kind"] == "unowned_edit"
    assert conflict["tasks"] == ["beta"]
    assert conflict["paths"] == ["notes.txt"]
    assert conflict["policy"] == "block"
    assert conflict["blocks"] == ["beta"]
    assert conflict["owner"] is None
    assert conflict["message"] == "task 'beta' changed notes.txt, which no task owns"


def test_the_console_prints_conflicts_as_they_appear_and_in_the_summary(
    repo: Path, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    with live_run(blocked_plan(tmp_path, gate), repo, gate) as live:
        early = live.read_until(lambda line: line.startswith("!! unowned_edit (block):"))
        assert early[-1] == (
            "!! unowned_edit (block): task 'beta' changed notes.txt, which no task owns"
        )
        assert not [line for line in early if line.startswith("beta") and "exited" in line]
        code, lines, stderr = live.finish()
    assert code == 1, stderr
    summary = lines[lines.index("conflicts:") :]
    assert summary[1] == "  unowned_edit (block): task 'beta' changed notes.txt, which no task owns"
    assert "task 'beta' was not merged" in stderr
