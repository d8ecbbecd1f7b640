"""A scripted stand-in for the Anthropic Messages API, for running the real Claude Code CLI.

Claude Code talks to whatever ``ANTHROPIC_BASE_URL`` names. This server answers it with a
fixed script instead of a model, so a test can run the real CLI end to end (its tools
really write files) with no network and no account:

1. a request that offers a ``Write`` tool, whose last user message carries no tool result,
   gets one ``tool_use`` block per file the tui-orch task owns, writing a line naming the
   task (the files and the task id are read from tui-orch's prompt, the working directory
   from Claude Code's system prompt);
2. once the tool results come back, the answer is the text "done" (``end_turn``);
3. any request without tools (a session title, a summary, a quota check) gets a short
   text, a JSON title, which satisfies the one side request the CLI was seen to make.

Everything else (``count_tokens``, ``HEAD /``, telemetry) gets an empty success. Every
request is recorded, in memory and optionally as JSON lines in a file, so tests can assert
on what the CLI asked and a failure can be debugged.

Only the standard library: it runs in a thread of the test process.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

TASK_RE = re.compile(r"You are working on task '([^']+)'")
FILES_RE = re.compile(r"Create or edit only these files:\n((?:- .+\n?)+)")
# Where each CLI says its working directory is. Claude Code 2.x: " - Primary working
# directory: /path" in the system prompt's environment; Codex: "<cwd>/path</cwd>" in its
# environment context; Gemini CLI: "Workspace Directories:**" and "  - /path" below it.
CWD_RE = re.compile(
    r"(?:Primary working|Working) directory: (?P<claude>/[^\n]+)"
    r"|<cwd>(?P<codex>/[^<]+)</cwd>"
    r"|Workspace Directories:\**\n\s*- (?P<gemini>/[^\n]+)"
)


def file_content(task_id: str, relative_path: str) -> str:
    """What the script writes into each owned file; tests compare against it.

    A `#` line: a comment in Python (tui-orch compiles merged .py files), a heading in
    Markdown, plain text elsewhere."""
    return f"# written by the scripted model for task {task_id}: {relative_path}\n"


@dataclass
class Recorded:
    """One HTTP request the CLI made."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any  # the parsed JSON body, or the raw text when it is not JSON, or None


@dataclass
class Reply:
    """A scripted assistant message: its content blocks and why it stopped."""

    content: list[dict[str, Any]]
    stop_reason: str | None = "end_turn"  # None only in the stream's message_start


def _texts(content: Any) -> Iterator[str]:
    """Every text in a message's content (a string, or a list of blocks)."""
    if isinstance(content, str):
        yield content
    elif isinstance(content, list):
        for block in content:
            if isinstance(block, dict) and isinstance(block.get("text"), str):
                yield block["text"]


def _all_text(body: dict[str, Any]) -> str:
    """The system prompt and every message's text, joined: where the script looks for
    the task, its files and the working directory (Claude Code may move the environment
    section from the system prompt into the first user message)."""
    parts = list(_texts(body.get("system")))
    for message in body.get("messages", []):
        parts.extend(_texts(message.get("content")))
    return "\n".join(parts)


def _has_tool_result(message: dict[str, Any]) -> bool:
    content = message.get("content")
    return isinstance(content, list) and any(
        isinstance(block, dict) and block.get("type") == "tool_result" for block in content
    )


def _offers_tool(body: dict[str, Any], name: str) -> bool:
    return any(tool.get("name") == name for tool in body.get("tools") or [])


@dataclass(frozen=True)
class Work:
    """What tui-orch's prompt asks of an agent: the task, its files, where it runs."""

    task_id: str
    root: Path
    files: tuple[str, ...]

    def contents(self) -> dict[str, str]:
        return {relative: file_content(self.task_id, relative) for relative in self.files}


def find_work(text: str) -> Work | None:
    """The task, files and working directory named in an agent's prompt, if it has them."""
    task, files, cwd = TASK_RE.search(text), FILES_RE.search(text), CWD_RE.search(text)
    if not (task and files and cwd):
        return None
    relative = [line.removeprefix("- ").strip() for line in files.group(1).splitlines()]
    root = Path(next(found for found in cwd.groups() if found).strip())
    return Work(task.group(1), root, tuple(relative))


NO_TASK = "no tui-orch task found in the prompt"


def _messages_answered(body: dict[str, Any]) -> bool:
    """Whether a Messages request carries tool results: in its last *user* message
    (Claude Code also sends role "system" messages mid-conversation)."""
    users = [m for m in body.get("messages") or [] if m.get("role") == "user"]
    return bool(users) and _has_tool_result(users[-1])


