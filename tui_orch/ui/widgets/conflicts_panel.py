"""The conflicts a run has right now: kind, policy, tasks, paths, and since when."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.widgets import DataTable

from tui_orch.ui.text_utils import elapsed_text

ConflictKey = tuple[str, tuple[str, ...], tuple[str, ...]]


class ConflictsPanel(DataTable[Text | str]):
    """One row per current conflict, blocking ones first; hidden while there are none."""

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

    def clear_conflicts(self, keep_kind: str = "") -> None:
        """Forget every conflict (but those of ``keep_kind``): they were settled."""
        kept = {key: row for key, row in self.rows_by_key.items() if key[0] == keep_kind}
        if kept != self.rows_by_key:
            self.rows_by_key = kept
            self._redraw()

    def ordered(self) -> list[tuple[ConflictKey, tuple[str, str, float]]]:
        """Rows in a fixed order, whatever order the checks found them in: blocking ones
        first, then by kind, tasks and paths."""
        return sorted(self.rows_by_key.items(), key=lambda item: (item[1][0] != "block", item[0]))

    def refresh_since(self, now: float) -> None:
        """The since column, as time goes by (the dashboard's tick; redrawn when it changed)."""
        for row, (_key, (_policy, _message, since)) in enumerate(self.ordered()):
            text = elapsed_text(now - since)
            if row < self.row_count and self.get_cell_at((row, 4)) != text:
                self.update_cell_at((row, 4), text)

    def _redraw(self) -> None:
        self.clear()
        now = self.clock()
        for (kind, tasks, paths), (policy, message, since) in self.ordered():
            self.add_row(
                kind,
                Text(policy, style="bold" if policy == "block" else ""),
                ", ".join(tasks),
                ", ".join(paths),
                elapsed_text(now - since),
                message,
            )
        self.display = bool(self.rows_by_key)
