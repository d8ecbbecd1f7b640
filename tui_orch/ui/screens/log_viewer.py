"""A task's full log from disk: follow while it runs, search with / n N."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Input, Static

from tui_orch.ui.widgets.log_view import LogView
from tui_orch.ui.widgets.steady_footer import SteadyFooter


class LogScreen(Screen[None]):
    """The whole log of one task (or the validator), read from its file."""

    HELP = """\
## Log viewer

Everything the agent printed, read from its log file on disk.

| key | does |
| --- | --- |
| `/` | search (case-insensitive); `enter` to jump to the first match |
| `n` / `N` | next / previous match |
| `f` | follow the end on or off |
| `r` | a structured agent's log: the raw stream, or the lines its pane shows |
| `g` / `G` | top / bottom |
| `escape` | back |
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="log.back"),
        Binding("slash", "search", "Search", id="log.search"),
        Binding("n", "next_match(1)", "Next", id="log.next"),
        Binding("N", "next_match(-1)", "Previous", id="log.previous"),
        Binding("f", "toggle_follow", "Follow", id="log.follow"),
        Binding("r", "toggle_raw", "Raw", id="log.raw"),
        Binding("g", "top", "Top", show=False, id="log.top"),
        Binding("G", "bottom", "Bottom", show=False, id="log.bottom"),
    ]

    def __init__(
        self, title: str, path: Path, output_format: str = "text", *, cwd: str = ""
    ) -> None:
        super().__init__(id="log-screen")
        self.title_text = title
        self.path = path
        self.output_format = output_format
        self.cwd = cwd  # the agent's working directory: its paths are shown relative to it

    def compose(self) -> ComposeResult:
        yield Static(self.title_text, id="log-title", classes="screen-title")
        yield LogView(self.path, self.output_format, cwd=self.cwd, id="log-view")
        yield Input(placeholder="search the log", id="log-search", classes="-hidden")
        yield Static(id="log-status")
        yield SteadyFooter()

    @property
    def view(self) -> LogView:
        return self.query_one(LogView)

    def on_mount(self) -> None:
        self.view.focus()
        self.view.scroll_end(animate=False)
        self._show_status()

    def _show_status(self, note: str = "") -> None:
        view = self.view
        follow = "following" if view.follow else "not following"
        found = ""
        if view.query_text:
            at = view.match_index + 1 if view.matches else 0
            found = f" │ '{view.query_text}': {at}/{len(view.matches)}"
        self.query_one("#log-status", Static).update(
            f"{view.line_count} lines │ {follow}{found}{' │ ' + note if note else ''}"
        )

    def action_back(self) -> None:
        search = self.query_one("#log-search", Input)
        if not search.has_class("-hidden"):
            search.add_class("-hidden")
            self.view.focus()
            return
        self.dismiss(None)

    def action_search(self) -> None:
        search = self.query_one("#log-search", Input)
        search.remove_class("-hidden")
        search.focus()

    @on(Input.Submitted, "#log-search")
    def run_search(self, event: Input.Submitted) -> None:
        count = self.view.search(event.value)
        event.input.add_class("-hidden")
        self.view.focus()
        self._show_status("" if count else "no match")

    def action_next_match(self, step: int) -> None:
        if self.view.next_match(step) is None:
            self._show_status("no match" if self.view.query_text else "search first with /")
            return
        self._show_status()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`r` only where there is a difference: a structured agent's log."""
        if action == "toggle_raw":
            return self.output_format != "text"
        return True

    def action_toggle_raw(self) -> None:
        self.view.toggle_raw()
        self._show_status("raw stream" if self.view.raw else "as its pane shows it")

    def action_toggle_follow(self) -> None:
        self.view.follow = not self.view.follow
        if self.view.follow:
            self.view.scroll_end(animate=False)
        self._show_status()

    def action_top(self) -> None:
        self.view.follow = False
        self.view.scroll_home(animate=False)
        self._show_status()

    def action_bottom(self) -> None:
        self.view.scroll_end(animate=False)
        self._show_status()
