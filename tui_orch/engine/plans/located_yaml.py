"""YAML that remembers where each value came from.

PyYAML's ``safe_load`` forgets line numbers; we compose the node graph instead and
keep the line of every key and value, so errors can say ``plan.yaml:14: tasks[2].id``.
Duplicate keys, which PyYAML silently collapses, are reported as problems.

Plans come from people and planner agents, so the input is bounded before anything is
built from it: the nesting depth and the number of values (each alias counted as all the
values it stands for) are checked while the document is composed, and every PyYAML error
becomes one located problem, never a traceback or a hang.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from tui_orch.engine.plans.problems import InputError, Problem

# A plan nests about 5 levels (plan > tasks > task > files > file); 64 leaves plenty of room
# and keeps the walks that still recurse (`Located.plain`, the plan checks) far from any limit.
MAX_DEPTH = 64
# Keys, lists and mappings count too, and an alias counts as everything it stands for. A
# plan of 300 tasks of 10 files each holds about 7,000; the pure-Python parser (needed for
# line numbers) composes ~20,000 values a second, so this also keeps `check` under a second.
MAX_VALUES = 10_000
# About 3,000 digits: far more than any plan field takes, and few enough to print (Python
# refuses to turn an int of over 4,300 digits into text, as 'found the number' messages do).
MAX_NUMBER_BITS = 10_000


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
        return f"the text '{shorten(value)}'"
    return type(value).__name__


def shorten(text: str, limit: int = 40) -> str:
    """Text to quote in a one-line message: at most `limit` characters, line breaks shown."""
    shown = text.replace("\r", "\\r").replace("\n", "\\n")
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def parse_yaml(text: str, source: str) -> tuple[Located | None, list[Problem]]:
    """Parse one YAML document into located values; (None, []) for an empty document.

    Syntax errors and documents past the limits raise InputError at once (nothing after
    them can be trusted); problems inside a readable document (duplicate keys, unknown
    tags) are returned so the caller can report them with everything else it finds.
    """
    root, loader = _compose(text, source)
    if root is None:
        return None, []
    problems: list[Problem] = []
    return _convert(root, loader, source, problems), problems


def _compose(text: str, source: str) -> tuple[yaml.Node | None, _BoundedLoader]:
    """The document's node graph, or InputError with the one problem that stopped it."""
    try:
        loader = _BoundedLoader(text)
    except yaml.reader.ReaderError as error:
        raise InputError([_unreadable_character(error, text, source)]) from None
    try:
        return loader.get_single_node(), loader
    except _Refused as refused:
        raise InputError([Problem(source, refused.line, "", refused.message)]) from None
    except yaml.MarkedYAMLError as error:
        line, message = explain_syntax_error(error)
        raise InputError([Problem(source, line, "", f"YAML syntax error: {message}")]) from None
    except yaml.YAMLError as error:
        message = " ".join(str(error).split())  # one line, whatever PyYAML wrote
        raise InputError([Problem(source, 1, "", f"YAML syntax error: {message}")]) from None
    finally:
        loader.dispose()


