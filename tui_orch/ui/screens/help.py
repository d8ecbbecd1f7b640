"""Every key of the screen below, from its HELP text, plus the app's own keys.

The help is one widget drawing one Rich renderable, over an opaque background: Textual's
Markdown widget made a widget per block and per table cell (styled and laid out at every
open), and a translucent modal background makes Textual draw and tint the whole screen
underneath on every frame while the panes stream under it. Both made `?` slow while
agents run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

from rich import box
from rich.console import Group, RenderableType
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget

APP_HELP = """\
## Everywhere

| key | does |
| --- | --- |
| `?` / `f1` | this help |
| `ctrl+p` | command palette: every action by name |
| `escape` | back one level |
| `q` | quit (asks first while agents run: they can keep running) |
"""

# -- the little Markdown the screens' HELP texts use ------------------------------------


@dataclass
class Heading:
    text: str


@dataclass
class Paragraph:
    text: str


@dataclass
class KeyTable:
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)


Block = Heading | Paragraph | KeyTable
SEPARATOR_CELL = re.compile(r":?-+:?")
CODE_SPAN = re.compile(r"`([^`]+)`")


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def parse_help(markdown: str) -> list[Block]:
    """Headings, paragraphs (lines joined) and pipe tables: all a HELP text uses.

    A line inside a table that does not start with `|` continues the last cell of the
    row above: the screens wrap a long key description so.
    """
    blocks: list[Block] = []
    paragraph: list[str] = []
    table: KeyTable | None = None

    def end_paragraph() -> None:
        if paragraph:
            blocks.append(Paragraph(" ".join(paragraph)))
            paragraph.clear()

    for raw in markdown.splitlines():
        line = raw.strip()
        if not line:
            end_paragraph()
            table = None
        elif line.startswith("|"):
            end_paragraph()
            cells = _cells(line)
            if table is None:
                table = KeyTable(cells)
                blocks.append(table)
            elif not all(SEPARATOR_CELL.fullmatch(cell) for cell in cells):
                table.rows.append(cells)
        elif table is not None and table.rows:
            last = table.rows[-1]
            last[-1] = f"{last[-1]} {line.rstrip('|').strip()}"
        elif line.startswith("#"):
            end_paragraph()
            table = None
            blocks.append(Heading(line.lstrip("#").strip()))
        else:
            table = None
            paragraph.append(line)
    end_paragraph()
    return blocks


class HelpText(Widget):
    """The help, drawn from a single Rich renderable built once (per style)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"help--heading", "help--code", "help--header"}
    DEFAULT_CSS = """
    HelpText {
        height: auto;
        padding: 1 1;
        & > .help--heading {
            color: $markdown-h2-color;
            text-style: bold $markdown-h2-text-style;
        }
        & > .help--header {
            color: $primary;
            text-style: bold;
        }
        &:dark > .help--code {
            background: $warning 10%;
            color: $text-warning 95%;
        }
        &:light > .help--code {
            background: $error 5%;
            color: $text-error 95%;
        }
    }
    """

    def __init__(self, markdown: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.markdown = markdown
        self.blocks = parse_help(markdown)
        self._renderable: RenderableType | None = None

    def notify_style_update(self) -> None:
        self._renderable = None  # built with the old styles (a theme change)
        super().notify_style_update()

    def _inline(self, text: str, code: Style) -> Text:
        """Text with its `code spans` styled."""
        result = Text()
        position = 0
        for match in CODE_SPAN.finditer(text):
            result.append(text[position : match.start()])
            result.append(match.group(1), style=code)
            position = match.end()
        result.append(text[position:])
        return result

    def build(self) -> RenderableType:
        heading = self.get_component_rich_style("help--heading")
        header = self.get_component_rich_style("help--header")
        code = self.get_component_rich_style("help--code")
        parts: list[RenderableType] = []
        for block in self.blocks:
            if parts:
                parts.append(Text())
            if isinstance(block, Heading):
                parts.append(Text(block.text, style=heading))
            elif isinstance(block, Paragraph):
                parts.append(self._inline(block.text, code))
            else:
                table = Table(
                    box=box.SIMPLE_HEAD,
                    show_edge=False,
                    pad_edge=False,
                    expand=True,
                    header_style=header,
                    border_style=header,
                )
                for number, name in enumerate(block.header):
                    last = number == len(block.header) - 1
                    table.add_column(name, no_wrap=not last, ratio=1 if last else None)
                for row in block.rows:
                    table.add_row(*(self._inline(cell, code) for cell in row))
                parts.append(table)
        return Group(*parts)

    def render(self) -> RenderableType:
        if self._renderable is None:
            self._renderable = self.build()
        return self._renderable


class HelpModal(ModalScreen[None]):
    """Help for the screen it was opened from.

    Opaque, unlike Textual's default modal: a translucent one redraws (and tints) the
    whole screen below it, panes and all, in every frame while they stream.
    """

    DEFAULT_CSS = """
    HelpModal {
        background: $background;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark,f1", "close", "Close", id="help.close")
    ]

    def __init__(self, screen_help: str) -> None:
        super().__init__(id="help-modal")
        self.screen_help = screen_help

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield HelpText(self.screen_help + "\n" + APP_HELP)

    def action_close(self) -> None:
        self.dismiss(None)
