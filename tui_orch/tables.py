"""Plain text for people: tables for the console (aligned columns, multi-line cells, no
colour), plurals, amounts of money, the first line of a text."""

from __future__ import annotations

from collections.abc import Sequence


def plural(count: int, word: str, many: str | None = None) -> str:
    """'1 file', '3 files'; ``many`` for irregular plurals ('batch', 'batches')."""
    return f"{count} {word if count == 1 else (many or word + 's')}"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]], gap: int = 2) -> str:
    """Align columns; a cell with newlines continues on the following lines."""
    split_rows = [[cell.split("\n") for cell in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in split_rows:
        for column, lines in enumerate(row):
            widths[column] = max(widths[column], *(len(line) for line in lines))
    pad = " " * gap

    def line_of(cells: Sequence[str]) -> str:
        return pad.join(
            cell.ljust(width) for cell, width in zip(cells, widths, strict=True)
        ).rstrip()

    out = [line_of(headers)]
    for row in split_rows:
        height = max(len(lines) for lines in row)
        for index in range(height):
            out.append(line_of([lines[index] if index < len(lines) else "" for lines in row]))
    return "\n".join(out)


def dollars(amount: float) -> str:
    """An amount of US dollars as a person reads it: `$0.0006`, `$2.50`."""
    return f"${amount:.4f}" if amount < 0.01 else f"${amount:.2f}"


def first_text_line(text: str) -> str:
    """The first line of text that is not blank, stripped ('' if there is none)."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "")
