"""Tasks of one or more batches as a table: what runs, with which agent, on which files."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from tui_orch.engine.plan import Task

COLUMNS = ("batch", "task", "agent", "files", "depends on", "note")


class BatchTable(DataTable[Text | str]):
    """One row per task; rows the user chose to skip are marked, not removed."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.skipped: set[str] = set()
        self._tasks: dict[str, tuple[int, Task]] = {}
        self.skippable: set[str] = set()

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
        for column, label in enumerate(COLUMNS):
            cells = [label, *(row[column] for _, row in rows)]
            if label == "note":
                cells.append("skipped")  # what the column says once the user skips a task
            self.add_column(label, width=max(_width(cell) for cell in cells))
        for key, cells in rows:
            self.add_row(*cells, key=key, height=None)

    def _cells(self, number: int, position: int, task: Task) -> list[Text | str]:
        skipped = task.id in self.skipped
        style = "strike dim" if skipped else ""
        return [
            str(number) if position == 0 else "",
            Text(task.id, style=style),
            task.agent,
            Text("\n".join(task.files), style=style),
            ", ".join(task.depends_on) or "-",
            "skipped" if skipped else "",
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
        number, task = self._tasks[task_id]
        position = [t.id for n, t in self._tasks.values() if n == number].index(task_id)
        for column, value in enumerate(self._cells(number, position, task)):
            self.update_cell_at((self.cursor_row, column), value)
        return None


def _width(cell: Text | str) -> int:
    text = cell if isinstance(cell, Text) else Text(cell)
    return max((line.cell_len for line in text.split()), default=0)
