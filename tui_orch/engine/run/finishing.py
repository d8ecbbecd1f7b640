"""After the last batch: the interface check, validation, the approved move of the base
branch, and clean-up."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import NoReturn

from tui_orch.engine.agents.exits import AgentExit
from tui_orch.engine.agents.jobs import start_job
from tui_orch.engine.agents.watcher import WatchedJob, watch_jobs
from tui_orch.engine.conflicts.interfaces import check_interfaces
from tui_orch.engine.conflicts.monitor import Conflict
from tui_orch.engine.repository.merge import merge_into
from tui_orch.engine.run import events as ev
from tui_orch.engine.run.approvals import (
    FinalRequest,
    ProblemsRequest,
)
from tui_orch.engine.run.cleanup import clean_run
from tui_orch.engine.run.journal import Step
from tui_orch.engine.run.preconditions import tracked_changes
from tui_orch.engine.run.run_context import RunSteps
from tui_orch.engine.run.run_types import (
    EXIT_FAILED,
    EXIT_MERGED,
    NothingToMerge,
    Outcome,
    RunStopped,
)
from tui_orch.engine.run.state import RunPhase, TaskPhase


class FinishSteps(RunSteps):
    """The steps after the last batch (an object the `Orchestrator` holds)."""

    # -- after the last batch -------------------------------------------------------------

    async def finish(self) -> None:
        """Check, validate, ask, move the base, clean up: each step once, even across
        resumes (a run stopped after the move only has its clean-up left)."""
        state = self.state
        if state.phase is not RunPhase.MERGED:
            await self._check_and_merge()
        await asyncio.to_thread(self._check_base_holds_merged, state.merged_commit)
        if not self.journal.recorded(Step.CLEANED):
            await asyncio.to_thread(self.clean_up)

    async def _check_and_merge(self) -> None:
        state = self.state
        # Git runs in threads, never on the loop the app draws on.
        head = await asyncio.to_thread(self.workspace.rev, state.integration_branch)
        if head == state.base_start:
            self._nothing_to_merge()
        base_moved = await asyncio.to_thread(self._base_moved)
        caught_up = False
        if self.resumed and base_moved:
            await asyncio.to_thread(self._catch_up_with_base)
            head = await asyncio.to_thread(self.workspace.rev, state.integration_branch)
            caught_up = True
        if state.validated_commit != head or base_moved:
            await self._check_interfaces()
            await self._validate(head, go_on=state.phase is RunPhase.VALIDATING and not caught_up)
        if state.phase is not RunPhase.AWAITING_MERGE:
            self.journal.awaiting_merge(head)
        await self._merge_into_base()

    def _nothing_to_merge(self) -> NoReturn:
        """No work reached the integration branch: say why, and whether that is a failure."""
        state = self.state
        empty = [t.id for t in state.tasks.values() if t.phase is TaskPhase.NO_CHANGES]
        if empty:
            agents = ", ".join(f"'{task_id}'" for task_id in empty)
            raise NothingToMerge(
                Outcome.NO_CHANGES,
                f"no task changed anything: the agent{'s' if len(empty) != 1 else ''} of "
                f"{agents} exited 0 without changing a file, so '{state.base}' was not moved; "
                f"see what they said with `tui-orch logs {empty[0]} --run {state.run_id}` "
                f"(every log is in {self.store.run_dir(state.run_id) / 'logs'})",
                EXIT_FAILED,
            )
        raise NothingToMerge(
            Outcome.NOTHING_TO_DO,
            f"nothing to merge: every task was skipped or kept out, so '{state.base}' was not "
            "moved; worktrees and branches without unmerged work removed, logs kept",
            EXIT_MERGED,
        )

    def _base_moved(self) -> bool:
        return self.workspace.rev(self.state.base) != self.state.base_start

    def _catch_up_with_base(self) -> None:
        """Base moved while we ran: merge it into the integration branch, then validate again."""
        state = self.state
        new_base = self.workspace.rev(state.base)
        outcome = merge_into(
            self.workspace,
            Path(state.integration_worktree),
            new_base,
            f"tui-orch: merge '{state.base}' ({new_base[:8]}) into the integration branch",
        )
        if not outcome.ok:
            where = f" in {', '.join(outcome.conflicts)}" if outcome.conflicts else ""
            raise RunStopped(
                Outcome.FAILED,
                f"'{state.base}' moved during the run and merging it into "
                f"{state.integration_branch} conflicts{where}; nothing was changed; merge "
                f"'{state.base}' into {state.integration_branch} by hand in "
                f"{state.integration_worktree}, then run `tui-orch resume {state.run_id}`",
            )
        self.journal.base_caught_up(new_base)

    async def _check_interfaces(self) -> None:
        """Imports between the tasks' Python files must still resolve once merged."""
        state = self.state
        changed = (
            await asyncio.to_thread(
                self.workspace.git,
                "diff",
                "--name-only",
                "-z",
                state.base_start,
                state.integration_branch,
            )
        ).stdout.split("\0")
        problems = await asyncio.to_thread(
            check_interfaces,
            Path(state.integration_worktree),
            [path for path in changed if path],
            self.plan.owners(),
        )
        policy = self.plan.conflicts.action("interfaces")
        conflicts = [
            Conflict(
                kind="interfaces",
                tasks=tuple(task for task in (p.consumer, p.provider) if task),
                paths=(p.file,),
                message=p.message,
                policy=policy,
                blocks=(p.consumer,) if p.consumer else (),
            )
            for p in problems
        ]
        self.run.report_conflicts(self.monitor.add(conflicts), [])
        if not problems or policy != "block":
            return
        messages = tuple(problem.message for problem in problems)
        if await self.approver.approve_problems(
            ProblemsRequest(state.run_id, "interfaces", messages)
        ):
            return
        more = f" (and {len(messages) - 1} more)" if len(messages) > 1 else ""
        raise RunStopped(
            Outcome.FAILED,
            f"the interface check of the merged result failed: {messages[0]}{more}; "
            f"'{state.base}' was not touched and {state.integration_branch} is kept; fix it "
            f"there ({state.integration_worktree}) and run `tui-orch resume {state.run_id}`, "
            "or set conflicts.interfaces to warn",
        )

    async def _validate(self, head: str, go_on: bool) -> None:
        """Run the plan's validation commands on the integrated result ``head``.

        ``go_on``: a resume of a validation under way: commands that passed are not run
        again and one still running (its supervisor outlived the driver) is followed."""
        state = self.state
        commands = [command.display for command in self.plan.validate]
        if not go_on or [record.command for record in state.validation] != commands:
            self.journal.validation_started(commands)
        for index, command in enumerate(self.plan.validate):
            record = state.validation[index]
            if record.passed:
                continue
            files = self.store.validation_files(state.run_id, index)
            event = ev.ValidationStarted(
                run_id=state.run_id,
                command=command.display,
                index=index + 1,
                total=len(self.plan.validate),
                log_path=str(files.log),
            )
            if record.handle is not None and record.passed is None:
                job = WatchedJob("validate", files, record.handle)  # started before a crash
                self.journal.tell(event)
            else:
                handle, process = start_job(
                    files,
                    list(command.argv),
                    Path(state.integration_worktree),
                    dict(os.environ),
                    None,
                    self.options.grace,
                    self.plan.agent_nice,
                )
                self.journal.validation_job_started(index, handle, event)
                job = WatchedJob("validate", files, handle, process)
            results = await watch_jobs(
                [job],
                on_lines=lambda _key, lines: self.run.emit(ev.ValidationOutput, lines=tuple(lines)),
                interval=self.options.poll_interval,
            )
            status = results["validate"]
            passed = AgentExit(status.reason, status.exit_code).succeeded
            last = index == len(commands) - 1
            self.journal.validation_ended(
                index,
                status,
                passed,
                head if passed and last else "",
                ev.ValidationResult(
                    run_id=state.run_id,
                    passed=passed,
                    command=command.display,
                    exit_code=status.exit_code,
                    reason=status.reason,
                ),
            )
            if not passed:
                raise RunStopped(
                    Outcome.FAILED,
                    f"validation failed: `{command.display}` exited with code {status.exit_code} "
                    f"on the integrated result; '{state.base}' was not touched and "
                    f"{state.integration_branch} is kept (worktree {state.integration_worktree}, "
                    f"log {files.log})",
                )

    async def _merge_into_base(self) -> None:
        state = self.state
        workspace = self.workspace
        new = await asyncio.to_thread(workspace.rev, state.integration_branch)
        current = await asyncio.to_thread(workspace.rev, state.base)
        if new == state.base_start:
            self._nothing_to_merge()
        finish_hint = (
            f"run `tui-orch resume {state.run_id}`, or merge {state.integration_branch} "
            "into it by hand"
        )
        if current != state.base_start:
            raise RunStopped(
                Outcome.FAILED,
                f"'{state.base}' moved during the run (from {state.base_start[:8]} to "
                f"{current[:8]}), so it was not touched and everything is kept; {finish_hint}",
            )
        checked_out = await asyncio.to_thread(workspace.worktree_of_branch, state.base)
        if checked_out is not None and await asyncio.to_thread(
            tracked_changes, workspace, checked_out
        ):
            raise RunStopped(
                Outcome.FAILED,
                f"{checked_out} has uncommitted changes on '{state.base}', so it was not moved "
                f"and everything is kept; commit or stash them, then {finish_hint}",
            )
        approved = await self.approver.approve_final(
            FinalRequest(
                state.run_id,
                state.base,
                state.base_start,
                new,
                state.integration_branch,
                tuple(
                    f"{v.command}: {'passed' if v.passed else 'failed'}" for v in state.validation
                ),
                str(checked_out) if checked_out else None,
                merged=tuple(t.id for t in state.tasks.values() if t.phase is TaskPhase.MERGED),
                left_out=tuple(
                    f"{t.id}: {t.phase.value.replace('-', ' ')}"
                    for t in state.tasks.values()
                    if t.phase is not TaskPhase.MERGED
                ),
            )
        )
        if not approved:
            raise RunStopped(
                Outcome.ABORTED,
                f"'{state.base}' was not moved, at your request; the validated result is on "
                f"{state.integration_branch}; {finish_hint}",
            )
        if checked_out is not None:
            done = await asyncio.to_thread(workspace.fast_forward_checkout, checked_out, new)
            moved = (
                done.returncode == 0 and await asyncio.to_thread(workspace.rev, state.base) == new
            )
            detail = (done.stderr or done.stdout).strip().splitlines()
        else:
            moved = await asyncio.to_thread(workspace.compare_and_swap, state.base, new, current)
            detail = []
        if not moved:
            # git names the files in the way on indented lines after its first line.
            paths = [line.strip() for line in detail[1:] if line.startswith(("\t", "  "))]
            first = detail[0].removeprefix("error: ").rstrip(":") if detail else ""
            reason = f" ({first}: {', '.join(paths)})" if paths else f" ({first})" if first else ""
            raise RunStopped(
                Outcome.FAILED,
                f"'{state.base}' could not be fast-forwarded{reason}, so it was not moved and "
                f"everything is kept; {finish_hint}",
            )
        self.journal.base_moved(current, new)

    def _check_base_holds_merged(self, new: str) -> None:
        """Every task reported merged must be on the base branch now: check what landed."""
        state = self.state
        missing = [
            task.id
            for task in state.tasks.values()
            if task.phase is TaskPhase.MERGED
            and not (task.head and self.workspace.is_ancestor(task.head, new))
        ]
        if missing:
            raise RunStopped(
                Outcome.FAILED,
                f"'{state.base}' moved to {new[:8]}, but the work of task "
                f"{', '.join(repr(t) for t in missing)} is not on it; its branch is kept; "
                f"merge it by hand (see `tui-orch status {state.run_id}`)",
            )

    def clean_up(self) -> None:
        """Remove the run's worktrees and branches (all in base now); logs stay.

        The same removal as `tui-orch clean`, so anything that would still lose work (a
        task kept out of the merge) is kept and listed there, never force-removed here.
        """
        report = clean_run(self.workspace, self.state, driving=True)
        self.run.kept_after_cleanup = tuple(report.kept)
        self.journal.cleaned(report.removed_worktrees, report.removed_branches, tuple(report.kept))
