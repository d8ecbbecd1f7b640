"""The console front end: progress lines or a JSON event stream, and approvals on stdin.

A thin layer over the engine like the TUI: it prints the engine's events and answers
its approvals (always yes with ``--yes``, else by asking at the terminal).
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import replace
from typing import TextIO

from tui_orch.engine.agents.exits import AgentExit, ExitReason
from tui_orch.engine.run import events as ev
from tui_orch.engine.run.approvals import (
    BatchDecision,
    BatchRequest,
    FinalRequest,
    MergeDecision,
    MergeRequest,
    ProblemsRequest,
)
from tui_orch.engine.run.state import RunState
from tui_orch.tables import format_table, plural
from tui_orch.terminal_safe import printable, printable_line


class ConsoleReporter:
    """Human progress lines; agent output prefixed by its task id (unless quiet)."""

    def __init__(self, out: TextIO, quiet: bool = False) -> None:
        self.out = out
        self.quiet = quiet
        self.width = 8

    def __call__(self, event: ev.Event) -> None:
        line = self.describe(event)
        if line is not None:
            # Events carry agent text (output, file names): none of it may drive the terminal.
            self.out.write(printable(line, keep_newlines=True) + "\n")
            self.out.flush()

    def describe(self, event: ev.Event) -> str | None:
        match event:
            case ev.RunStarted():
                self.width = max((len(t) for b in event.batches for t in b), default=8)
                verb = "resuming" if event.resumed else "run"
                tasks = plural(sum(len(b) for b in event.batches), "task")
                batches = plural(len(event.batches), "batch", "batches")
                return (
                    f"{verb} {event.run_id}: {tasks} in {batches} on '{event.base}' "
                    f"({event.base_commit[:8]})"
                )
            case ev.BatchStarted():
                names = ", ".join(event.task_ids) or "nothing to run"
                return f"== batch {event.number}/{event.total}: {names}"
            case ev.TaskSkipped():
                return self._prefixed(event.task_id, f"skipped: {event.reason}")
            case ev.AgentStarted():
                return self._prefixed(event.task_id, f"started {event.agent} in {event.worktree}")
            case ev.AgentOutput():
                if self.quiet:
                    return None
                return "\n".join(
                    self._prefixed(event.task_id, printable_line(line)) for line in event.lines
                )
            case ev.AgentExited():
                how = AgentExit(event.reason, event.exit_code).label
                return self._prefixed(event.task_id, f"{how} after {event.duration:.1f}s")
            case ev.TaskCommitted() if event.commits == 0:
                return self._prefixed(
                    event.task_id, "no changes: its agent exited 0 without changing a file"
                )
            case ev.TaskCommitted():
                return self._prefixed(
                    event.task_id,
                    f"committed {event.commit[:8]}: {plural(event.files_changed, 'file')}, "
                    f"{plural(event.commits, 'commit')}",
                )
            case ev.MergeDone():
                return self._prefixed(
                    event.task_id, f"merged into the integration branch ({event.commit[:8]})"
                )
            case ev.MergeConflict():
                return self._prefixed(
                    event.task_id, f"merge conflict in {', '.join(event.paths) or '?'}"
                )
            case ev.ValidationStarted():
                return f"== validate {event.index}/{event.total}: {event.command}"
            case ev.ValidationOutput():
                if self.quiet:
                    return None
                return "\n".join(
                    self._prefixed("validate", printable_line(line)) for line in event.lines
                )
            case ev.ValidationResult():
                return f"== validation {'passed' if event.passed else 'FAILED'}: {event.command}"
            case ev.BaseMerged():
                return f"== '{event.base}' moved {event.old_commit[:8]} -> {event.new_commit[:8]}"
            case ev.CleanedUp():
                worktrees = plural(len(event.worktrees), "worktree")
                branches = plural(len(event.branches), "branch", "branches")
                kept = "".join(f"\n   kept: {line}" for line in event.kept)
                return f"== cleaned up {worktrees} and {branches}{kept}"
            case ev.ConflictDetected():
                return f"!! {event.conflict_kind} ({event.policy}): {event.message}"
            case ev.ConflictResolved():
                return f"ok {event.conflict_kind} resolved: {event.message}"
            case ev.Notice():
                return f"note: {event.message}"
            case ev.RunFinished():
                return None  # the CLI prints the summary and the final sentence
        return None

    def _prefixed(self, task_id: str, text: str) -> str:
        return f"{task_id.ljust(self.width)} | {text}"


class JsonReporter:
    """One JSON object per event per line, for scripts and CI."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def __call__(self, event: ev.Event) -> None:
        self.out.write(json.dumps(event.to_dict()) + "\n")
        self.out.flush()


