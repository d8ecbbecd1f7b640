"""A task's changes against the commit it started from, uncommitted work included."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.syntax import Syntax
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from tui_orch.engine.repository.snapshots import FileChange, changed_files, file_diff, snapshot_tree
from tui_orch.ui.widgets.steady_footer import SteadyFooter

# Lines of one file's diff drawn at most (2,000 highlight in about 50 ms).
SHOWN_DIFF_LINES = 2000


class DiffScreen(Screen[None]):
    """File list on the left, the highlighted file's diff on the right."""

    HELP = """\
## Diff viewer

What the task changed since the commit it started from, read from its worktree without
touching it (uncommitted and new files included, even while the agent runs).

| key | does |
| --- | --- |
| `up` / `down` | choose a file |
| `r` | refresh |
| `escape` | back |
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="diff.back"),
        Binding("r", "refresh_diff", "Refresh", id="diff.refresh"),
    ]

    def __init__(self, task_id: str, worktree: Path, start: str) -> None:
        super().__init__(id="diff-screen")
        self.task_id = task_id
        self.worktree = worktree
        self.start = start
        self.snapshot = ""
        self.changes: list[FileChange] = []
        self.diff_text: str | None = None
        self.syntax_theme = ""

    def compose(self) -> ComposeResult:
        yield Static(
            Text(f"Diff  {self.task_id}  (since {self.start[:8]})  in {self.worktree}"),
            classes="screen-title",
        )
        with Horizontal(id="diff-body"):
            yield OptionList(id="diff-files")
            with VerticalScroll(id="diff-text-scroll"):
                yield Static(id="diff-text")
        yield SteadyFooter()

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)
        self.load_changes()

    @work(
        thread=True,
        exclusive=True,
        group="diff",
        exit_on_error=False,
        description="Reading the diff",
    )
    def load_changes(self) -> None:
        if not self.worktree.exists():
            self.app.call_from_thread(self._show_message, "Its worktree is gone (cleaned up).")
            return
        tree = snapshot_tree(self.worktree)
        changes = changed_files(self.worktree, self.start, tree)
        if not get_current_worker().is_cancelled:  # a newer refresh wins, never an older one
            self.app.call_from_thread(self._show_changes, tree, changes)

    def _show_message(self, text: str) -> None:
        self.query_one("#diff-text", Static).update(text)

    def _show_changes(self, tree: str, changes: list[FileChange]) -> None:
        self.snapshot, self.changes = tree, changes
        files = self.query_one(OptionList)
        files.clear_options()
        for change in changes:
            label = f"{change.status} {change.path}  +{change.insertions} -{change.deletions}"
            files.add_option(Option(label, id=change.path))
        if changes:
            files.highlighted = 0
            files.focus()
            self.load_file(changes[0].path)
        else:
            self._show_message("No changes yet.")

    @on(OptionList.OptionHighlighted, "#diff-files")
    def choose_file(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id:
            self.load_file(event.option.id)

    @work(
        thread=True,
        exclusive=True,
        group="diff-file",
        exit_on_error=False,
        description="Reading a file's diff",
    )
    def load_file(self, path: str) -> None:
        text = file_diff(self.worktree, self.start, path, self.snapshot)
        lines = text.splitlines()
        if len(lines) > SHOWN_DIFF_LINES:
            # Highlighting is drawn on the event loop: a generated file or a lock file
            # of 20,000 changed lines would hold the screen for most of a second.
            hidden = len(lines) - SHOWN_DIFF_LINES
            note = f"# … {hidden} more lines not shown; the file: {self.worktree / path}"
            text = "\n".join([*lines[:SHOWN_DIFF_LINES], note])
        if not get_current_worker().is_cancelled:  # the file highlighted last wins
            self.app.call_from_thread(self._show_diff, text)

    def _show_diff(self, text: str) -> None:
        self.diff_text = text
        # Highlighting that suits the app's theme: dark colours on a light one are unreadable.
        self.syntax_theme = "ansi_dark" if self.app.current_theme.dark else "ansi_light"
        self.query_one("#diff-text", Static).update(
            Syntax(text or "(no textual change)", "diff", theme=self.syntax_theme, word_wrap=False)
        )

    def _theme_changed(self, theme: object) -> None:
        if self.diff_text is not None:
            self._show_diff(self.diff_text)

    def action_refresh_diff(self) -> None:
        self.load_changes()

    def action_back(self) -> None:
        self.dismiss(None)
