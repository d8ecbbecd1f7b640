"""The conflicts a run has right now: kind, policy, tasks, paths, and since when."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.widgets import DataTable

from tui_orch.ui.text_utils import elapsed_text

ConflictKey = tuple[str, tuple[str, ...], tuple[str, ...]]


class ConflictsPanel(DataTable[Text | str]):
    """One row per current conflict; hidden while there are none."""

    def __init__(self, clock: Callable[[], float], *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.clock = clock
        self.rows_by_key: dict[ConflictKey, tuple[str, str, float]] = {}

    def on_mount(self) -> None:
        self.add_columns("kind", "policy", "tasks", "paths", "since", "what")
        self.display = False

    def add_conflict(self, key: ConflictKey, policy: str, message: str, since: float) -> None:
        self.rows_by_key[key] = (policy, message, since)
        self._redraw()

    def remove_conflict(self, key: ConflictKey) -> None:
        self.rows_by_key.pop(key, None)
        self._redraw()

    def _redraw(self) -> None:
        self.clear()
        now = self.clock()
        for (kind, tasks, paths), (policy, message, since) in self.rows_by_key.items():
            self.add_row(
                kind,
                Text(policy, style="bold" if policy == "block" else ""),
                ", ".join(tasks),
                ", ".join(paths),
                elapsed_text(now - since),
                message,
            )
        self.display = bool(self.rows_by_key)
