"""The dashboard: the run tree, a pane per agent of the current batch, the status bar."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Static, Tree

from tui_orch.engine.agents.exits import AgentExit
from tui_orch.engine.run import events as ev
from tui_orch.ui.bridge import PendingOutput
from tui_orch.ui.messages import (
    EngineEventArrived,
    OpenDiff,
    OpenLog,
    RestartTask,
    StopTask,
    TaskAction,
)
from tui_orch.ui.run_model import RESTARTABLE_STATES, VALIDATOR_KEY, RunModel, TaskModel
from tui_orch.ui.toasts import Toasts, first_clause
from tui_orch.ui.widgets.agent_pane import AgentPane, state_word
from tui_orch.ui.widgets.conflicts_panel import ConflictsPanel
from tui_orch.ui.widgets.run_tree import RunTree
from tui_orch.ui.widgets.status_bar import RunFacts, StatusBar
from tui_orch.ui.widgets.steady_footer import SteadyFooter

# Drawing sixteen new panes in one frame holds the screen for about 70 ms: new panes
# after the first few appear this many per frame instead.
PANES_SHOWN_PER_FRAME = 4

# Elapsed times, line counts and the status bar are brought up to date this often.
TICK_SECONDS = 0.5
# States in which a task needs nothing more in its batch.
DONE_STATES = ("merged", "skipped", "excluded", "no-changes")


def _badge_text(event: ev.ConflictDetected) -> str:
    """A pane badge: short, the kind first so a narrow pane still says what is wrong."""
    paths = ", ".join(event.paths)
    return {
        "unowned_edit": f"not its file: {paths}",
        "overlap": f"overlap: {paths}",
        "predicted": f"will conflict: {paths}",
        "interfaces": f"interface: {paths}",
    }.get(event.conflict_kind, f"{event.conflict_kind}: {paths}")


class DashboardScreen(Screen[None]):
    """Live view of a run; keys act on the focused pane (or the task chosen in the tree)."""

    HELP = """\
## Dashboard

Left: the run, batch by batch. Right: a pane per agent of the current batch (and the
validator when it runs), its border coloured by state, which is also written out.

| key | does |
| --- | --- |
| `a` | open the approval the run is waiting for (the status bar says when one waits;
  approvals never open over a log, a diff or help, and `escape` there leaves them waiting) |
| `tab` / `shift+tab` | next / previous pane |
| `1` … `9` | focus pane N |
| `z` | zoom the focused pane over the pane area, or back |
| `enter` / `l` | the task's full log (from disk; follows while it runs) |
| `d` | the task's diff, uncommitted work included |
| `x` | stop the task's agent, after asking (its work is kept in its worktree) |
| `r` | restart this failed or stopped task in its worktree; the others go on |