class _Refused(Exception):
    """The document is past a limit; raised from inside the composer to stop it at once."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class _BoundedLoader(yaml.SafeLoader):
    """A SafeLoader whose composer refuses documents too deep or too big, as it goes.

    The composer works from an explicit stack instead of recursing: how deep a document
    nests must not decide how deep Python's stack gets (past the recursion limit, and
    well before it CPython 3.11 allocates and frees a stack chunk on every call when a
    recursion keeps crossing a chunk boundary: ten times slower at some depths, which a
    hostile document could pick). Sizes are counted per node as it is finished (an alias
    can only name a node composed before it), so an alias bomb is refused at the alias
    that crosses the limit, before anything is expanded, and an alias inside the node it
    names (PyYAML registers the anchor before the children) is caught as a loop.
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._values = 0
        # id(node) -> (values once aliases are expanded, levels deep), for finished nodes.
        self._sizes: dict[int, tuple[int, int]] = {}
        # id(mapping) -> ids of the keys written in it, taken before merge keys are flattened.
        self._written_keys: dict[int, set[int]] = {}

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        """Compose the whole document (PyYAML calls this once, for the root)."""
        open_nodes: list[_Open] = []
        while True:
            if open_nodes and self.check_event(yaml.SequenceEndEvent, yaml.MappingEndEvent):
                node = self._close(open_nodes.pop())
            else:
                started = self._start(open_nodes)
                if isinstance(started, _Open):
                    open_nodes.append(started)
                    continue
                node = started
            if not open_nodes:
                return node
            open_nodes[-1].add(node)

    def _start(self, open_nodes: list[_Open]) -> yaml.Node | _Open:
        """The next node: a finished scalar or alias, or a collection just opened."""
        if self.check_event(yaml.AliasEvent):
            return self._alias(self.get_event(), len(open_nodes))
        event = self.peek_event()
        line = event.start_mark.line + 1
        if len(open_nodes) >= MAX_DEPTH:
            raise _Refused(
                line, f"the YAML nests deeper than {MAX_DEPTH} levels; a plan needs far fewer"
            )
        self._add_values(1, line, "")
        anchor = event.anchor
        if anchor is not None and anchor in self.anchors:
            first = self.anchors[anchor].start_mark.line + 1
            raise _Refused(
                line,
                f"YAML syntax error: the anchor '&{anchor}' is already defined at line "
                f"{first}; give this one another name",
            )
        if open_nodes:
            self.descend_resolver(open_nodes[-1].node, open_nodes[-1].index)
        else:
            self.descend_resolver(None, None)
        if self.check_event(yaml.ScalarEvent):
            node = self.compose_scalar_node(anchor)
            self.ascend_resolver()
            self._sizes[id(node)] = (1, 1)
            return node
        node = self._open_collection(self.get_event())
        if anchor is not None:
            self.anchors[anchor] = node
        return _Open(node)

    def _open_collection(self, event: yaml.Event) -> yaml.CollectionNode:
        """A sequence or mapping node, its children still to come (as PyYAML's composer)."""
        kind = yaml.SequenceNode if isinstance(event, yaml.SequenceStartEvent) else yaml.MappingNode
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.resolve(kind, None, event.implicit)
        return kind(tag, [], event.start_mark, None, flow_style=event.flow_style)

    def _close(self, opened: _Open) -> yaml.Node:
        node = opened.node
        node.end_mark = self.get_event().end_mark
        self.ascend_resolver()
        if isinstance(node, yaml.MappingNode):
            self._written_keys[id(node)] = {
                id(key) for key, _ in node.value if key.tag != "tag:yaml.org,2002:merge"
            }
        self._sizes[id(node)] = self._size_of(node)
        return node

    def _alias(self, event: yaml.AliasEvent, depth: int) -> yaml.Node:
        """The node an alias names, once it is known to be finished and small enough."""
        line = event.start_mark.line + 1
        target = self.anchors.get(event.anchor)
        if target is None:
            raise _Refused(
                line,
                f"YAML syntax error: the alias '*{event.anchor}' names no anchor defined "
                f"before it; put '&{event.anchor}' on the value it stands for, above this line",
            )
        size = self._sizes.get(id(target))
        if size is None:
            raise _Refused(
                line,
                f"the alias '*{event.anchor}' is inside the value it names, so it would "
                "repeat forever; write that part out instead",
            )
        values, levels = size
        if depth + levels > MAX_DEPTH:
            raise _Refused(
                line,
                f"the alias '*{event.anchor}' makes the YAML nest deeper than {MAX_DEPTH} "
                "levels; a plan needs far fewer",
            )
        self._add_values(values, line, event.anchor)
        return target

    def _add_values(self, count: int, line: int, anchor: str) -> None:
        self._values += count
        if self._values <= MAX_VALUES:
            return
        if anchor:
            raise _Refused(
                line,
                f"YAML aliases expand this document to more than {MAX_VALUES:,} values "
                f"(at the alias '*{anchor}' on this line); a plan needs far fewer, "
                "so use fewer aliases",
            )
        raise _Refused(
            line,
            f"the YAML holds more than {MAX_VALUES:,} values (counting keys, lists and "
            "mappings); a plan needs far fewer, so split the work into smaller plans",
        )

    def _size_of(self, node: yaml.CollectionNode) -> tuple[int, int]:
        """Values and depth of a collection just finished, from its children's."""
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        else:
            children = node.value
        sizes = [self._sizes[id(child)] for child in children]
        return 1 + sum(v for v, _ in sizes), 1 + max((d for _, d in sizes), default=0)

    def written_keys(self, node: yaml.MappingNode) -> set[int]:
        """Ids of the keys written in this mapping, not pulled in by a merge key."""
        return self._written_keys[id(node)]


@dataclass
class _Open:
    """A sequence or mapping being composed, and the key waiting for its value."""

    node: yaml.CollectionNode
    key: yaml.Node | None = None

    @property
    def index(self) -> object:
        """What PyYAML's path resolvers expect for the next child (see descend_resolver)."""
        if isinstance(self.node, yaml.SequenceNode):
            return len(self.node.value)
        return self.key

    def add(self, child: yaml.Node) -> None:
        if isinstance(self.node, yaml.SequenceNode):
            self.node.value.append(child)
        elif self.key is None:
            self.key = child
        else:
            self.node.value.append((self.key, child))
            self.key = None


