"""Hostile plans: alias bombs, deep nesting, huge files, wrong encodings, control bytes.

Plans come from people and planner agents, so `tui-orch check` must refuse such input the
way it refuses any bad plan: exit 2, nothing on stdout, one located sentence on stderr,
never a traceback, a hang or a memory blow-up. Each case runs the real CLI for the exit
code and the sentence, and `load_plan` in-process for the time: Python's start-up alone is
a third of a second here, so the one-second bound is put on the parse itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import run_cli
from tui_orch.engine.plans.plan import Plan, load_plan
from tui_orch.engine.plans.problems import InputError

PLAN = "plan.yaml"
SECONDS = 1.0
GOOD_PLAN = """\
default_agent: claude
tasks:
  - id: api
    prompt: do it
    files: [a.py]
"""


@dataclass(frozen=True)
class Hostile:
    """A plan file's bytes and the one problem line `check` must print for it."""

    data: bytes
    problem: str


def billion_laughs() -> bytes:
    """The classic alias bomb: nine levels of nine aliases, about 10**9 values expanded."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{','.join([f'*{previous}'] * 9)}]")
    return ("\n".join(lines) + "\n").encode()


def merge_key_bomb() -> bytes:
    """The same through merge keys, which PyYAML's flatten_mapping copies level by level."""
    lines = ["a: &a {x: 1, y: 2}"]
    for previous, name in zip("abcdefghijklmno", "bcdefghijklmnop", strict=True):
        lines.append(f"{name}: &{name} {{<<: [{', '.join([f'*{previous}'] * 8)}]}}")
    return ("\n".join(lines) + "\n").encode()


def deep_block_nesting(levels: int) -> bytes:
    """A mapping in a mapping, `levels` deep, one indented key per line."""
    return ("\n".join(" " * i + f"k{i}:" for i in range(levels)) + " x\n").encode()


