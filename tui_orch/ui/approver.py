"""The engine's Approver, answered by screens: each question is a screen the user dismisses."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from textual.app import App
from textual.screen import Screen

from tui_orch.engine.approvals import (
    BatchDecision,
    BatchRequest,
    FinalRequest,
    MergeDecision,
    MergeRequest,
    ProblemsRequest,
)


class ScreenApprover:
    """Pushes an approval screen per question and waits for its answer.

    The first batch was already approved on the plan screen, so its decision is given
    up front and not asked again.
    """

    def __init__(
        self,
        app: App[object],
        screens: ApprovalScreens,
        first_batch: BatchDecision | None = None,
        on_pending: Callable[[int], None] | None = None,
    ) -> None:
        self.app = app
        self.screens = screens
        self.first_batch = first_batch
        self.on_pending = on_pending or (lambda count: None)

    async def approve_batch(self, request: BatchRequest) -> BatchDecision:
        if request.number == 1 and self.first_batch is not None:
            decision, self.first_batch = self.first_batch, None
            return decision
        answer: BatchDecision = await self._ask(self.screens.batch(request))
        return answer

    async def approve_merge(self, request: MergeRequest) -> MergeDecision:
        answer: MergeDecision = await self._ask(self.screens.merge(request))
        return answer

    async def approve_final(self, request: FinalRequest) -> bool:
        answer: bool = await self._ask(self.screens.final(request))
        return answer

    async def approve_problems(self, request: ProblemsRequest) -> bool:
        answer: bool = await self._ask(self.screens.problems(request))
        return answer

    async def _ask(self, screen: Screen[object]) -> object:
        answer: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self.on_pending(1)

        def answered(result: object) -> None:
            self.on_pending(-1)
            if not answer.done():
                answer.set_result(result)

        self.app.push_screen(screen, callback=answered)
        return await answer


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