def conflicts_section(state: RunState) -> str:
    """Every conflict the run saw, for the end of the console summary ('' if none)."""
    if not state.conflicts:
        return ""
    lines = ["conflicts:"]
    for conflict in state.conflicts:
        lines.append(f"  {conflict['kind']} ({conflict['policy']}): {conflict['message']}")
    return "\n".join(lines)


def summary_table(state: RunState) -> str:
    """Task, state, exit, duration, files changed, commits: one row per task."""
    rows = []
    for batch in state.batches:
        for task_id in batch:
            task = state.tasks[task_id]
            duration = task.duration
            rows.append(
                [
                    task_id,
                    task.phase.value
                    if task.reason in ("", ExitReason.EXITED)
                    else f"{task.phase} ({task.reason})",
                    "-" if task.exit_code is None else str(task.exit_code),
                    "-" if duration is None else f"{duration:.1f}s",
                    str(len(task.files_changed)),
                    str(task.commits),
                ]
            )
    return format_table(["task", "state", "exit", "duration", "files", "commits"], rows)


def _and_dependents(request: MergeRequest, task_id: str) -> str:
    """ ", and with it x and y (they need it)", or "" when no later task needs it."""
    later = request.dependents.get(task_id, ())
    return f" (and with it {', '.join(later)}, which need it)" if later else ""