def script(body: dict[str, Any], next_id: Callable[[], int]) -> Reply:
    """The answer to one Messages API request (the whole script lives here)."""
    if not _offers_tool(body, "Write"):
        # Side requests: a session title (asked for as JSON), a summary, a quota check.
        return Reply([{"type": "text", "text": '{"title": "Scripted task"}'}])
    if _messages_answered(body):
        return Reply([{"type": "text", "text": "done"}])
    work = find_work(_all_text(body))
    if work is None:
        return Reply([{"type": "text", "text": NO_TASK}])
    uses = [
        {
            "type": "tool_use",
            "id": f"toolu_{next_id():08d}",
            "name": "Write",
            "input": {"file_path": str(work.root / relative), "content": content},
        }
        for relative, content in work.contents().items()
    ]
    return Reply(uses, stop_reason="tool_use")


def _message(body: dict[str, Any], reply: Reply, message_id: str) -> dict[str, Any]:
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "scripted"),
        "content": reply.content,
        "stop_reason": reply.stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 10},
    }


def _sse(body: dict[str, Any], reply: Reply, message_id: str) -> bytes:
    """The streaming form of a reply: the event sequence the Messages API sends, each
    block started empty, filled by one delta, and stopped."""
    start = _message(body, Reply([], stop_reason=None), message_id)
    start["usage"] = {"input_tokens": 10, "output_tokens": 1}
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    for index, block in enumerate(reply.content):
        if block["type"] == "text":
            empty = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": block["text"]}
        else:
            empty = {**block, "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        events += [
            {"type": "content_block_start", "index": index, "content_block": empty},
            {"type": "content_block_delta", "index": index, "delta": delta},
            {"type": "content_block_stop", "index": index},
        ]
    events += [
        {
            "type": "message_delta",
            "delta": {"stop_reason": reply.stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": 10},
        },
        {"type": "message_stop"},
    ]
    return b"".join(
        f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode() for event in events
    )


# --- The OpenAI Responses API, as Codex speaks it ----------------------------------------


def _response_items_text(body: dict[str, Any]) -> str:
    """Every input text of a Responses request, joined (instructions included)."""
    parts = [str(body.get("instructions") or "")]
    for item in body.get("input") or []:
        if isinstance(item, dict) and item.get("type") == "message":
            parts.extend(_texts(item.get("content")))
    return "\n".join(parts)


def _offers_function(body: dict[str, Any], name: str) -> bool:
    return any(tool.get("name") == name for tool in body.get("tools") or [])


def patch_for(work: Work) -> str:
    """A shell command that adds the task's files through Codex's own `apply_patch`
    (Codex recognises it inside exec_command and reports a file change)."""
    lines = ["apply_patch <<'PATCH'", "*** Begin Patch"]
    for relative, content in work.contents().items():
        lines.append(f"*** Add File: {relative}")
        lines += [f"+{line}" for line in content.splitlines()]
    lines += ["*** End Patch", "PATCH"]
    return "\n".join(lines)


def _responses_answered(body: dict[str, Any]) -> bool:
    """Whether a Responses request ends with a tool's output."""
    items = [item for item in body.get("input") or [] if isinstance(item, dict)]
    return bool(items) and items[-1].get("type") == "function_call_output"


def responses_script(body: dict[str, Any], next_id: Callable[[], int]) -> list[dict[str, Any]]:
    """The output items answering one Responses request: the task's files added with
    one `exec_command` call, then, once its output came back, the text "done"."""
    if not _offers_function(body, "exec_command"):
        return [_output_text("Scripted task", next_id)]
    if _responses_answered(body):
        return [_output_text("done", next_id)]
    work = find_work(_response_items_text(body))
    if work is None:
        return [_output_text(NO_TASK, next_id)]
    call = {
        "type": "function_call",
        "id": f"fc_{next_id():08d}",
        "call_id": f"call_{next_id():08d}",
        "name": "exec_command",
        "arguments": json.dumps({"cmd": patch_for(work)}),
    }
    return [call]


def _output_text(text: str, next_id: Callable[[], int]) -> dict[str, Any]:
    return {
        "type": "message",
        "id": f"msg_{next_id():08d}",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def _responses_sse(items: list[dict[str, Any]], response_id: str) -> bytes:
    """The streaming form: created, each item added and done, completed with usage."""
    usage = {
        "input_tokens": 100,
        "input_tokens_details": {"cached_tokens": 20},
        "output_tokens": 10,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 110,
    }
    response = {"id": response_id, "object": "response", "status": "in_progress", "output": []}
    events: list[dict[str, Any]] = [{"type": "response.created", "response": response}]
    for index, item in enumerate(items):
        events += [
            {"type": "response.output_item.added", "output_index": index, "item": item},
            {"type": "response.output_item.done", "output_index": index, "item": item},
        ]
    done = {**response, "status": "completed", "output": items, "usage": usage}
    events.append({"type": "response.completed", "response": done})
    return b"".join(
        f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode() for event in events
    )


# --- The Gemini API, as Gemini CLI speaks it ---------------------------------------------


def _gemini_text(body: dict[str, Any]) -> str:
    """The system instruction and every text part of a generateContent request."""
    parts = []
    for content in [body.get("systemInstruction"), *(body.get("contents") or [])]:
        for part in (content or {}).get("parts") or []:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
    return "\n".join(parts)


def _gemini_offers(body: dict[str, Any], name: str) -> bool:
    return any(
        declaration.get("name") == name
        for tool in body.get("tools") or []
        for declaration in tool.get("functionDeclarations") or []
    )


def _gemini_answered(body: dict[str, Any]) -> bool:
    """Whether a generateContent request's last content carries function responses."""
    contents = [c for c in body.get("contents") or [] if isinstance(c, dict)]
    parts = contents[-1].get("parts") or [] if contents else []
    return any(isinstance(part, dict) and "functionResponse" in part for part in parts)


def gemini_script(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The parts answering one generateContent request: a `write_file` call per owned
    file, then, once their responses came back, the text "done"."""
    if not _gemini_offers(body, "write_file"):
        return [{"text": "Scripted task"}]
    if _gemini_answered(body):
        return [{"text": "done"}]
    work = find_work(_gemini_text(body))
    if work is None:
        return [{"text": NO_TASK}]
    return [
        {
            "functionCall": {
                "name": "write_file",
                "args": {"file_path": str(work.root / relative), "content": content},
            }
        }
        for relative, content in work.contents().items()
    ]


def _gemini_response(parts: list[dict[str, Any]], model: str) -> dict[str, Any]:
    return {
        "candidates": [
            {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": {
            "promptTokenCount": 100,
            "candidatesTokenCount": 10,
            "cachedContentTokenCount": 20,
            "totalTokenCount": 110,
        },
        "modelVersion": model,
    }


@dataclass
class ScriptedModelServer:
    """The server, on 127.0.0.1 and a free port, in a daemon thread.

    Use as a context manager; ``url`` is what ``ANTHROPIC_BASE_URL`` should be.
    """

    log_path: Path | None = None
    # Tasks whose first working request is answered with an API error (the CLI fails):
    # what a restart that continues the conversation is tested with.
    fail_once: set[str] = field(default_factory=set)
    # Tasks whose request after their first tool results fails once: the conversation
    # has a turn by then, which every CLI keeps (Gemini CLI keeps none before).
    fail_after_tools: set[str] = field(default_factory=set)
    # Tasks whose first working request gets HTTP 429 (told not to retry): a rate limit.
    rate_limit_once: set[str] = field(default_factory=set)
    requests: list[Recorded] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> ScriptedModelServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=5)

    def record(self, request: Recorded) -> None:
        with self._lock:
            self.requests.append(request)
            if self.log_path is not None:
                with self.log_path.open("a", encoding="utf-8") as log:
                    log.write(json.dumps(request.__dict__) + "\n")

    def fails_now(self, text: str, body: dict[str, Any], answered: bool) -> bool:
        """Whether this request (its text, its body; ``answered``: it carries tool
        results) is the one to fail (see ``fail_once``, ``fail_after_tools``)."""
        if not body.get("tools"):
            return False
        task = TASK_RE.search(text)
        failing = self.fail_after_tools if answered else self.fail_once
        with self._lock:
            if task is None or task.group(1) not in failing:
                return False
            failing.discard(task.group(1))
            return True

    def limits_now(self, text: str, body: dict[str, Any]) -> bool:
        """Whether this request gets a rate limit (see ``rate_limit_once``)."""
        task = TASK_RE.search(text) if body.get("tools") else None
        with self._lock:
            if task is None or task.group(1) not in self.rate_limit_once:
                return False
            self.rate_limit_once.discard(task.group(1))
            return True

    def next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    def messages(self) -> list[dict[str, Any]]:
        """The bodies of every Messages API call (not count_tokens), in order."""
        with self._lock:
            return [
                r.body
                for r in self.requests
                if r.method == "POST"
                and r.path.split("?")[0].endswith("/v1/messages")
                and isinstance(r.body, dict)
            ]

    def tool_uses(self) -> list[dict[str, Any]]:
        """Every tool_use block the CLI sent back in a later request, i.e. every tool call
        the CLI actually made, deduplicated by id."""
        seen: dict[str, dict[str, Any]] = {}
        for body in self.messages():
            for message in body.get("messages", []):
                content = message.get("content")
                if message.get("role") == "assistant" and isinstance(content, list):
                    for block in content:
                        if block.get("type") == "tool_use":
                            seen.setdefault(block["id"], block)
        return list(seen.values())

    def tool_results(self) -> list[dict[str, Any]]:
        """Every tool_result the CLI sent, deduplicated by tool_use_id."""
        seen: dict[str, dict[str, Any]] = {}
        for body in self.messages():
            for message in body.get("messages", []):
                content = message.get("content")
                if isinstance(content, list):
                    for block in content:
                        if isinstance(block, dict) and block.get("type") == "tool_result":
                            seen.setdefault(block["tool_use_id"], block)
        return list(seen.values())


SCRIPTED_ERROR = {
    "type": "error",
    "error": {"type": "invalid_request_error", "message": "scripted failure"},
}


RATE_LIMIT_ERROR = {
    "type": "error",
    "error": {"type": "rate_limit_error", "message": "scripted rate limit"},
}
GEMINI_ERROR = {"error": {"code": 400, "message": "scripted failure", "status": "INVALID_ARGUMENT"}}


def _handler_for(server: ScriptedModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the CLI's HTTP client expects

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: requests are recorded, not printed."""

        def _read_body(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if not raw:
                return None
            try:
                return json.loads(raw)
            except ValueError:
                return raw.decode("utf-8", "replace")

        def _send(
            self,
            status: int,
            payload: bytes,
            content_type: str,
            headers: dict[str, str] | None = None,
        ) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("request-id", f"req_{server.next_id():08d}")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def _handle(self) -> None:
            body = self._read_body()
            server.record(Recorded(self.command, self.path, dict(self.headers), body))
            path = self.path.split("?")[0]
            if self.command == "POST" and path.endswith("/v1/messages/count_tokens"):
                self._send(200, b'{"input_tokens": 10}', "application/json")
            elif self.command == "POST" and path.endswith(
                (":generateContent", ":streamGenerateContent")
            ):
                request = body if isinstance(body, dict) else {}
                if server.fails_now(_gemini_text(request), request, _gemini_answered(request)):
                    self._send(400, json.dumps(GEMINI_ERROR).encode(), "application/json")
                    return
                model = path.rsplit("/", 1)[-1].split(":")[0]
                answer = json.dumps(_gemini_response(gemini_script(request), model))
                if "streamGenerateContent" in path:
                    self._send(200, f"data: {answer}\r\n\r\n".encode(), "text/event-stream")
                else:
                    self._send(200, answer.encode(), "application/json")
            elif self.command == "POST" and path.endswith("/responses"):
                request = body if isinstance(body, dict) else {}
                if server.fails_now(
                    _response_items_text(request), request, _responses_answered(request)
                ):
                    self._send(400, json.dumps(SCRIPTED_ERROR).encode(), "application/json")
                    return
                items = responses_script(request, server.next_id)
                payload = _responses_sse(items, f"resp_{server.next_id():08d}")
                self._send(200, payload, "text/event-stream")
            elif self.command == "POST" and path.endswith("/v1/messages"):
                request = body if isinstance(body, dict) else {}
                if server.fails_now(_all_text(request), request, _messages_answered(request)):
                    self._send(400, json.dumps(SCRIPTED_ERROR).encode(), "application/json")
                    return
                if server.limits_now(_all_text(request), request):
                    limited = {"retry-after": "1", "x-should-retry": "false"}
                    payload = json.dumps(RATE_LIMIT_ERROR).encode()
                    self._send(429, payload, "application/json", limited)
                    return
                reply = script(request, server.next_id)
                message_id = f"msg_{server.next_id():08d}"
                if request.get("stream"):
                    self._send(200, _sse(request, reply, message_id), "text/event-stream")
                else:
                    payload = json.dumps(_message(request, reply, message_id)).encode()
                    self._send(200, payload, "application/json")
            else:
                self._send(200, b"{}", "application/json")

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = _handle

    return Handler
