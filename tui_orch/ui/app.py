"""OrchApp: the cockpit. It starts the engine, renders its events, answers its questions.

The engine runs as a worker on the app's own event loop (its blocking work already runs
in threads); its events arrive through `EngineBridge`, output batched once per frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.theme import Theme
from textual.worker import Worker, WorkerCancelled, WorkerFailed, WorkerState

from tui_orch.engine.plans.check import CheckReport
from tui_orch.engine.plans.config import load_settings, remember_theme, user_config_path
from tui_orch.engine.plans.problems import InputError
from tui_orch.engine.run import events as ev
from tui_orch.engine.run.approvals import BatchDecision
from tui_orch.engine.run.launch import prepare_new_run, prepare_resume
from tui_orch.engine.run.orchestrator import Orchestrator, RunBusy
from tui_orch.engine.run.preconditions import PreconditionFailed
from tui_orch.launch_spec import Launch
from tui_orch.ui.approver import ApprovalScreens, ScreenApprover
from tui_orch.ui.bridge import EngineBridge
from tui_orch.ui.messages import OpenDiff, OpenLog, RestartTask, RunEnded, StopTask
from tui_orch.ui.run_model import RESTARTABLE_STATES, VALIDATOR_KEY
from tui_orch.ui.screens.confirm import ConfirmModal, QuitModal
from tui_orch.ui.screens.dashboard import DashboardScreen
from tui_orch.ui.screens.diff_viewer import DiffScreen
from tui_orch.ui.screens.help import HelpModal
from tui_orch.ui.screens.log_viewer import LogScreen
from tui_orch.ui.screens.merge import FinalApprovalScreen, MergeApprovalScreen
from tui_orch.ui.screens.plan import BatchApprovalScreen, PlanScreen
from tui_orch.ui.screens.problems import ProblemsScreen
from tui_orch.ui.toasts import first_clause

FRAME_SECONDS = 1 / 30
REPLAY_BYTES = 32 * 1024  # of each agent's log, shown again on resume (about a pane's tail)
# Garbage collection while streaming; see `on_mount`: (young, middle, old) thresholds.
COLLECTION_THRESHOLDS = (4_000, 4, 100)
FRAMES_BEFORE_SLEEP = 30  # a second without output: the frame timer sleeps until there is
# Drawing costs about the same per changed pane; a flood across many panes is drawn less
# often (16 busy panes: 10 times a second) so agents, git and keys keep the CPU they need.
PANE_DRAWS_PER_SECOND = 160


class OrchApp(App[int]):
    """Supervise a run: approve batches and merges, watch agents, open logs and diffs."""

    CSS_PATH = "orch.tcss"
    TITLE = "tui-orch"
    # Screens get -narrow below 110 columns (80x24 must stay usable), -wide above.
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (110, "-wide")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark,f1", "help", "Help", id="app.help", tooltip="Help for this screen"),
        Binding("q", "request_quit", "Quit", id="app.quit", tooltip="Quit (asks while agents run)"),
        Binding("ctrl+c", "request_quit", "Quit", show=False, id="app.interrupt"),
    ]

    def __init__(self, launch: Launch, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.launch = launch
        self.clock = clock
        self.orchestrator: Orchestrator | None = None
        self.engine_worker: Worker[None] | None = None
        self.dashboard = DashboardScreen(clock)
        self.bridge = EngineBridge(self.dashboard)
        self.pending_approvals = 0
        self.approver: ScreenApprover | None = None
        self.result_code = 0
        self.quiet_frames = 0
        self.flush_sleeping = False
        self.next_flush = 0.0
        # The user's own settings (theme, whether `x` asks): small files, read once.
        self.settings = load_settings(launch.repo)

    # -- start-up ----------------------------------------------------------------------

    async def on_mount(self) -> None:
        if self.settings.theme in self.available_themes:
            self.theme = self.settings.theme
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        # Mounted before anything draws on it: a resume shows its plan at once.
        await self.push_screen(self.dashboard)
        # What exists now (Textual, the dashboard) lives as long as the app: kept out of
        # the full collections that streaming triggers, each one a visible pause otherwise.
        gc.freeze()
        # Streaming makes short-lived objects by the thousand a frame. Python's defaults
        # (700, 10, 10) collect the young while many are still alive, so they grow old and
        # the old generation is collected in full (30-100 ms) every second or two. Young
        # every 4,000 allocations (by then most have died), the middle generation every
        # fourth (it holds at most 16,000 objects: 5 ms, not the 40-50 ms of a middle
        # generation ten young collections deep) and the old one after a hundred of
        # those (about once in 20 s of 16 agents streaming): stream_ui realistic, four
        # rounds, slowest key 77 ms against 99 ms with (10,000, 10, 10).
        gc.set_threshold(*COLLECTION_THRESHOLDS)
        self.ui_loop, self.ui_thread = asyncio.get_running_loop(), threading.get_ident()
        self.flush_timer = self.set_interval(FRAME_SECONDS, self.flush_output)
        if self.launch.resume:
            self.run_worker(
                self.start_resume(), group="resume", description="Reading the run to resume"
            )
        elif self.launch.plan is not None:
            self.push_screen(
                PlanScreen(self.launch.plan, self.launch.repo, self.start_from_plan),
                self._plan_answered,
            )

    def _remember_theme(self, theme: Theme) -> None:
        """A theme picked in the palette is the theme next time (`theme:` in the config)."""

        async def save() -> None:
            if not await asyncio.to_thread(remember_theme, theme.name):
                self.notify(
                    f"Could not save the theme in {user_config_path()}.", severity="warning"
                )

        self.run_worker(save(), group="theme", description="Saving the theme")

    def _plan_answered(self, decision: BatchDecision | None) -> None:
        if decision is None and self.orchestrator is None:
            self.exit(0, return_code=0)

    async def start_from_plan(self, decision: BatchDecision, report: CheckReport) -> str | None:
        """Run the plan the plan screen checked and showed (called by it when approved);
        returns why it cannot start, if so.

        Asking git about the repository takes tens of milliseconds: in a thread, so the
        screen does not freeze at the key press.
        """
        approver = self._approver(first_batch=decision)
        try:
            orchestrator = await asyncio.to_thread(
                prepare_new_run,
                report,
                self.launch.repo,
                approver,
                self.engine_events,
                self.launch.options,
            )
        except InputError as error:
            return "\n".join(str(problem) for problem in error.problems)
        except PreconditionFailed as refusal:
            return str(refusal)
        self._drive(orchestrator)
        return None

    async def start_resume(self, restart_only: frozenset[str] | None = None) -> None:
        """Resume the run; its state and git are read in a thread, not on the screen.

        ``restart_only``: of the failed tasks, run only these again (`r` on one task).
        """
        try:
            orchestrator = await asyncio.to_thread(
                prepare_resume,
                self.launch.resume_run_id,
                self.launch.repo,
                self._approver(),
                self.engine_events,
                # The panes start with what each agent of the batch printed last.
                replace(self.launch.options, replay_bytes=REPLAY_BYTES),
            )
        except (InputError, PreconditionFailed) as refusal:
            self.notify(
                str(refusal), severity="error", title="cannot resume", timeout=30, markup=False
            )
            return
        orchestrator.restart_only = restart_only
        self._drive(orchestrator)

    def _approver(self, first_batch: BatchDecision | None = None) -> ScreenApprover:
        screens = ApprovalScreens(
            batch=BatchApprovalScreen,
            merge=lambda request: MergeApprovalScreen(request, self._conflict_badges()),
            final=FinalApprovalScreen,
            problems=ProblemsScreen,
        )
        self.approver = ScreenApprover(
            self,
            screens,
            first_batch,
            on_pending=self._count_approvals,
            can_open=lambda: self.screen is self.dashboard,
        )
        return self.approver

    def _conflict_badges(self) -> dict[str, list[str]]:
        """What the dashboard shows on each task's pane, for the merge screen."""
        return {task_id: task.badges for task_id, task in self.dashboard.model.tasks.items()}

    def _count_approvals(self, change: int) -> None:
        self.pending_approvals += change
        self.dashboard.facts.pending_approvals = self.pending_approvals
        self.dashboard.refresh_bindings()  # `a` is offered only while a question waits

    def open_approval(self) -> None:
        """Open the question the engine is waiting on (the dashboard's `a`)."""
        if self.approver is None or not self.approver.open_waiting():
            self.notify("No approval is waiting.", severity="warning")

    def _drive(self, orchestrator: Orchestrator) -> None:
        self.orchestrator = orchestrator
        orchestrator.detach()  # whatever ends the app, the agents go on
        # The dashboard learns the run from its first event (RunStarted), like the rest.
        self.engine_worker = self.run_worker(
            self._run_engine(orchestrator),
            group="engine",
            exclusive=True,
            exit_on_error=False,
            description=f"Running {orchestrator.state.run_id}",
        )

    async def _run_engine(self, orchestrator: Orchestrator) -> None:
        try:
            result = await orchestrator.run()
        except RunBusy as busy:
            self.notify(str(busy), severity="error", timeout=30, markup=False)
            return
        self.post_message(RunEnded(result))

    # -- engine output -----------------------------------------------------------------------

    def engine_events(self, event: ev.Event) -> None:
        """The engine's event sink (any thread): the bridge, and a wake-up for the frame
        timer when output arrives while it sleeps."""
        self.bridge(event)
        if self.flush_sleeping and isinstance(event, ev.AgentOutput | ev.ValidationOutput):
            self.flush_sleeping = False
            self._thread_safe(self.flush_timer.resume)

    def _thread_safe(self, callback: Callable[[], object]) -> None:
        if threading.get_ident() == self.ui_thread:
            callback()
        else:
            self.ui_loop.call_soon_threadsafe(callback)

    def flush_output(self) -> None:
        """Once per frame: hand each pane the lines that arrived since the last frame.

        After a second without output the timer sleeps (an idle app wakes for nothing);
        the next output wakes it. The more panes the last frame drew, the longer until
        the next (see PANE_DRAWS_PER_SECOND); lines wait in the bridge meanwhile.
        """
        now = time.monotonic()
        if now < self.next_flush:
            return
        pending = self.bridge.drain()
        if not pending:
            self.quiet_frames += 1
            if self.quiet_frames >= FRAMES_BEFORE_SLEEP:
                self.flush_sleeping = True
                self.flush_timer.pause()
                pending = self.bridge.drain()  # output that came in as it fell asleep
                if not pending:
                    return
                self.flush_sleeping = False
                self.flush_timer.resume()
            else:
                return
        self.quiet_frames = 0
        # A little early: the timer's ticks jitter, and a tick just short would wait a frame.
        self.next_flush = now + len(pending) / PANE_DRAWS_PER_SECOND - FRAME_SECONDS / 2
        with self.batch_update():
            for key, output in pending.items():
                self.dashboard.show_output(key, output)

    @on(RunEnded)
    def run_ended(self, message: RunEnded) -> None:
        result = message.result
        self.result_code = result.exit_code
        severity = "information" if result.outcome.succeeded else "error"
        # Short: a toast covers the panes; the whole message is under them.
        self.dashboard.show_message(result.message)
        self.notify(
            first_clause(result.message) + " (the whole message is below the panes)",
            severity=severity,
            title=result.outcome.label,
            timeout=10,
            markup=False,
        )

    @on(Worker.StateChanged)
    def report_worker_errors(self, event: Worker.StateChanged) -> None:
        """Any worker that crashed becomes an error notification, never a traceback."""
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            error = event.worker.error
            self.notify(
                f"{type(error).__name__}: {error}", severity="error", title="error", markup=False
            )

    # -- actions on tasks (asked for by the dashboard and the merge screen) -----------------

    def _task_files(self, task_id: str) -> tuple[str, Path] | None:
        """The task's log (the validation's latest), as the run model knows it."""
        log = self.dashboard.model.log_of(task_id)
        if log is None:
            return None
        return ("validation" if task_id == VALIDATOR_KEY else task_id), log

    @on(OpenLog)
    def open_log(self, message: OpenLog) -> None:
        found = self._task_files(message.task_id)
        if found is None:
            self.notify("The run has not started yet.", severity="warning")
            return
        label, path = found
        task = self.dashboard.model.tasks.get(message.task_id)
        output_format = task.output_format if task is not None else "text"
        worktree = task.worktree if task is not None else ""
        self.push_screen(LogScreen(f"Log  {label}", path, output_format, cwd=worktree))

    @on(OpenDiff)
    def open_diff(self, message: OpenDiff) -> None:
        task_id = message.task_id
        task = self.dashboard.model.tasks.get(task_id)
        if task is None or task_id == VALIDATOR_KEY or not task.worktree:
            self.notify("No diff for that yet.", severity="warning")
            return
        if not task.start_commit:
            self.notify(f"{task_id} has not started yet.", severity="warning")
            return
        self.push_screen(DiffScreen(task_id, Path(task.worktree), task.start_commit))

    @on(StopTask)
    def ask_to_stop(self, message: StopTask) -> None:
        """`x`: asks first (unless `confirm_stop: false`); only the one agent stops."""
        task_id = message.task_id
        if self.orchestrator is None or task_id not in self.dashboard.model.running():
            self.notify(f"{task_id} is not running.", severity="warning")
            return
        if not self.settings.confirm_stop:
            self._stop_task(task_id)
            return
        self.push_screen(
            ConfirmModal(
                f"Stop the agent of {task_id}?",
                "Its work so far stays in its worktree; the other agents go on.\n"
                "Then r restarts it, or the merge screen lets the run go on without it.",
            ),
            lambda yes: self._stop_task(task_id) if yes else None,
        )

    def _stop_task(self, task_id: str) -> None:
        orchestrator = self.orchestrator
        if orchestrator is None:
            return

        async def stop() -> None:
            # TERM, then KILL after a grace period: never on the screen's loop.
            if await asyncio.to_thread(orchestrator.stop_task, task_id):
                self.notify(f"Stopping {task_id}; its work stays in its worktree.")

        self.run_worker(stop(), group=f"stop-{task_id}", description=f"Stopping {task_id}")

    @on(RestartTask)
    def restart(self, message: RestartTask) -> None:
        task_id = message.task_id
        self.run_worker(
            self._restart(task_id), group="restart", description=f"Restarting {task_id}"
        )

    async def _restart(self, task_id: str) -> None:
        """`r` restarts this task only: at once while its batch runs, by answering the
        merge question that lists it as failed, or by resuming a stopped run."""
        orchestrator, model = self.orchestrator, self.dashboard.model
        task = model.tasks.get(task_id)
        if orchestrator is None or task is None or task_id == VALIDATOR_KEY:
            return
        if task.state not in RESTARTABLE_STATES:
            self.notify(f"{task_id} has not failed; nothing to restart.", severity="warning")
            return
        said = f"Restarting {task_id} in its worktree; its earlier work is kept."
        if await orchestrator.restart_task(task_id):
            self.notify(said + " The other agents go on.")
        elif self.approver is not None and self.approver.restart_instead(task_id):
            self.notify(said)
        elif self.engine_worker is None or not self.engine_worker.is_running:
            self.launch = Launch(
                repo=Path(model.repo),
                resume_run_id=model.run_id,
                resume=True,
                options=self.launch.options,
            )
            self.notify(said)
            await self.start_resume(restart_only=frozenset({task_id}))
        else:
            self.notify(
                f"{task_id} cannot be restarted now: the run is past its batch.",
                severity="warning",
            )

    # -- help, palette, quitting -------------------------------------------------------------------

    def action_help(self) -> None:
        screen_help = getattr(self.screen, "HELP", "") or DashboardScreen.HELP
        self.push_screen(HelpModal(screen_help))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The palette: what this screen can do now, each once, titled by what it does
        and with its key as a person types it; then a pane per task; then the theme."""
        seen: set[str] = set()
        for binding in [*screen.BINDINGS, *self.BINDINGS]:
            if (
                not isinstance(binding, Binding)
                or not binding.id
                or binding.id.startswith("pane.focus")
                or binding.action in seen
                or screen.check_action(binding.action.split("(")[0], ()) is False
            ):
                continue
            seen.add(binding.action)
            target = self if binding in self.BINDINGS else screen
            yield SystemCommand(
                binding.tooltip or binding.description,
                # The first key, as typed ("?", not "question_mark,f1").
                f"key {self.get_key_display(replace(binding, key=binding.key.split(',')[0]))}",
                partial(target.run_action, binding.action),
            )
        if isinstance(screen, DashboardScreen):
            for number, task_id in enumerate(screen.pane_keys, start=1):
                yield SystemCommand(
                    f"Go to pane {number}: {task_id}",
                    f"key {number}" if number < 10 else "",
                    partial(screen.action_focus_number, number),
                )
        # Of Textual's own entries, the theme (our quit asks first; help is `?`).
        for command in super().get_system_commands(screen):
            if command.title in ("Theme", "Screenshot"):
                yield command

    async def action_quit(self) -> None:
        """The palette's own "Quit" asks too, while agents run."""
        self.action_request_quit()

    def action_request_quit(self) -> None:
        running = self.dashboard.model.running() if self.orchestrator else []
        if not running:
            self.exit(self.result_code, return_code=self.result_code)
            return
        self.push_screen(QuitModal(running, self.dashboard.model.run_id), self._quit_answered)

    def _quit_answered(self, choice: str | None) -> None:
        if choice == "detach":
            self.exit(0, return_code=0)
        elif choice == "stop":
            self.run_worker(
                self._stop_and_quit(),
                group="quit",
                exit_on_error=False,
                description="Stopping the agents, then quitting",
            )

    async def _stop_and_quit(self) -> None:
        if self.engine_worker is not None:
            if self.orchestrator is not None:
                self.orchestrator.detach(leave_running=False)
            self.engine_worker.cancel()
            with contextlib.suppress(WorkerCancelled, WorkerFailed):
                await self.engine_worker.wait()
        self.exit(self.result_code or 130, return_code=self.result_code or 130)