Keys that do not apply to the focused task (`x` on a finished one, `r` on one that has
not failed) are not offered in the footer.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "a",
            "open_approval",
            "Approve…",
            id="approval.open",
            tooltip="Open the approval the run is waiting for",
        ),
        Binding("z", "maximise", "Zoom", id="pane.maximise", tooltip="Zoom a pane, or back"),
        Binding("l,enter", "open_log", "Log", id="agent.log", tooltip="Open the task's full log"),
        Binding("d", "open_diff", "Diff", id="agent.diff", tooltip="Open the task's diff"),
        Binding("x", "kill", "Stop agent", id="agent.kill", tooltip="Stop the task's agent"),
        Binding(
            "r",
            "restart",
            "Restart task",
            id="agent.restart",
            tooltip="Restart the failed task in its worktree",
        ),
        *(
            Binding(str(n), f"focus_number({n})", f"Pane {n}", show=False, id=f"pane.focus{n}")
            for n in range(1, 10)
        ),
    ]

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__(id="dashboard")
        self.clock = clock
        self.facts = RunFacts()
        self.model = RunModel()  # what every widget here draws: changed by events only
        self.pane_keys: list[str] = []
        self.panes: dict[str, AgentPane] = {}
        self.zoomed: AgentPane | None = None  # `z`: one pane over the whole pane area
        self.toasts = Toasts(self.notify)

    def compose(self) -> ComposeResult:
        with Horizontal(id="dash-main"):
            yield RunTree(id="run-tree")
            with Vertical(id="dash-right"):
                yield Grid(id="pane-grid")
                yield ConflictsPanel(self.clock, id="conflicts-panel")
                yield Static("Waiting for the run to start…", id="dash-message")
        yield StatusBar(id="status-bar")
        yield SteadyFooter()

    def on_mount(self) -> None:
        self.set_interval(TICK_SECONDS, self.tick)
        self.tick()

    # -- engine events ---------------------------------------------------------------

    @property
    def task_states(self) -> dict[str, str]:
        """Each task's state word, from the model (for a glance in tests and tools)."""
        return self.model.states()

    @on(EngineEventArrived)
    def apply_event(self, message: EngineEventArrived) -> None:
        """The model first, then what the event changes on screen."""
        event = message.event
        now = self.clock()
        self.model.apply(event, now)
        match event:
            case ev.RunStarted():
                self.facts.run_id = event.run_id
                self.facts.phase = "building"
                self.facts.batches = len(self.model.batches)
                self.query_one(RunTree).set_batches(self.model.batches)
                for task_id, task in self.model.tasks.items():
                    self._set_state(task_id, task.state)
                self.show_message(f"run {event.run_id} on '{event.base}'")
            case ev.BatchStarted():
                self.facts.batch = event.number
                self._clear_settled_conflicts()
                if event.task_ids:  # a batch whose tasks were all left out shows no panes
                    self._show_panes(list(event.task_ids))
                self._settle_batches(running=event.number if event.task_ids else 0)
            case ev.TaskSkipped() | ev.AgentStarted() | ev.MergeDone():
                self._set_state(event.task_id, self.model.task(event.task_id).state)
                if isinstance(event, ev.MergeDone):
                    self._mark_batch_merged(event.batch)
            case ev.AgentExited():
                ended = AgentExit(event.reason, event.exit_code)
                self._set_state(event.task_id, ended.state)
                if not ended.succeeded:
                    self.toasts.show(
                        "failed tasks",
                        f"{event.task_id}: {ended.label}; l opens its log, r restarts it",
                        title=f"{event.task_id} {state_word(ended.state)}",
                        severity="error",
                        more="see the panes and the run tree",
                    )
            case ev.TaskCommitted() if event.commits == 0:
                self._set_state(event.task_id, "no-changes")
                self.toasts.show(
                    "tasks without changes",
                    "Its agent exited 0 without changing a file; its log (l) says what it did.",
                    title=f"{event.task_id}: no changes",
                    severity="warning",
                    more="see the panes",
                )
            case ev.AgentReported():
                if event.refusals:
                    calls = "tool call" if event.refusals == 1 else "tool calls"
                    self._badge(event.task_id, "refusals", f"{event.refusals} {calls} refused")
                self._refresh_pane(event.task_id)
            case ev.TaskCommitted():
                self._refresh_pane(event.task_id)
            case ev.MergeConflict():
                self._badge(event.task_id, "merge", f"merge conflict: {', '.join(event.paths)}")
                self.toasts.show(
                    "merge conflicts",
                    f"{event.task_id} conflicts in {', '.join(event.paths)}",
                    title="merge conflict",
                    severity="error",
                )
            case ev.ValidationStarted():
                self.facts.phase = "validating"
                self._clear_settled_conflicts()
                if not self._pane(VALIDATOR_KEY):
                    self._unzoom()
                    self._set_columns(len(self.pane_keys) + 1)
                    self._add_pane(VALIDATOR_KEY)
                self._refresh_pane(VALIDATOR_KEY)
            case ev.ValidationResult():
                self._set_state(VALIDATOR_KEY, self.model.task(VALIDATOR_KEY).state)
            case ev.BaseMerged():
                self.facts.phase = "merged"
                self.show_message(f"'{event.base}' moved to {event.new_commit[:8]}")
            case ev.ConflictDetected():
                key = (event.conflict_kind, event.tasks, event.paths)
                self.query_one(ConflictsPanel).add_conflict(key, event.policy, event.message, now)
                for task_id in event.tasks:
                    self._badge(task_id, key, _badge_text(event))
                self.toasts.show(
                    "conflicts",
                    event.message,
                    title=f"{event.conflict_kind.replace('_', ' ')} ({event.policy})",
                    severity="error" if event.policy == "block" else "warning",
                    more="see the conflicts panel",
                )
            case ev.ConflictResolved():
                key = (event.conflict_kind, event.tasks, event.paths)
                self.query_one(ConflictsPanel).remove_conflict(key)
                for task_id in event.tasks:
                    self._badge(task_id, key, None)
            case ev.Notice():
                self.toasts.show(
                    "notes", first_clause(event.message), title="note", severity="warning"
                )
                self.show_message(event.message)
            case ev.RunFinished():
                # "Not now" on the final move leaves the run awaiting its merge, not aborted.
                awaiting = event.phase == "awaiting-merge" and event.outcome == "aborted"
                self.facts.phase = event.phase if awaiting else event.outcome
                self._settle_batches()  # a stop leaves no batch marked running
                self.show_message(event.message)
        self.tick()

    def _settle_batches(self, running: int = 0) -> None:
        """Each batch's mark in the tree: ▶ the one running, ✔ done, ⊘ all left out."""
        tree = self.query_one(RunTree)
        for number, task_ids in enumerate(self.model.batches, start=1):
            states = [self.model.task(t).state for t in task_ids]
            if number == running:
                mark = "running"
            elif states and all(state in ("skipped", "excluded") for state in states):
                mark = "left-out"
            elif all(state in DONE_STATES for state in states):
                mark = "done"
            else:
                mark = ""
            tree.show_batch(number, mark)

    def _mark_batch_merged(self, number: int) -> None:
        """A batch whose every task is merged (or left out) is done, even the last one."""
        batches = self.model.batches
        task_ids = batches[number - 1] if 1 <= number <= len(batches) else []
        if all(self.model.task(t).state in DONE_STATES for t in task_ids):
            self.query_one(RunTree).show_batch(number, "done")

    def _clear_settled_conflicts(self) -> None:
        """A batch was merged (or left out): its conflicts are settled, not current.
        Interface problems are found on the integrated result, after the merges: kept."""
        self.query_one(ConflictsPanel).clear_conflicts(keep_kind="interfaces")
        for task in self.model.tasks.values():
            badges = task.badges_by_key
            for key in [k for k in badges if not (isinstance(k, tuple) and k[0] == "interfaces")]:
                del badges[key]
            self._show_badges(task)

    def show_output(self, key: str, pending: PendingOutput) -> None:
        """New output: into the model (whether or not a pane shows the task yet), and
        onto the task's pane if it has one; a pane made later starts from the model."""
        self.model.add_output(key, pending.lines, pending.count, self.clock())
        pane = self._pane(key)
        if pane is not None:
            pane.add_lines(pending.lines, pending.count)

    def _badge(self, task_id: str, key: object, text: str | None) -> None:
        """Add (or with None remove) one conflict's badge on a task's pane."""
        task = self.model.task(task_id)
        if text is None:
            task.badges_by_key.pop(key, None)
        else:
            task.badges_by_key[key] = text
        self._show_badges(task)

    def _show_badges(self, task: TaskModel) -> None:
        pane = self._pane(task.id)
        if pane is not None:
            pane.set_badges(task.badges)

    # -- panes -----------------------------------------------------------------------

    def _show_panes(self, task_ids: list[str]) -> None:
        """A pane per task; the panes already on screen are reused (mounting is slow)."""
        self._unzoom()
        shown = [self.panes[key] for key in self.pane_keys]
        if [pane.task_id for pane in shown] == task_ids:
            return
        for surplus in shown[len(task_ids) :]:
            surplus.remove()
        self.pane_keys = []
        self.panes = {}
        self._set_columns(len(task_ids))  # once: each change restyles the whole grid
        first_new = max(len(shown), PANES_SHOWN_PER_FRAME)
        for index, task_id in enumerate(task_ids):
            reuse = shown[index] if index < len(shown) else None
            self._add_pane(task_id, reuse, hidden=index >= first_new)
        # New panes beyond the first few are drawn a few per frame, not all in one.
        self.call_after_refresh(self._reveal_more)

    def _reveal_more(self) -> None:
        hidden = [pane for pane in self.panes.values() if pane.has_class("-unrevealed")]
        for pane in hidden[:PANES_SHOWN_PER_FRAME]:
            pane.remove_class("-unrevealed")
        if len(hidden) > PANES_SHOWN_PER_FRAME:
            self.call_after_refresh(self._reveal_more)

    def _set_columns(self, count: int) -> None:
        grid = self.query_one("#pane-grid", Grid)
        columns = 1 if count == 1 else 2 if count <= 4 else 3 if count <= 9 else 4
        for n in (1, 2, 3, 4):
            if grid.has_class(f"-cols-{n}") != (n == columns):
                grid.set_class(n == columns, f"-cols-{n}")

    def _add_pane(self, key: str, reuse: AgentPane | None = None, hidden: bool = False) -> None:
        self.pane_keys.append(key)
        number = len(self.pane_keys)
        task = self.model.task(key)
        if reuse is None:
            pane = AgentPane(key, task.agent, number, hidden=hidden)
            self.query_one("#pane-grid", Grid).mount(pane)
        else:
            pane = reuse
            pane.reuse(key, task.agent, number)
        self.panes[key] = pane
        pane.report = task.report
        pane.set_state(task.state)
        pane.set_badges(task.badges)
        if task.line_count:  # what it printed before its pane was made, in order
            pane.add_lines(list(task.tail), task.line_count)
        if number == 1:
            self.call_after_refresh(pane.focus)

    def _pane(self, key: str) -> AgentPane | None:
        return self.panes.get(key)

    def _set_state(self, key: str, state: str) -> None:
        """Show a task's state (the model has it already) on its pane and keys."""
        pane = self._pane(key)
        if pane is not None:
            pane.report = self.model.task(key).report  # its activity shows while it runs
            pane.set_state(state)
        if key == self.selected_task():
            self.refresh_bindings()  # `x` and `r` follow the focused task's state

    def _refresh_pane(self, key: str) -> None:
        pane = self._pane(key)
        if pane is not None:
            task = self.model.task(key)
            pane.files_changed, pane.report = task.files_changed, task.report
            pane.elapsed = task.clock.elapsed(self.now())
            pane.refresh_header()

    def show_message(self, text: str) -> None:
        """The run's latest news, whole, under the panes (toasts carry only its start)."""
        # A run can end as the app quits and the dashboard's widgets are gone: no message.
        for message in self.query("#dash-message").results(Static):
            message.update(Text(text))

    def now(self) -> float:
        """The clock in whole seconds: every elapsed time shown turns over at the same
        moment, so an idle dashboard draws once a second, not once per task per second."""
        return math.floor(self.clock())

    def tick(self) -> None:
        """Elapsed times, line counts, tree labels and the status bar, twice a second;
        only what changed is drawn again."""
        now = self.now()
        tree = self.query_one(RunTree)
        tasks = self.model.tasks
        for task_id, task in tasks.items():
            if task_id != VALIDATOR_KEY:
                tree.show_task(task_id, task.state, task.clock.elapsed(now))
        for pane in self.panes.values():
            task = tasks.get(pane.task_id)
            if task is not None and task.state == "running":
                pane.elapsed = task.clock.elapsed(now)
                pane.report = task.report_at(now)
            pane.refresh_header()  # elapsed and line count; redrawn only if they changed
        self.facts.running = len(self.model.running())
        self.facts.usage = self.model.usage()
        panel = self.query_one(ConflictsPanel)
        panel.refresh_since(now)
        self.facts.conflicts = len(panel.rows_by_key)  # the panel's rows, counted alike
        self.query_one(StatusBar).show(self.facts)
        self.toasts.flush()

    # -- selection and actions -----------------------------------------------------------

    def selected_task(self) -> str | None:
        """The task the keys act on: the focused pane's, else the tree's cursor, else pane 1."""
        focused = self.focused
        if isinstance(focused, AgentPane):
            return focused.task_id
        tree = self.query_one(RunTree)
        if self.focused is tree and tree.cursor_node is not None:
            data = tree.cursor_node.data
            if data and not data.startswith("batch-"):
                return data
        panes = list(self.query(AgentPane))
        return panes[0].task_id if panes else None

    def action_open_approval(self) -> None:
        """Open the approval the run is waiting for (it never opens over other screens)."""
        self.app.open_approval()  # type: ignore[attr-defined]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys are offered only where they apply: `a` while an approval waits, `x` on a
        running agent, `r` on a task that failed or was stopped."""
        if action == "open_approval":
            return self.facts.pending_approvals > 0
        if action in ("kill", "restart", "open_log", "open_diff"):
            task_id = self.selected_task() if self.is_mounted else None
            task = self.model.tasks.get(task_id or "")
            state = task.state if task is not None else ""
            if action == "kill":
                return state == "running"
            if action == "restart":
                return state in RESTARTABLE_STATES and task_id != VALIDATOR_KEY
            return task_id is not None
        return True

    @on(events.DescendantFocus)
    def _focus_moved(self) -> None:
        self.refresh_bindings()  # `x` and `r` follow the focused task

    def action_focus_number(self, number: int) -> None:
        if 1 <= number <= len(self.pane_keys):
            pane = self._pane(self.pane_keys[number - 1])
            if pane is not None:
                pane.focus()

    def action_maximise(self) -> None:
        """Zoom the selected pane over the whole pane area, or back.

        The other panes are hidden and the grid given one column, inline: Textual's own
        maximise puts a class on the screen, which restyles every widget on it, a pause
        of a tenth of a second while agents stream.
        """
        if self.zoomed is not None:
            self._unzoom()
            return
        task_id = self.selected_task()
        pane = self._pane(task_id) if task_id else None
        if pane is None:
            return
        with self.app.batch_update():
            for other in self.panes.values():
                if other is not pane:
                    other.display = False
            self.query_one("#pane-grid", Grid).styles.grid_size_columns = 1
        self.zoomed = pane
        pane.focus()

    def _unzoom(self) -> None:
        if self.zoomed is None:
            return
        with self.app.batch_update():
            for pane in self.panes.values():
                pane.display = True
            self.query_one("#pane-grid", Grid).styles.grid_size_columns = None
        self.zoomed = None

    def action_open_log(self) -> None:
        self._ask_app(OpenLog)

    def action_open_diff(self) -> None:
        self._ask_app(OpenDiff)

    def action_kill(self) -> None:
        self._ask_app(StopTask)

    def action_restart(self) -> None:
        self._ask_app(RestartTask)

    def _ask_app(self, message: type[TaskAction]) -> None:
        """Ask the app to act on the selected task."""
        task_id = self.selected_task()
        if task_id is None:
            self.notify("No task selected yet.", severity="warning")
            return
        self.post_message(message(task_id))

    @on(Tree.NodeSelected, "#run-tree")
    def open_log_from_tree(self, event: Tree.NodeSelected[str]) -> None:
        data = event.node.data
        if data and not data.startswith("batch-"):
            self.post_message(OpenLog(data))
