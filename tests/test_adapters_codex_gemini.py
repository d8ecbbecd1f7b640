"""The Codex and Gemini CLI adapters on streams recorded from the real CLIs
(tests/samples/codex, tests/samples/gemini: each CLI run against the scripted model
server) and on lines a stream can also hold: malformed, truncated, unknown, not JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tui_orch.engine.agents.adapters.codex_json import CodexJsonAdapter
from tui_orch.engine.agents.adapters.formats import OUTPUT_FORMATS, adapter_for
from tui_orch.engine.agents.adapters.gemini_stream import GeminiStreamAdapter
from tui_orch.engine.agents.adapters.report import Activity, OutputAdapter, Report

SAMPLES = Path(__file__).parent / "samples"


def read_all(adapter: OutputAdapter, sample: str) -> list[Report]:
    lines = (SAMPLES / sample).read_text(encoding="utf-8").splitlines()
    return [adapter.read(line) for line in lines]


def shown(reports: list[Report]) -> list[str]:
    return [line for report in reports for line in report.lines]


def test_a_real_codex_stream_reads_as_lines_a_person_reads() -> None:
    reports = read_all(CodexJsonAdapter("/tmp/cx/repo2"), "codex/commands_and_patch.jsonl")
    assert shown(reports) == [
        "● Codex · thread 01a23dc9-0799-7721-8a74-7fab0aa40b90",
        "! Model metadata for `gpt-5-codex` not found. Defaulting to fallback metadata; "
        "this can degrade perfo…",
        "→ $ ls",  # without Codex's `/bin/bash -lc` wrapper
        "  README.md",
        "→ $ cat missing.txt",
        "✗ $ cat missing.txt: exit 1: cat: missing.txt: No such file or directory",
        "→ Add src/alpha.py",  # its apply_patch, relative to the worktree
        "I added the files.",
        "All done.",
        "✔ I added the files.",
    ]
    assert reports[0].session_id == "01a23dc9-0799-7721-8a74-7fab0aa40b90"
    assert (reports[3].activity, reports[3].tool) == (Activity.RUNNING_TOOL, "shell")
    refusals = [refusal for report in reports for refusal in report.refusals]
    assert refusals == ["$ cat missing.txt: exit 1: cat: missing.txt: No such file or directory"]
    final = reports[-1]
    assert final.activity is Activity.DONE
    assert final.final_message == "I added the files.\nAll done."
    assert final.usage is not None and final.usage.cost_usd is None  # tokens only
    # Codex counts cached input inside input_tokens: shown apart, never twice.
    assert (final.usage.input_tokens, final.usage.cache_read_tokens) == (400, 100)
    assert (final.usage.output_tokens, final.usage.tokens) == (50, 550)


def test_a_codex_api_error_fails_the_agent_with_the_provider_s_own_words() -> None:
    reports = read_all(CodexJsonAdapter(), "codex/api_error.jsonl")
    assert shown(reports)[-2:] == ["! scripted failure", "✗ scripted failure"]
    assert reports[-1].activity is Activity.FAILED
    assert reports[-1].final_message == "scripted failure"


def test_codex_rate_limits_and_refused_patches_say_so() -> None:
    adapter = CodexJsonAdapter("/w")
    limited = adapter.read(
        json.dumps(
            {
                "type": "turn.failed",
                "error": {"message": "exceeded retry limit, last status: 429 Too Many Requests"},
            }
        )
    )
    assert limited.activity is Activity.RATE_LIMITED
    patch = {
        "type": "item.completed",
        "item": {
            "id": "item_3",
            "type": "file_change",
            "status": "failed",
            "changes": [{"path": "/w/src/a.py", "kind": "update"}],
        },
    }
    refused = adapter.read(json.dumps(patch))
    assert refused.refusals == ["Edit src/a.py: the patch was not applied"]
    assert refused.lines == ["✗ Edit src/a.py: the patch was not applied"]


def test_a_real_gemini_stream_reads_as_lines_and_counts_its_refusals() -> None:
    reports = read_all(GeminiStreamAdapter("/tmp/cx/grepo2"), "gemini/refused_then_written.jsonl")
    lines = shown(reports)
    assert lines[:3] == [
        "● Gemini CLI · gemini-2.5-flash",
        "Let me look around first.",
        "→ $ ls -la",
    ]
    assert lines[-4:] == [
        "→ Write src/alpha.py",
        "I wrote src/alpha.py.",
        "The shell command was not allowed.",
        "✔ I wrote src/alpha.py.",
    ]
    assert not any(line.startswith("{") for line in lines)
    refusals = [refusal for report in reports for refusal in report.refusals]
    assert len(refusals) == 2
    assert refusals[0].startswith('$ ls -la: Tool "run_shell_command" not found')
    assert refusals[1].startswith("Write /etc/outside.txt: Path not in workspace")
    assert reports[0].session_id == "11111111-2222-4333-8444-555555555555"
    final = reports[-1]
    assert final.activity is Activity.DONE
    assert final.final_message == "I wrote src/alpha.py.\nThe shell command was not allowed."
    assert final.usage is not None and final.usage.cost_usd is None
    assert (final.usage.input_tokens, final.usage.cache_read_tokens) == (320, 80)
    assert final.usage.output_tokens == 40


def test_a_gemini_error_result_fails_the_agent_and_spends_nothing() -> None:
    reports = read_all(GeminiStreamAdapter(), "gemini/api_error.jsonl")
    assert reports[-1].activity is Activity.FAILED
    assert reports[-1].lines == ["✗ [API Error: Incomplete JSON segment at the end]"]
    assert reports[-1].usage is None  # zero tokens: not a usage report


def test_gemini_text_in_chunks_is_shown_by_whole_lines() -> None:
    adapter = GeminiStreamAdapter()
    chunks = ["Hel", "lo\nWor", "ld"]
    reports = [
        adapter.read(json.dumps({"type": "message", "role": "assistant", "content": c}))
        for c in chunks
    ]
    assert shown(reports) == ["Hello"]
    tool = {"type": "tool_use", "tool_name": "glob", "tool_id": "t1", "parameters": {}}
    assert adapter.read(json.dumps(tool)).lines == ["World", "→ glob"]
    quota = {"type": "result", "status": "error", "error": {"message": "RESOURCE_EXHAUSTED"}}
    assert adapter.read(json.dumps(quota)).activity is Activity.RATE_LIMITED


@pytest.mark.parametrize("output_format", ["codex-json", "gemini-stream-json"])
@pytest.mark.parametrize(
    "raw",
    [
        "plain text from a wrapper script",
        '{"type": "item.completed", "item": {"type": "agent_message", "text": "cut he',
        '["a", "list"]',
        "42",
        '{"type": "item.completed", "item": "not an object"}',
        '{"type": "item.completed", "item": {"type": "file_change", "changes": "x"}}',
        '{"type": "turn.completed", "usage": []}',
        '{"type": "tool_result", "tool_id": 7, "status": "error", "error": "flat"}',
        '{"type": "result", "stats": [], "status": "success"}',
        '{"type": "message", "role": "assistant", "content": ["x"]}',
    ],
)
def test_lines_that_are_not_what_a_stream_should_hold_never_raise(
    output_format: str, raw: str
) -> None:
    report = adapter_for(output_format).read(raw)
    assert isinstance(report, Report)
    if not raw.startswith("{"):
        assert report.lines == [raw]  # shown as it is


@pytest.mark.parametrize("output_format", ["codex-json", "gemini-stream-json"])
def test_unknown_event_types_and_empty_lines_show_nothing(output_format: str) -> None:
    adapter = adapter_for(output_format)
    assert adapter.read('{"type": "session.configured", "x": 1}').lines == []
    assert adapter.read("").lines == []


def test_every_format_has_an_adapter() -> None:
    assert set(OUTPUT_FORMATS) == {"text", "claude-stream-json", "codex-json", "gemini-stream-json"}