def padded_to(total: int) -> bytes:
    """A good plan, then 64-byte comment lines up to `total` bytes."""
    head = GOOD_PLAN.encode()
    line = b"#" + b"x" * 62 + b"\n"
    return head + line * ((total - len(head)) // len(line))


def plan_with_id(task_id: str) -> bytes:
    return GOOD_PLAN.replace("id: api", f"id: {task_id}").encode()


ALIASES = "a plan needs far fewer, so use fewer aliases"
TOO_DEEP = "the YAML nests deeper than 64 levels; a plan needs far fewer"
CANNOT_HOLD = "which YAML text cannot hold"
OVER_1_MIB = padded_to(1_100_000)  # 5 plan lines, then byte 1,048,577 is on line 16,388

HOSTILE = {
    "alias-bomb": Hostile(
        billion_laughs(),
        "plan.yaml:5: YAML aliases expand this document to more than 10,000 values "
        f"(at the alias '*d' on this line); {ALIASES}",
    ),
    "merge-key-bomb": Hostile(
        merge_key_bomb(),
        "plan.yaml:5: YAML aliases expand this document to more than 10,000 values "
        f"(at the alias '*d' on this line); {ALIASES}",
    ),
    "recursive-alias": Hostile(
        b"a: &a [*a]\n",
        "plan.yaml:1: the alias '*a' is inside the value it names, so it would repeat "
        "forever; write that part out instead",
    ),
    "flow-nesting-10000-deep": Hostile(
        b"[" * 10_000 + b"]" * 10_000 + b"\n", f"plan.yaml:1: {TOO_DEEP}"
    ),
    # ~990 KB, under the size limit: the depth stops it, at the 65th level (line 64's key).
    "block-nesting-1400-deep": Hostile(deep_block_nesting(1400), f"plan.yaml:64: {TOO_DEEP}"),
    "over-1-mib": Hostile(
        OVER_1_MIB,
        "plan.yaml:16388: the file is 1.0 MiB (1,099,981 bytes); a plan or config file may be "
        "at most 1 MiB (1,048,576 bytes), so split the work into smaller plans",
    ),
    "flat-list-over-the-value-limit": Hostile(
        b"tasks:\n" + b"- a\n" * 20_000,
        "plan.yaml:9999: the YAML holds more than 10,000 values (counting keys, lists and "
        "mappings); a plan needs far fewer, so split the work into smaller plans",
    ),
    "utf-16-le-without-bom": Hostile(
        GOOD_PLAN.encode("utf-16-le"),
        f"plan.yaml:1: a NUL byte (column 2), {CANNOT_HOLD}; is the file UTF-16? save it as UTF-8",
    ),
    "utf-16-be-without-bom": Hostile(
        GOOD_PLAN.encode("utf-16-be"),
        f"plan.yaml:1: a NUL byte (column 1), {CANNOT_HOLD}; is the file UTF-16? save it as UTF-8",
    ),
    "utf-16-with-bom": Hostile(
        b"\xff\xfe" + GOOD_PLAN.encode("utf-16-le"),
        "plan.yaml:1: the file is UTF-16 (it starts with a UTF-16 byte-order mark); "
        "save it as UTF-8",
    ),
    "nul-byte": Hostile(
        GOOD_PLAN.replace("do it", "do\0it").encode(),
        f"plan.yaml:4: a NUL byte (column 15), {CANNOT_HOLD}; is the file UTF-16? save it as UTF-8",
    ),
    "escape-character": Hostile(
        GOOD_PLAN.replace("do it", "do\x1b[1mit").encode(),
        f"plan.yaml:4: a control character U+001B (column 15), {CANNOT_HOLD}; delete it, "
        'or write it as \\x1b inside double quotes ("...")',
    ),
    "task-id-of-65-characters": Hostile(
        plan_with_id("a" * 65),
        f"plan.yaml:3: tasks[0].id: '{'a' * 37}...' is not a safe task id: "
        "it is 65 characters long; use at most 64",
    ),
}


def write(directory: Path, data: bytes) -> Path:
    path = directory / PLAN
    path.write_bytes(data)
    return path


def timed_load(path: Path) -> tuple[Plan | InputError, float]:
    """load_plan's result (or its InputError) and how long it took, in seconds."""
    start = time.perf_counter()
    try:
        result: Plan | InputError = load_plan(path, label=PLAN)
    except InputError as error:
        result = error
    return result, time.perf_counter() - start


@pytest.mark.parametrize("case", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_plan_is_one_located_sentence(outside_repo: Path, case: Hostile) -> None:
    write(outside_repo, case.data)
    result = run_cli("check", PLAN, cwd=outside_repo)
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr
    assert result.code == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == [case.problem, "1 problem found; nothing was run."]


@pytest.mark.parametrize("case", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_plan_is_refused_within_a_second(tmp_path: Path, case: Hostile) -> None:
    outcome, seconds = timed_load(write(tmp_path, case.data))
    assert isinstance(outcome, InputError)
    assert [str(problem) for problem in outcome.problems] == [case.problem]
    assert seconds < SECONDS, f"took {seconds:.2f} s"


def test_task_id_of_64_characters_is_accepted(outside_repo: Path) -> None:
    write(outside_repo, plan_with_id("a" * 64))
    result = run_cli("check", PLAN, cwd=outside_repo)
    assert result.code == 0, result.stderr
    assert "a" * 64 in result.stdout
    outcome, seconds = timed_load(outside_repo / PLAN)
    assert isinstance(outcome, Plan)
    assert seconds < SECONDS, f"took {seconds:.2f} s"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"\xff\xfe\x00\x00" + GOOD_PLAN.encode("utf-32-le"), "UTF-32"),
        (b"\x00\x00\xfe\xff" + GOOD_PLAN.encode("utf-32-be"), "UTF-32"),
        (b"\xfe\xff" + GOOD_PLAN.encode("utf-16-be"), "UTF-16"),
    ],
    ids=["utf-32-le", "utf-32-be", "utf-16-be"],
)
def test_other_byte_order_marks_are_named(tmp_path: Path, data: bytes, problem: str) -> None:
    outcome, _ = timed_load(write(tmp_path, data))
    assert isinstance(outcome, InputError)
    assert [str(p) for p in outcome.problems] == [
        f"plan.yaml:1: the file is {problem} (it starts with a {problem} byte-order mark); "
        "save it as UTF-8"
    ]


