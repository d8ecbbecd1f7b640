"""Output adapters on lines recorded from the real CLIs (tests/samples/) and on the
lines a stream can also hold: malformed, truncated, unknown, not JSON at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import run_cli
from tests.run_helpers import run_plan, script_agent, write_plan
from tui_orch.engine.agents.adapters.claude_stream import ClaudeStreamAdapter
from tui_orch.engine.agents.adapters.formats import adapter_for
from tui_orch.engine.agents.adapters.report import Activity, Report

SAMPLES = Path(__file__).parent / "samples"


def read_all(adapter: ClaudeStreamAdapter, name: str) -> list[Report]:
    lines = (SAMPLES / "claude" / name).read_text(encoding="utf-8").splitlines()
    return [adapter.read(line) for line in lines]


def test_a_real_claude_stream_reads_as_lines_a_person_reads() -> None:
    reports = read_all(ClaudeStreamAdapter(), "write_two_files.jsonl")
    shown = [line for report in reports for line in report.lines]
    assert shown == [
        "● Claude Code 2.1.197 · claude-opus-4-8[1m] · acceptEdits",
        "→ Write src/alpha.py",
        "→ Write docs/alpha.md",
        # A result's first line, cut to 100 characters.
        "  File created successfully at: src/alpha.py (file state is current in your context — "
        "no need to Read…",
        "  File created successfully at: docs/alpha.md (file state is current in your context — "
        "no need to Rea…",
        "done",
        "✔ done",
    ]
    assert not any(line.lstrip().startswith("{") for line in shown)  # no JSON on screen
    assert [r.activity for r in reports] == [
        Activity.THINKING,
        Activity.RUNNING_TOOL,
        Activity.RUNNING_TOOL,
        Activity.THINKING,
        Activity.THINKING,
        Activity.THINKING,
        Activity.DONE,
    ]
    assert reports[1].tool == "Write"
    assert reports[0].session_id == "7cbbced1-97bc-4114-88de-7ec7b2e3d0a3"
    final = reports[-1]
    assert final.final_message == "done"
    assert final.usage is not None
    assert (final.usage.input_tokens, final.usage.output_tokens, final.usage.tokens) == (20, 20, 40)
    assert final.usage.cost_usd == pytest.approx(0.0006)
    assert not any(report.refusals for report in reports)


def test_refused_edits_are_counted_once_each_and_never_look_like_success() -> None:
    """Under .git/ the real CLI refuses every Write (is_error results) and still ends
    with a 'success' result listing them again in permission_denials."""
    reports = read_all(ClaudeStreamAdapter(), "refused_under_dot_git.jsonl")
    refusals = [refusal for report in reports for refusal in report.refusals]
    assert len(refusals) == 2  # the two calls, not four: the denials repeat them
    assert refusals[0].startswith("Write src/alpha.py: Claude requested permissions to edit")
    shown = [line for report in reports for line in report.lines]
    assert sum(line.startswith("✗ Write") for line in shown) == 2


@pytest.mark.parametrize(
    "raw",
    [
        "plain text from a wrapper script",
        '{"type": "assistant", "message": {"content": [{"type": "text", "text": "cut he',
        '["a", "list"]',
        "42",
        '{"type": "assistant", "message": "not an object"}',
        '{"type": "user", "message": {"content": [{"type": "tool_result", "content": 7}]}}',
        '{"type": "result", "usage": [], "permission_denials": ["x"], "subtype": "success"}',
    ],
)
def test_lines_that_are_not_what_a_stream_should_hold_never_raise(raw: str) -> None:
    report = ClaudeStreamAdapter().read(raw)
    assert isinstance(report, Report)
    if not raw.startswith("{"):
        assert report.lines == [raw]  # shown as it is


def test_unknown_event_types_and_empty_lines_show_nothing() -> None:
    adapter = ClaudeStreamAdapter()
    assert adapter.read('{"type": "stream_event", "event": {}}').lines == []
    assert adapter.read('{"subtype": "status", "type": "system"}').lines == []
    assert adapter.read("").lines == []


def test_tool_calls_read_as_one_line_each_whatever_the_key_order() -> None:
    adapter = ClaudeStreamAdapter()
    adapter.read(json.dumps({"cwd": "/w", "subtype": "init", "type": "system"}))
    calls = [
        ("Bash", {"command": "pytest -q\necho done", "description": "run tests"}, "$ pytest -q"),
        ("Edit", {"old_string": "a", "file_path": "/w/src/auth.py"}, "Edit src/auth.py"),
        ("Grep", {"pattern": "def login"}, "Grep def login"),
        ("TodoWrite", {}, "TodoWrite"),
    ]  # fmt: skip
    for name, given, shown in calls:
        line = {"message": {"content": [{"input": given, "name": name, "type": "tool_use"}]}}
        report = adapter.read(json.dumps({**line, "type": "assistant"}))
        assert report.lines == [f"→ {shown}"]
        assert (report.activity, report.tool) == (Activity.RUNNING_TOOL, name)


def test_a_failed_result_and_a_rate_limit_say_so() -> None:
    adapter = ClaudeStreamAdapter()
    failed = adapter.read(
        json.dumps({"type": "result", "subtype": "error_max_turns", "is_error": True, "result": ""})
    )
    assert failed.activity is Activity.FAILED and failed.lines == ["✗ error_max_turns"]
    limited = adapter.read(
        json.dumps(
            {
                "type": "rate_limit_event",
                "rate_limit_info": {"status": "rejected", "resetsAt": 1_900_000_000},
            }
        )
    )
    assert limited.activity is Activity.RATE_LIMITED
    assert limited.lines[0].startswith("rate limited (rejected) until ")
    allowed = {"type": "rate_limit_event", "rate_limit_info": {"status": "allowed"}}
    assert adapter.read(json.dumps(allowed)) == Report()


def test_text_agents_show_every_line_unchanged() -> None:
    adapter = adapter_for("text")
    assert adapter.read('{"type": "result"}').lines == ['{"type": "result"}']
    assert adapter_for("no-such-format").read("x").lines == ["x"]


def test_a_run_shows_a_structured_agent_s_stream_and_records_what_it_reported(
    repo: Path, tmp_path: Path
) -> None:
    """End to end with a recorded Claude Code stream played back by a script agent: the
    console shows readable lines, the log keeps the raw stream, status has the report."""
    sample = SAMPLES / "claude" / "write_two_files.jsonl"
    agent = script_agent(
        tmp_path,
        "replay",
        f"""
        import json
        recorded = pathlib.Path({str(sample)!r}).read_text().splitlines()
        cwd = json.loads(recorded[0])["cwd"]
        for line in recorded:
            print(line.replace(cwd, os.getcwd()), flush=True)
        for name in FILES:
            pathlib.Path(name).write_text(f"written by {{TASK}}\\n")
        """,
    )
    plan = write_plan(tmp_path / "plan.yaml", [{"id": "alpha", "files": ["a.txt"]}], {"c": agent})
    data = yaml.safe_load(plan.read_text())
    data["agents"]["c"]["format"] = "claude-stream-json"
    plan.write_text(yaml.safe_dump(data))

    result = run_plan(plan, repo)
    assert result.code == 0, result.stderr
    assert "alpha | → Write src/alpha.py" in result.stdout
    assert "alpha | ✔ done" in result.stdout
    assert '"type"' not in result.stdout  # no JSON on the console
    status = run_cli("status", "--repo", str(repo), "--json", cwd=repo)
    (task,) = json.loads(status.stdout)["runs"][0]["tasks"]
    assert (task["state"], task["activity"], task["tokens"]) == ("merged", "done", 40)
    assert task["cost_usd"] == pytest.approx(0.0006)
    assert task["session_id"] == "7cbbced1-97bc-4114-88de-7ec7b2e3d0a3"
    log = next((repo / ".git" / "tui-orch" / "runs").glob("*/logs/alpha.log")).read_text()
    assert log.startswith('{"type":"system"')


def test_a_dependent_task_is_told_what_its_dependencies_agents_said_last(
    repo: Path, tmp_path: Path
) -> None:
    """A structured agent's final message is kept in the run's folder and handed to the
    agents of the tasks that depend on it, in their prompts."""
    sample = SAMPLES / "claude" / "write_two_files.jsonl"
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    agent = script_agent(
        tmp_path,
        "replay",
        f"""
        prompt = pathlib.Path(os.environ["TUI_ORCH_PROMPT_FILE"]).read_text()
        pathlib.Path({str(prompts)!r}, TASK).write_text(prompt)
        for line in pathlib.Path({str(sample)!r}).read_text().splitlines():
            print(line, flush=True)  # its final message: "done"
        for name in FILES:
            pathlib.Path(name).write_text(f"written by {{TASK}}\\n")
        """,
    )
    plan = write_plan(
        tmp_path / "plan.yaml",
        [
            {"id": "a", "files": ["a.txt"]},
            {"id": "b", "files": ["b.txt"], "depends_on": ["a"]},
        ],
        {"c": agent},
    )
    data = yaml.safe_load(plan.read_text())
    data["agents"]["c"]["format"] = "claude-stream-json"
    plan.write_text(yaml.safe_dump(data))

    result = run_plan(plan, repo)
    assert result.code == 0, result.stderr
    told = (prompts / "b").read_text()
    assert "What the agents of the tasks this one depends on said when they finished" in told
    assert "[a]\ndone\n" in told
    assert "said when they finished" not in (prompts / "a").read_text()  # a depends on none
    kept = next((repo / ".git" / "tui-orch" / "runs").glob("*/jobs/a/final-message.md"))
    assert kept.read_text() == "done"


def test_an_api_error_429_reads_as_a_rate_limit_not_a_failure() -> None:
    """The real CLI answered with HTTP 429 (told not to retry) ends with an error result
    whose api_error_status is 429: the agent is rate-limited, with no reset time."""
    reports = read_all(ClaudeStreamAdapter(), "rate_limited_429.jsonl")
    last = reports[-1]
    assert last.activity is Activity.RATE_LIMITED and last.resets_at is None
    assert last.lines == [
        "rate limited: API Error: Request rejected (429) · This request would exceed your "
        "account's rate limit. Please try…"
    ]
    assert last.session_id
