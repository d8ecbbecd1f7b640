"""The engine's Approver, answered by screens: each question is a screen the user dismisses."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from textual.app import App
from textual.screen import Screen

from tui_orch.engine.run.approvals import (
    BatchDecision,
    BatchRequest,
    FinalRequest,
    MergeDecision,
    MergeRequest,
    ProblemsRequest,
)

# An approval screen dismissed with this leaves its question waiting (escape: "later").
LATER = object()


@dataclass
class _Waiting:
    """A question of the engine's, not answered yet, and whether its screen is open."""

    make_screen: Callable[[], Screen[object]]
    answer: asyncio.Future[object]
    request: object = None
    open: bool = False


class ScreenApprover:
    """Asks each question on its own screen, and waits for its answer.

    Approvals wait; they do not interrupt: a question's screen opens at once only if the
    user is on the dashboard (``can_open``), never over a log, a diff, a search or help,
    where it would take keys typed for another screen. Otherwise (or after escape) it
    waits, the status bar says so, and `open_waiting` (the dashboard's `a`) opens it.

    The first batch was already approved on the plan screen, so its decision is given
    up front and not asked again.
    """

    asks_about_failures = True  # the merge screen lists them: restart, or go on without

    def __init__(
        self,
        app: App[object],
        screens: ApprovalScreens,
        first_batch: BatchDecision | None = None,
        on_pending: Callable[[int], None] | None = None,
        can_open: Callable[[], bool] = lambda: True,
    ) -> None:
        self.app = app
        self.screens = screens
        self.first_batch = first_batch
        self.on_pending = on_pending or (lambda count: None)
        self.can_open = can_open
        self.waiting: _Waiting | None = None

    async def approve_batch(self, request: BatchRequest) -> BatchDecision:
        if request.number == 1 and self.first_batch is not None:
            decision, self.first_batch = self.first_batch, None
            return decision
        answer: BatchDecision = await self._ask(lambda: self.screens.batch(request))
        return answer

    async def approve_merge(self, request: MergeRequest) -> MergeDecision:
        answer: MergeDecision = await self._ask(lambda: self.screens.merge(request), request)
        return answer

    async def approve_final(self, request: FinalRequest) -> bool:
        answer: bool = await self._ask(lambda: self.screens.final(request))
        return answer

    async def approve_problems(self, request: ProblemsRequest) -> bool:
        answer: bool = await self._ask(lambda: self.screens.problems(request))
        return answer

    async def _ask(
        self, make_screen: Callable[[], Screen[object]], request: object = None
    ) -> object:
        waiting = _Waiting(make_screen, asyncio.get_running_loop().create_future(), request)
        self.waiting = waiting
        self.on_pending(1)
        try:
            if self.can_open():
                self.open_waiting()
            else:  # a toast takes no keys; the status bar keeps saying it
                self.app.notify(
                    "The run is waiting for your approval: press a on the dashboard.",
                    title="approval waiting",
                )
            return await waiting.answer
        finally:
            self.waiting = None
            self.on_pending(-1)

    def restart_instead(self, task_id: str) -> bool:
        """Answer a waiting merge question that lists the task as failed with "restart
        it" (`r` on the dashboard); False if no such question waits unopened."""
        waiting = self.waiting
        if (
            waiting is None
            or waiting.open
            or waiting.answer.done()
            or not isinstance(waiting.request, MergeRequest)
            or task_id not in waiting.request.failed
        ):
            return False
        waiting.answer.set_result(MergeDecision.restart_tasks(frozenset({task_id})))
        return True

    def open_waiting(self) -> bool:
        """Open the waiting question's screen (a new one each time); False if none waits."""
        waiting = self.waiting
        if waiting is None or waiting.open:
            return False
        waiting.open = True

        def answered(result: object) -> None:
            waiting.open = False
            if result is not LATER and not waiting.answer.done():
                waiting.answer.set_result(result)

        self.app.push_screen(waiting.make_screen(), callback=answered)
        return True


class ApprovalScreens:
    """Builds the screen for each kind of question (the app supplies the classes)."""

    def __init__(
        self,
        batch: Callable[[BatchRequest], Screen[object]],
        merge: Callable[[MergeRequest], Screen[object]],
        final: Callable[[FinalRequest], Screen[object]],
        problems: Callable[[ProblemsRequest], Screen[object]],
    ) -> None:
        self.batch = batch
        self.merge = merge
        self.final = final
        self.problems = problems


class AnswerLater:
    """For approval screens: escape goes back to the dashboard and leaves the question
    waiting (each screen binds escape to `later`)."""

    def action_later(self) -> None:
        """Back to the dashboard; the question waits, and `a` there opens it again."""
        self.dismiss(LATER)  # type: ignore[attr-defined]
