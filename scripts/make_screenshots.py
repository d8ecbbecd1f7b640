"""Regenerate screenshots/*.svg from the real app running the real demo.

    .venv/bin/python scripts/make_screenshots.py [NAME ...]   # all of them, or those named

Each screenshot comes from a fresh demo repository in a temporary directory; demo agents
stop at a gate so mid-run screens show a steady state, and the clock is frozen.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from textual.pilot import Pilot  # noqa: E402

from tui_orch.demo.project import create_demo  # noqa: E402
from tui_orch.engine.repository.worktrees import Workspace  # noqa: E402
from tui_orch.engine.run.orchestrator import RunOptions  # noqa: E402
from tui_orch.engine.run.runs import stop_run  # noqa: E402
from tui_orch.engine.run.state import RunStore  # noqa: E402
from tui_orch.launch_spec import Launch  # noqa: E402
from tui_orch.ui.app import OrchApp  # noqa: E402

OUT = ROOT / "screenshots"
SIZE = (132, 38)
FIRST_BATCH = ("models", "docs", "stock")  # the demo's three tasks side by side
Step = Callable[["Shot", Pilot[object]], Awaitable[None]]


class Shot:
    """One demo app, its gate, and helpers to drive it to a screen."""

    def __init__(self, work: Path, setup: Setup) -> None:
        self.gate = work / "go"
        self.demo = create_demo(
            work / "demo",
            pace=0,
            agent_options=["--wait-for", str(self.gate)],
            task_agents=setup.task_agents,
            conflicts={"interval": "0.3s"},
            variant=setup.variant,
        )
        self.app = OrchApp(
            Launch(
                plan=self.demo.plan,
                repo=self.demo.repo,
                options=RunOptions(
                    run_id="20270115-080000-demo",
                    poll_interval=0.05,
                    worktree_root=work / "worktrees",  # not the user's data dir
                ),
            ),
            clock=lambda: 1_800_000_000.0,
        )

    async def until(self, pilot: Pilot[object], condition: Callable[[], bool]) -> None:
        for _ in range(600):
            if condition():
                return
            await pilot.pause(0.05)
        raise TimeoutError("the demo did not reach the expected state")

    def screen(self) -> str:
        return type(self.app.screen).__name__

    async def plan(self, pilot: Pilot[object]) -> None:
        await self.until(pilot, lambda: self.screen() == "PlanScreen" and self.app.screen.report)

    async def mid_run(self, pilot: Pilot[object]) -> None:
        await self.plan(pilot)
        await pilot.press("a")
        await self.until(
            pilot,
            lambda: all(
                (pane := self.app.dashboard.panes.get(key)) is not None
                and any("go-ahead" in line for line in pane.lines)
                for key in FIRST_BATCH
            ),
        )
        await pilot.pause(0.3)

    async def merge(self, pilot: Pilot[object]) -> None:
        await self.mid_run(pilot)
        self.gate.touch()
        await self.until(pilot, lambda: self.screen() == "MergeApprovalScreen")
        await pilot.pause(0.3)

    def stop(self) -> None:
        self.gate.touch()
        store = RunStore(Workspace(self.demo.repo).common)
        for run in store.all():
            stop_run(store, run, grace=1.0)


async def batch_approval(shot: Shot, pilot: Pilot[object]) -> None:
    await shot.merge(pilot)
    await pilot.press("a")
    await shot.until(pilot, lambda: shot.screen() == "BatchApprovalScreen")
    await pilot.pause(0.3)


async def log_viewer(shot: Shot, pilot: Pilot[object]) -> None:
    await shot.mid_run(pilot)
    await pilot.press("1", "l")
    await pilot.pause(0.5)
    await pilot.press("slash", *"src/shop/money", "enter")
    await pilot.pause(0.3)


async def conflict(shot: Shot, pilot: Pilot[object]) -> None:
    """Both agents of batch 1 changed README.md, which neither owns; they still run."""
    await shot.mid_run(pilot)
    await shot.until(
        pilot,
        lambda: len(shot.app.dashboard.query_one("#conflicts-panel").rows_by_key) >= 4,
    )
    await pilot.pause(6)  # let the notifications fade


async def demo_conflicts(shot: Shot, pilot: Pilot[object]) -> None:
    """`tui-orch demo --conflicts` mid-run: three agents, badges, the conflicts panel."""
    await shot.mid_run(pilot)
    await shot.until(
        pilot,
        lambda: len(shot.app.dashboard.query_one("#conflicts-panel").rows_by_key) == 5,
    )
    await pilot.pause(6)  # let the notifications fade


@dataclass(frozen=True)
class Setup:
    """The demo a screenshot is taken of: its variant, and extra options for some agents."""

    variant: str = "demo"
    task_agents: dict[str, list[str]] | None = None


SHOTS: list[tuple[str, Step, Setup]] = [
    ("plan", Shot.plan, Setup()),
    ("dashboard", Shot.mid_run, Setup()),
    ("merge-approval", Shot.merge, Setup()),
    ("batch-approval", batch_approval, Setup()),
    ("log-viewer", log_viewer, Setup()),
    (
        "conflict",
        conflict,
        Setup(
            task_agents={
                "models": ["--edit-unowned", "README.md"],
                "docs": ["--edit-unowned", "README.md"],
            }
        ),
    ),
    ("demo-conflicts", demo_conflicts, Setup(variant="conflicts")),
]


async def take(name: str, step: Step, setup: Setup) -> None:
    with tempfile.TemporaryDirectory(prefix="tui-orch-shot-") as work:
        shot = Shot(Path(work), setup)
        try:
            async with shot.app.run_test(size=SIZE) as pilot:
                await step(shot, pilot)
                shot.app.save_screenshot(f"{name}.svg", str(OUT))
                await pilot.press("q")
                if shot.screen() == "QuitModal":
                    await pilot.press("d")
        finally:
            shot.stop()
    print(f"screenshots/{name}.svg")


def main() -> None:
    wanted = sys.argv[1:] or [name for name, _, _ in SHOTS]
    unknown = set(wanted) - {name for name, _, _ in SHOTS}
    if unknown:
        sys.exit(f"no such screenshot: {', '.join(sorted(unknown))}")
    OUT.mkdir(exist_ok=True)
    for name, step, setup in SHOTS:
        if name in wanted:
            asyncio.run(take(name, step, setup))


if __name__ == "__main__":
    main()
