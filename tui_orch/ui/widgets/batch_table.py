"""Tasks of one or more batches as a table: what runs, with which agent, on which files."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from tui_orch.engine.plan import Task


class BatchTable(DataTable[Text | str]):
    """One row per task; rows the user chose to skip are marked, not removed."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.skipped: set[str] = set()
        self._tasks: dict[str, tuple[int, Task]] = {}
        self.skippable: set[str] = set()

    def on_mount(self) -> None:
        self.add_columns("batch", "task", "agent", "files", "depends on", "note")

    def show(self, batches: list[tuple[int, list[Task]]], skippable: set[str]) -> None:
        """Fill the table; only tasks in ``skippable`` may be toggled."""
        self.clear()
        self._tasks.clear()
        self.skippable = skippable
        for number, tasks in batches:
            for position, task in enumerate(tasks):
                self._tasks[task.id] = (number, task)
                self.add_row(*self._cells(number, position, task), key=task.id, height=None)

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
