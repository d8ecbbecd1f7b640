"""Every key of the screen below, from its HELP text, plus the app's own keys."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

APP_HELP = """\
## Everywhere

| key | does |
| --- | --- |
| `?` / `f1` | this help |
| `ctrl+p` | command palette: every action by name |
| `escape` | back one level |
| `q` | quit (asks first while agents run: they can keep running) |
"""


class HelpModal(ModalScreen[None]):
    """Help for the screen it was opened from."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark,f1", "close", "Close", id="help.close")
    ]

    def __init__(self, screen_help: str) -> None:
        super().__init__(id="help-modal")
        self.screen_help = screen_help

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Markdown(self.screen_help + "\n" + APP_HELP)

    def action_close(self) -> None:
        self.dismiss(None)
