"""YAML that remembers where each value came from.

PyYAML's ``safe_load`` forgets line numbers; we compose the node graph instead and
keep the line of every key and value, so errors can say ``plan.yaml:14: tasks[2].id``.
Duplicate keys, which PyYAML silently collapses, are reported as problems.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from tui_orch.engine.problems import InputError, Problem


@dataclass
class Located:
    """A YAML value and the 1-based line it starts on.

    ``value`` is a plain scalar (str, int, float, bool, None), a list of `Located`,
    or a dict of key -> `Located` for mappings (with ``key_lines`` for the keys).
    """

    value: Any
    line: int
    key_lines: dict[str, int] = field(default_factory=dict)

    @property
    def is_mapping(self) -> bool:
        return isinstance(self.value, dict)

    @property
    def is_sequence(self) -> bool:
        return isinstance(self.value, list)

    def plain(self) -> Any:
        """The value with all locations stripped (for env maps and the like)."""
        if isinstance(self.value, dict):
            return {k: v.plain() for k, v in self.value.items()}
        if isinstance(self.value, list):
            return [v.plain() for v in self.value]
        return self.value


def describe(node: Located) -> str:
    """Say what a value is, for 'expected X, found Y' sentences."""
    value = node.value
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{'true' if value else 'false'}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the text '{shown}'"
    return type(value).__name__


def parse_yaml(text: str, source: str) -> Located | None:
    """Parse one YAML document; None for an empty document.

    Raises InputError for syntax errors (with the line) and duplicate keys.
    """
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        what = error.problem or error.context or "unreadable"
        raise InputError([Problem(source, line, "", f"YAML syntax error: {what}")]) from None
    except yaml.YAMLError as error:
        raise InputError([Problem(source, 1, "", f"YAML syntax error: {error}")]) from None
    finally:
        loader.dispose()
    if root is None:
        return None
    problems: list[Problem] = []
    located = _convert(root, loader, source, "", problems)
    if problems:
        raise InputError(problems)
    return located


def _convert(
    node: yaml.Node, loader: yaml.SafeLoader, source: str, path: str, problems: list[Problem]
) -> Located:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # resolve YAML merge keys (<<: *anchor)
        items: dict[str, Located] = {}
        key_lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            key_line = key_node.start_mark.line + 1
            child_path = f"{path}.{key}" if path else key
            if key in items:
                problems.append(
                    Problem(
                        source,
                        key_line,
                        child_path,
                        f"given twice (first at line {key_lines[key]})",
                    )
                )
                continue
            key_lines[key] = key_line
            items[key] = _convert(value_node, loader, source, child_path, problems)
        return Located(items, line, key_lines)
    if isinstance(node, yaml.SequenceNode):
        return Located(
            [
                _convert(child, loader, source, f"{path}[{index}]", problems)
                for index, child in enumerate(node.value)
            ],
            line,
        )
    try:
        value = loader.construct_object(node, deep=True)
    except yaml.YAMLError as error:
        problems.append(Problem(source, line, path, f"unreadable value: {error}"))
        value = None
    return Located(value, line)
