"""Tasks of one or more batches as a table: what runs, with which agent, on which files."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from tui_orch.engine.plans.batches import dependents
from tui_orch.engine.plans.plan import Task

COLUMNS = ("batch", "task", "agent", "files", "depends on", "note")
SKIPPED = "skipped"
SKIPPED_WITH = "skipped: dependency"
TITLE_WIDTH = 36  # a task's title is shown under its id, cut to this many columns


class BatchTable(DataTable[Text | str]):
    """One row per task; rows the user chose to skip are marked, not removed."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.skipped: set[str] = set()
        self._tasks: dict[str, tuple[int, Task]] = {}
        self.skippable: set[str] = set()
        self._column_keys: list[ColumnKey] = []

    def on_mount(self) -> None:
        self.add_columns(*COLUMNS)

    def show(self, batches: list[tuple[int, list[Task]]], skippable: set[str]) -> None:
        """Fill the table; only tasks in ``skippable`` may be toggled.

        Columns get their widths here, from their contents: a table whose auto-sized
        columns grow after it was first drawn can keep a header drawn at the old widths.
        """
        self._tasks.clear()
        self.skippable = skippable
        rows: list[tuple[str, list[Text | str]]] = []
        for number, tasks in batches:
            for position, task in enumerate(tasks):
                self._tasks[task.id] = (number, task)
                rows.append((task.id, self._cells(number, position, task)))
        self.clear(columns=True)
        self._column_keys = []
        for column, label in enumerate(COLUMNS):
            cells = [label, *(row[column] for _, row in rows)]
            if label == "note":
                cells += [SKIPPED, SKIPPED_WITH]  # what the column says once tasks are skipped
            self._column_keys.append(self.add_column(label, width=max(map(_width, cells))))
        for key, cells in rows:
            self.add_row(*cells, key=key, height=None)

    def dependents(self, task_ids: set[str]) -> set[str]:
        """Tasks in the table that need any of task_ids, directly or through others."""
        return dependents({task.id: task.depends_on for _, task in self._tasks.values()}, task_ids)

    def _cells(self, number: int, position: int, task: Task) -> list[Text | str]:
        # A task that depends on a skipped one is skipped with it (the engine does so).
        follows = task.id in self.dependents(self.skipped)
        skipped = task.id in self.skipped or follows
        style = "strike dim" if skipped else ""
        return [
            str(number) if position == 0 else "",
            _id_and_title(task, style),
            task.agent,
            Text("\n".join(task.files), style=style),
            ", ".join(task.depends_on) or "-",
            SKIPPED_WITH if follows else SKIPPED if skipped else "",
        ]

    @property
    def current_task_id(self) -> str | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return str(key.value)

    def toggle_skip(self) -> str | None:
        """Skip or un-skip the task under the cursor; returns a reason when it cannot."""
        task_id = self.current_task_id
        if task_id is None:
            return "no task selected"
        if task_id not in self.skippable:
            return f"task '{task_id}' is not in the batch about to start"
        self.skipped ^= {task_id}
        positions: dict[int, int] = {}
        for row_task_id, (number, task) in self._tasks.items():
            position = positions.get(number, 0)
            positions[number] = position + 1
            cells = self._cells(number, position, task)
            for column, value in zip(self._column_keys, cells, strict=True):
                self.update_cell(row_task_id, column, value)
        return None


def _width(cell: Text | str) -> int:
    text = cell if isinstance(cell, Text) else Text(cell)
    return max((line.cell_len for line in text.split()), default=0)


def _id_and_title(task: Task, style: str) -> Text:
    """The task's id, and under it its title (what it is for), kept short."""
    cell = Text(task.id, style=style)
    title = task.title.strip()
    if title and title != task.id:
        short = title if len(title) <= TITLE_WIDTH else title[: TITLE_WIDTH - 1] + "…"
        cell.append(f"\n{short}", style=f"{style} italic".strip())
    return cell