class TerminalApprover:
    """Asks each question on the terminal; answers are read without blocking the engine."""

    asks_about_failures = True  # a person reads the failures: restart, go on, or stop

    def __init__(self, stdin: TextIO = sys.stdin, out: TextIO = sys.stderr) -> None:
        self.stdin = stdin
        self.out = out

    async def approve_batch(self, request: BatchRequest) -> BatchDecision:
        ids = [task.id for task in request.tasks]
        answer = await self._ask(
            f"Start batch {request.number}/{request.total} ({', '.join(ids)})? "
            "[Y]es, [s]kip some tasks, [a]bort: "
        )
        if answer.startswith("a"):
            return BatchDecision.abort()
        if answer.startswith("s"):
            skip = set((await self._ask("Task ids to skip (separated by spaces): ")).split())
            unknown = skip - set(ids)
            if unknown:
                self._say(f"not in this batch, ignored: {', '.join(sorted(unknown))}\n")
            return BatchDecision.approve(frozenset(skip & set(ids)))
        return BatchDecision.approve()

    async def approve_merge(self, request: MergeRequest) -> MergeDecision:
        if request.failed:
            return await self._ask_about_failures(request)
        rows = [
            [
                o.task_id,
                str(o.commits) if o.changed else "no changes",
                str(len(o.files_changed)),
                f"+{o.insertions} -{o.deletions}",
            ]
            for o in request.outcomes
        ]
        self._say(format_table(["task", "commits", "files", "lines"], rows) + "\n")
        for outcome in request.outcomes:
            if not outcome.changed:
                self._say(f"warning: {outcome.task_id} changed nothing; its agent's last lines:\n")
                self._say("".join(f"  {line}\n" for line in outcome.last_lines) or "  (none)\n")
            if outcome.refusals:
                count = len(outcome.refusals)
                self._say(
                    f"warning: {outcome.task_id} was refused {count} tool "
                    f"call{'s' if count != 1 else ''}:\n"
                    + "".join(f"  {refusal}\n" for refusal in outcome.refusals)
                )
        for warning in request.warnings:
            self._say(f"warning: {warning}\n")
        answer = await self._ask(
            f"Merge batch {request.number}/{request.total} into {request.integration_branch}? "
            "[Y]es, [e]xclude some tasks, [a]bort: "
        )
        if answer.startswith("a"):
            return MergeDecision.abort()
        exclude: set[str] = set()
        if answer.startswith("e"):
            exclude = set((await self._ask("Task ids to keep out (separated by spaces): ")).split())
        override, go_on = set(), set()
        for task_id, reasons in request.blocked.items():
            if task_id in exclude:
                continue
            self._say(f"{task_id} is blocked: {'; '.join(reasons)}\n")
            if (await self._ask(f"Merge {task_id} anyway? [y/N]: ")).startswith("y"):
                override.add(task_id)
            elif (
                await self._ask(
                    f"Go on without {task_id}{_and_dependents(request, task_id)}? "
                    "[y/N] (no stops the run): "
                )
            ).startswith("y"):
                go_on.add(task_id)
        return MergeDecision.approve(frozenset(exclude), frozenset(override), frozenset(go_on))

    async def _ask_about_failures(self, request: MergeRequest) -> MergeDecision:
        """Some tasks of the batch failed: run them again, go on without them, or stop."""
        for task_id, how in request.failed.items():
            self._say(f"{task_id} failed: {how}{_and_dependents(request, task_id)}\n")
        answer = await self._ask(
            f"{plural(len(request.failed), 'task')} of batch {request.number} failed: "
            "[r]estart them, [g]o on without them, or [S]top the run: "
        )
        failed = frozenset(request.failed)
        if answer.startswith("r"):
            return MergeDecision.restart_tasks(failed)
        if answer.startswith("g"):
            if not any(outcome.changed for outcome in request.outcomes):
                return MergeDecision.approve(go_on_without=failed)
            # Then the usual question, about the tasks that succeeded.
            rest = await self.approve_merge(replace(request, failed={}))
            return replace(rest, go_on_without=rest.go_on_without | failed)
        return MergeDecision.approve()  # leaves them failing: the run stops, saying why

    async def approve_problems(self, request: ProblemsRequest) -> bool:
        for problem in request.problems:
            self._say(f"{request.kind}: {problem}\n")
        answer = await self._ask(
            f"These {request.kind} problems block the run; go on anyway? [y/N]: "
        )
        return answer.startswith("y")

    async def approve_final(self, request: FinalRequest) -> bool:
        self._say(f"tasks merged: {', '.join(request.merged) or 'none'}\n")
        for line in request.left_out:
            self._say(f"left out: {line}\n")
        for line in request.validation:
            self._say(f"validation: {line}\n")
        where = f" and update {request.checked_out_in}" if request.checked_out_in else ""
        answer = await self._ask(
            f"Fast-forward '{request.base}' from {request.old_commit[:8]} to "
            f"{request.new_commit[:8]}{where}? [y/N]: "
        )
        return answer.startswith("y")

    def _say(self, text: str) -> None:
        """Requests name agents' files: none of that text may drive the terminal."""
        self.out.write(printable(text, keep_newlines=True))

    async def _ask(self, question: str) -> str:
        self._say(question)
        self.out.flush()
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[str] = loop.create_future()
        descriptor = self.stdin.fileno()

        def on_readable() -> None:
            if not answer.done():
                answer.set_result(self.stdin.readline())

        loop.add_reader(descriptor, on_readable)
        try:
            line = await answer
        finally:
            loop.remove_reader(descriptor)
        if line == "":
            raise EOFError("stdin closed while a question was asked")
        return line.strip().lower()
