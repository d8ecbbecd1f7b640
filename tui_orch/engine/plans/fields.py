"""Typed reads of located YAML values that record problems instead of raising.

The plan and the config files share these, so a wrong type reads the same
everywhere: ``plan.yaml:3: max_parallel: expected a whole number, found the text 'four'``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from dataclasses import dataclass, field

from tui_orch.engine.plans.located_yaml import Located, describe
from tui_orch.engine.plans.problems import Problem, did_you_mean

_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?")
_DURATION_EXAMPLES = "a duration such as 600, '90s', '30m' or '1h30m'"


@dataclass
class FieldReader:
    """Collects problems for one source file while values are read from it."""

    source: str
    problems: list[Problem] = field(default_factory=list)

    def problem(self, line: int, path: str, message: str) -> None:
        self.problems.append(Problem(self.source, line, path, message))

    def wrong_type(self, node: Located, path: str, expected: str) -> None:
        self.problem(node.line, path, f"expected {expected}, found {describe(node)}")

    def mapping(
        self,
        node: Located,
        path: str,
        allowed: Collection[str],
        required: Collection[str] = (),
        what: str = "a mapping",
    ) -> dict[str, Located] | None:
        """Check that node is a mapping with only allowed keys and all required ones."""
        if not node.is_mapping:
            self.wrong_type(node, path or "(top level)", what)
            return None
        items: dict[str, Located] = node.value
        for key in items:
            if key not in allowed:
                self.problem(
                    node.key_lines[key],
                    _join(path, key),
                    "unknown field"
                    + did_you_mean(key, allowed)
                    + f"; allowed: {', '.join(sorted(allowed))}",
                )
        for key in required:
            if key not in items:
                self.problem(node.line, _join(path, key), "required field missing")
        return items

    def text(self, node: Located, path: str, *, allow_empty: bool = False) -> str | None:
        value = node.value
        if not isinstance(value, str):
            self.wrong_type(node, path, "text")
            return None
        if not allow_empty and not value.strip():
            self.problem(node.line, path, "must not be empty")
            return None
        return value

    def boolean(self, node: Located, path: str) -> bool | None:
        value = node.value
        if not isinstance(value, bool):
            self.wrong_type(node, path, "true or false")
            return None
        return value

    def whole_number(self, node: Located, path: str, minimum: int) -> int | None:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int):
            self.wrong_type(node, path, "a whole number")
            return None
        if value < minimum:
            self.problem(node.line, path, f"must be at least {minimum}, found {value}")
            return None
        return value

    def dollars(self, node: Located, path: str) -> float | None:
        """An amount of US dollars above 0, such as 5 or 2.50."""
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.wrong_type(node, path, "an amount of US dollars such as 5 or 2.50")
            return None
        if not math.isfinite(value) or value <= 0:
            self.problem(node.line, path, f"must be more than 0 dollars, found {value}")
            return None
        return float(value)

    def duration(self, node: Located, path: str) -> float | None:
        """Seconds, from a number or text such as '90s', '30m', '1h30m'."""
        seconds = parse_duration(node.value)
        if seconds is None:
            self.wrong_type(node, path, _DURATION_EXAMPLES)
            return None
        if not math.isfinite(seconds):
            self.problem(node.line, path, f"must be a finite number of seconds, found {node.value}")
            return None
        if seconds <= 0:
            self.problem(node.line, path, f"must be more than 0 seconds, found {node.value}")
            return None
        return seconds

    def text_list(self, node: Located, path: str, what: str) -> list[tuple[str, int]] | None:
        """A list of non-empty strings, each with its line."""
        if isinstance(node.value, str):
            self.problem(
                node.line, path, f"expected {what}, found {describe(node)}; write [{node.value}]"
            )
            return None
        if not node.is_sequence:
            self.wrong_type(node, path, what)
            return None
        out: list[tuple[str, int]] = []
        for index, item in enumerate(node.value):
            text = self.text(item, f"{path}[{index}]")
            if text is not None:
                out.append((text, item.line))
        return out

    def text_map(self, node: Located, path: str) -> dict[str, str] | None:
        """A mapping of names to text values (environment variables)."""
        if not node.is_mapping:
            self.wrong_type(node, path, "a mapping of names to text")
            return None
        out: dict[str, str] = {}
        for key, item in node.value.items():
            value = item.value
            if isinstance(value, bool) or value is None or not isinstance(value, str | int | float):
                self.wrong_type(item, _join(path, key), "text")
                continue
            out[key] = str(value)
        return out


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def parse_duration(value: object) -> float | None:
    """Seconds from 600, 1.5, '90s', '30m', '1h30m' or '-5s'; None when it is no duration."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        return None
    text = value.strip().replace(" ", "")
    sign = -1.0 if text.startswith("-") else 1.0
    text = text.removeprefix("-")
    try:
        return sign * float(text)
    except ValueError:
        pass
    match = _DURATION.fullmatch(text)
    if not text or not match:
        return None
    hours, minutes, secs = (float(part) if part else 0.0 for part in match.groups())
    return sign * (hours * 3600 + minutes * 60 + secs)
