"""Problems found in user input, each pinned to a file, a line and a field.

Every check in the engine reports through `Problem` so that the user always gets
one sentence of the form ``plan.yaml:14: tasks[2].depends_on: unknown task 'apii'``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import asdict, dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the input: where it is and what is wrong, in one sentence."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class InputError(Exception):
    """Raised with every problem found, so the user fixes them all in one go."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.field, p.message))
        super().__init__("\n".join(str(p) for p in self.problems))


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return " (did you mean 'x'?)" for the closest choice, or "" when none is close."""
    close = difflib.get_close_matches(word, sorted(set(choices)), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def quote_list(words: Iterable[str]) -> str:
    """Human list of quoted words: 'a', 'b' and 'c'."""
    quoted = [f"'{w}'" for w in words]
    if len(quoted) <= 1:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + " and " + quoted[-1]