def _unreadable_character(error: yaml.reader.ReaderError, text: str, source: str) -> Problem:
    """Say which character YAML refused, where, and what to do about it."""
    position = error.position
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    code = error.character if isinstance(error.character, int) else 0
    if code == 0:
        return Problem(
            source,
            line,
            "",
            f"a NUL byte (column {column}), which YAML text cannot hold; "
            "is the file UTF-16? save it as UTF-8",
        )
    escape = f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"
    kind = "a control character" if code < 0xA0 else "the character"
    return Problem(
        source,
        line,
        "",
        f"{kind} U+{code:04X} (column {column}), which YAML text cannot hold; delete it, "
        f'or write it as {escape} inside double quotes ("...")',
    )


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
    root: yaml.Node, loader: _BoundedLoader, source: str, problems: list[Problem]
) -> Located:
    """Located values for a composed document, walked from an explicit stack.

    Each value is made empty first and filled when its turn comes, so no Python call
    nests deeper for a deeper document (see `_BoundedLoader` for why that matters).
    """
    top = Located(None, root.start_mark.line + 1)
    pending: list[tuple[yaml.Node, str, Located]] = [(root, "", top)]
    while pending:
        node, path, target = pending.pop()
        target.line = node.start_mark.line + 1
        children: list[tuple[yaml.Node, str, Located]] = []
        if isinstance(node, yaml.MappingNode):
            target.value = {}
            for key, (value_node, key_line) in _mapping_pairs(
                node, loader, source, path, problems
            ).items():
                target.value[key] = Located(None, key_line)
                target.key_lines[key] = key_line
                children.append((value_node, f"{path}.{key}" if path else key, target.value[key]))
        elif isinstance(node, yaml.SequenceNode):
            target.value = [Located(None, 0) for _ in node.value]
            children = [
                (child, f"{path}[{index}]", target.value[index])
                for index, child in enumerate(node.value)
            ]
        else:
            target.value, message = _construct_scalar(node, loader)
            if message:
                problems.append(Problem(source, target.line, path, message))
        pending.extend(reversed(children))
    return top


def _construct_scalar(node: yaml.Node, loader: _BoundedLoader) -> tuple[Any, str]:
    """The scalar's value and '', or a stand-in value and why it cannot be read."""
    try:
        value = loader.construct_object(node, deep=True)
    except Exception as error:  # PyYAML's constructors also raise ValueError and the like
        # A failed construction stays marked as in progress; unmark it, or the next alias
        # to this node would be reported as a recursive one.
        loader.recursive_objects.pop(node, None)
        return _stand_in(node), _unconstructable(node, error)
    if isinstance(value, int) and value.bit_length() > MAX_NUMBER_BITS:
        return _stand_in(node), (
            "this number is far too large for any plan field; quote it to make it text"
        )
    return value, ""


def _stand_in(node: yaml.Node) -> Any:
    return node.value if isinstance(node, yaml.ScalarNode) else None


def _unconstructable(node: yaml.Node, error: Exception) -> str:
    tag = _short_tag(node.tag)
    if isinstance(error, yaml.constructor.ConstructorError) and "constructor for" in str(error):
        return f"unknown YAML tag '{tag}'; remove the tag"
    text = shorten(str(node.value)) if isinstance(node, yaml.ScalarNode) else ""
    reason = error.problem if isinstance(error, yaml.MarkedYAMLError) else str(error)
    return f"'{text}' cannot be read as {tag} ({shorten(reason, 80)}); quote it to make it text"


def _mapping_pairs(
    node: yaml.MappingNode, loader: _BoundedLoader, source: str, path: str, problems: list[Problem]
) -> dict[str, tuple[yaml.Node, int]]:
    """Each key of a mapping, merge keys applied, with its value's node and the key's line."""
    # Keys written in this mapping win over keys pulled in by a merge key (<<: *anchor).
    # Taken at compose time: a mapping reached again through an alias is already flattened.
    explicit = loader.written_keys(node)
    try:
        loader.flatten_mapping(node)
    except yaml.constructor.ConstructorError as error:
        problems.append(
            Problem(source, node.start_mark.line + 1, path, f"bad merge key: {error.problem}")
        )
    pairs: dict[str, tuple[yaml.Node, int]] = {}
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
        is_explicit = id(key_node) in explicit
        if key in pairs and key not in from_merge and is_explicit:
            problems.append(
                Problem(
                    source,
                    key_line,
                    f"{path}.{key}" if path else key,
                    f"given twice (first at line {pairs[key][1]}); keep only one",
                )
            )
            continue
        if key in pairs and key not in from_merge:
            continue  # a merged-in key never overrides an explicit one
        if is_explicit:
            from_merge.discard(key)
        else:
            from_merge.add(key)
        pairs[key] = (value_node, key_line)
    return pairs


def _short_tag(tag: str) -> str:
    """Show tags the way they are written: '!!python/object', not the full URI."""
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org") else tag
