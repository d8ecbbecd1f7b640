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


def parse_yaml(text: str, source: str) -> tuple[Located | None, list[Problem]]:
    """Parse one YAML document into located values; (None, []) for an empty document.

    Syntax errors raise InputError at once (nothing after them can be trusted); problems
    inside a readable document (duplicate keys, unknown tags) are returned so the
    caller can report them with everything else it finds.
    """
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        line, message = explain_syntax_error(error)
        raise InputError([Problem(source, line, "", f"YAML syntax error: {message}")]) from None
    except yaml.YAMLError as error:
        raise InputError([Problem(source, 1, "", f"YAML syntax error: {error}")]) from None
    finally:
        loader.dispose()
    if root is None:
        return None, []
    problems: list[Problem] = []
    return _convert(root, loader, source, "", problems), problems


def explain_syntax_error(error: yaml.MarkedYAMLError) -> tuple[int, str]:
    """A line and a sentence a person can act on, for PyYAML's terse errors."""
    problem = error.problem or ""
    context = error.context or ""
    problem_line = error.problem_mark.line + 1 if error.problem_mark else 1
    context_line = error.context_mark.line + 1 if error.context_mark else problem_line
    if "quoted scalar" in context:
        return context_line, "the quoted text that starts on this line is never closed"
    if "flow sequence" in context:
        return context_line, "the '[' on this line is never closed with ']'"
    if "flow mapping" in context:
        return context_line, "the '{' on this line is never closed with '}'"
    if "<stream end>" in problem:
        return problem_line, "the file ends too early; look for an unclosed '[', '{' or quote"
    if "mapping values are not allowed here" in problem:
        return problem_line, (
            "a ':' where YAML does not expect one; put quotes around text that contains ': '"
        )
    if "'\\t'" in problem:
        return problem_line, "a tab character; indent with spaces, not tabs"
    if "expected <block end>" in problem:
        return problem_line, "this line's indentation does not match the lines above it"
    if "another document" in problem:
        return problem_line, (
            "the file holds more than one YAML document (a second '---'); a plan is one document"
        )
    return problem_line, f"{context} {problem}".strip() or "unreadable"


def _convert(
    node: yaml.Node, loader: yaml.SafeLoader, source: str, path: str, problems: list[Problem]
) -> Located:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        return _convert_mapping(node, loader, source, path, problems)
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
    except yaml.constructor.ConstructorError:
        problems.append(
            Problem(
                source, line, path, f"unknown YAML tag '{_short_tag(node.tag)}'; remove the tag"
            )
        )
        value = node.value if isinstance(node, yaml.ScalarNode) else None
    except yaml.YAMLError as error:
        problems.append(Problem(source, line, path, f"unreadable value: {error.problem or error}"))
        value = None
    return Located(value, line)


def _convert_mapping(
    node: yaml.MappingNode, loader: yaml.SafeLoader, source: str, path: str, problems: list[Problem]
) -> Located:
    # Keys written in this mapping win over keys pulled in by a merge key (<<: *anchor).
    explicit = {id(key) for key, _ in node.value if key.tag != "tag:yaml.org,2002:merge"}
    try:
        loader.flatten_mapping(node)
    except yaml.constructor.ConstructorError as error:
        problems.append(
            Problem(source, node.start_mark.line + 1, path, f"bad merge key: {error.problem}")
        )
    items: dict[str, Located] = {}
    key_lines: dict[str, int] = {}
    from_merge: set[str] = set()
    for key_node, value_node in node.value:
        key_line = key_node.start_mark.line + 1
        if not isinstance(key_node, yaml.ScalarNode):
            kind = "a list" if isinstance(key_node, yaml.SequenceNode) else "a mapping"
            problems.append(
                Problem(
                    source,
                    key_line,
                    path or "(top level)",
                    f"keys must be plain names, found {kind}",
                )
            )
            continue
        key = str(key_node.value)
        child_path = f"{path}.{key}" if path else key
        is_explicit = id(key_node) in explicit
        if key in items and key not in from_merge and is_explicit:
            problems.append(
                Problem(
                    source,
                    key_line,
                    child_path,
                    f"given twice (first at line {key_lines[key]}); keep only one",
                )
            )
            continue
        if key in items and key not in from_merge:
            continue  # a merged-in key never overrides an explicit one
        key_lines[key] = key_line
        if is_explicit:
            from_merge.discard(key)
        else:
            from_merge.add(key)
        items[key] = _convert(value_node, loader, source, child_path, problems)
    return Located(items, node.start_mark.line + 1, key_lines)


def _short_tag(tag: str) -> str:
    """Show tags the way they are written: '!!python/object', not the full URI."""
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org") else tag