def test_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    outcome, _ = timed_load(write(tmp_path, b"\xef\xbb\xbf" + GOOD_PLAN.encode()))
    assert isinstance(outcome, Plan)
    assert [task.id for task in outcome.tasks] == ["api"]


def test_plan_of_exactly_1_mib_is_read(tmp_path: Path) -> None:
    data = padded_to(1024 * 1024)
    data += b"#" * (1024 * 1024 - len(data))
    assert len(data) == 1024 * 1024
    outcome, _ = timed_load(write(tmp_path, data))
    assert isinstance(outcome, Plan)


@pytest.mark.parametrize(
    ("yaml_text", "problem"),
    [
        (
            "a: &x [1]\nb: &x [2]\n",
            "plan.yaml:2: YAML syntax error: the anchor '&x' is already defined at line 1; "
            "give this one another name",
        ),
        (
            "a: *nowhere\n",
            "plan.yaml:1: YAML syntax error: the alias '*nowhere' names no anchor defined "
            "before it; put '&nowhere' on the value it stands for, above this line",
        ),
        (
            # the alias is at level 64, and what it names is 2 levels deep
            "a: &a [1]\nb: " + "[" * 62 + "*a" + "]" * 62 + "\n",
            "plan.yaml:2: the alias '*a' makes the YAML nest deeper than 64 levels; "
            "a plan needs far fewer",
        ),
    ],
    ids=["duplicate-anchor", "undefined-alias", "alias-past-the-depth-limit"],
)
def test_anchor_and_alias_mistakes(tmp_path: Path, yaml_text: str, problem: str) -> None:
    outcome, _ = timed_load(write(tmp_path, yaml_text.encode()))
    assert isinstance(outcome, InputError)
    assert [str(p) for p in outcome.problems] == [problem]


def test_unreadable_values_are_problems_not_crashes(tmp_path: Path) -> None:
    """PyYAML's constructors raise ValueError for impossible dates and the like."""
    text = GOOD_PLAN + "goal: 2024-13-45\nbase: 0x" + "f" * 3000 + "\n"
    outcome, _ = timed_load(write(tmp_path, text.encode()))
    assert isinstance(outcome, InputError)
    assert [str(p) for p in outcome.problems] == [
        "plan.yaml:6: goal: '2024-13-45' cannot be read as !!timestamp "
        "(month must be in 1..12); quote it to make it text",
        "plan.yaml:7: base: this number is far too large for any plan field; "
        "quote it to make it text",
    ]


def test_merged_mapping_reached_twice_keeps_its_own_keys(tmp_path: Path) -> None:
    """A mapping with a merge key, used again through an alias, is already flattened the
    second time: its own keys must still win, and not be reported as given twice."""
    text = GOOD_PLAN.replace("claude", "quick2") + (
        "agents:\n"
        "  base: &base {command: [claude, '{prompt}'], timeout: 10m}\n"
        "  quick: &quick {<<: *base, timeout: 1m}\n"
        "  quick2: *quick\n"
    )
    outcome, _ = timed_load(write(tmp_path, text.encode()))
    assert isinstance(outcome, Plan), outcome
    assert outcome.agents["quick2"].timeout == 60
    assert outcome.agents["quick2"].command == ("claude", "{prompt}")


YAML_PUNCTUATION = st.sampled_from(
    [*"[]{}:-&*!|>'\"\n #,?%@`", *"abcxyz019", "<<", "&a", "*a", "!!", "tasks:", "- id: "]
)
RANDOM_INPUTS = st.one_of(
    st.binary(max_size=400),
    st.lists(YAML_PUNCTUATION, max_size=80).map(lambda parts: "".join(parts).encode()),
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=RANDOM_INPUTS)
def test_random_input_is_a_plan_or_input_error(tmp_path: Path, data: bytes) -> None:
    """Whatever the bytes, load_plan returns a Plan or raises InputError, within a second,
    and every problem is one line."""
    outcome, seconds = timed_load(write(tmp_path, data))
    assert isinstance(outcome, Plan | InputError)
    if isinstance(outcome, InputError):
        assert all("\n" not in str(problem) for problem in outcome.problems)
    assert seconds < SECONDS, f"took {seconds:.2f} s"
