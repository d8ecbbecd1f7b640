"""Do the merged tasks still fit together? A static check of Python imports across tasks.

Each task passes its own tests in its own worktree, where no other task's rename can be
seen. After the merge we read the integration tree (nothing is imported or run) and report
changed files that do not compile, imports of repo modules that do not exist, and names
imported from another task's module that it no longer defines, naming the tasks on both
sides so the right agent can be asked to fix it. A task's own internal slips are left to its
tests; third-party imports are not ours to judge.
"""

from __future__ import annotations

import ast
import sys
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

SOURCE_DIR = "src"
# Extension modules and stubs: they exist, but we cannot read the names they define.
OPAQUE_SUFFIXES = frozenset({".pyi", ".pyx", ".pxd", ".so", ".pyd"})
LIST_METHODS = frozenset({"append", "extend"})
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@dataclass(frozen=True)
class InterfaceProblem:
    """One broken seam between files: what kind, which tasks, where, and one sentence."""

    kind: str
    consumer: str | None
    provider: str | None
    name: str
    file: str
    line: int
    message: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class _Module:
    """A module found in the tree: its source file and where its submodules live."""

    name: str
    source: Path | None  # the .py file (a package's __init__.py); None for namespace packages
    dirs: tuple[Path, ...]  # where submodules are looked up; empty for a plain module
    opaque: bool = False  # compiled or stub only: any name or submodule is accepted


@dataclass(frozen=True)
class _Exports:
    """The names a module defines at top level; `open` when it may define any name."""

    names: frozenset[str]
    open: bool


OPEN = _Exports(frozenset(), True)


@dataclass(frozen=True)
class _Parsed:
    """What one file imports and what it defines, from a single parse."""

    imports: tuple[ast.Import | ast.ImportFrom, ...]
    exports: _Exports


def check_interfaces(
    root: Path, changed: Iterable[str], owners: Mapping[str, str]
) -> list[InterfaceProblem]:
    """Check the Python files in `changed` (repo-relative paths under root; non-.py ignored,
    deleted files ignored) in the tree at root; `owners` maps repo-relative path -> task id."""
    tree = _Tree(root, owners)
    found: dict[tuple[str, str, int, str], InterfaceProblem] = {}
    # Compiling prints SyntaxWarnings (bad escapes...) to stderr, under a full-screen UI.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for rel in sorted({_normalise(path) for path in changed} - {""}):
            for problem in _check_file(tree, rel):
                key = (problem.kind, problem.file, problem.line, problem.name)
                found.setdefault(key, problem)
    return sorted(found.values(), key=lambda p: (p.file, p.line, p.name, p.kind))


def _normalise(path: str) -> str:
    """'./src/a.py' -> 'src/a.py'; '' for what is not a repo-relative .py path."""
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or pure.suffix != ".py":
        return ""
    return pure.as_posix()


class _Tree:
    """The repository at root, as the import system would see it, with parses cached."""

    def __init__(self, root: Path, owners: Mapping[str, str]) -> None:
        self.root = root
        self.owners = owners
        roots = [root] + ([root / SOURCE_DIR] if (root / SOURCE_DIR).is_dir() else [])
        self.top = _Module("", None, tuple(roots))
        self._parsed: dict[Path, _Parsed | None] = {}
        self._tops: dict[str, _Module | None] = {}

    def owner(self, path: Path | None) -> str | None:
        return self.owners.get(self.rel(path)) if path is not None else None

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def source_root(self, rel: str) -> Path:
        """`src/` for files under a src layout (src itself no package), else the root."""
        src = self.root / SOURCE_DIR
        if rel.startswith(f"{SOURCE_DIR}/") and not (src / "__init__.py").exists():
            return src
        return self.root

    def top_level(self, part: str) -> _Module | None:
        """The repo's top-level module `part`, or None when it is third-party."""
        if part not in self._tops:
            self._tops[part] = self._find_top_level(part)
        return self._tops[part]

    def _find_top_level(self, part: str) -> _Module | None:
        module = self.child(self.top, part)
        if module is None or module.source is not None or module.opaque:
            return module
        # A bare directory only wins the import if nothing installed has that name.
        if part in sys.stdlib_module_names or not any(_has_python(d) for d in module.dirs):
            return None
        return module

    def child(self, parent: _Module, part: str) -> _Module | None:
        """Submodule `part` of parent, searched the way the import system searches."""
        name = f"{parent.name}.{part}" if parent.name else part
        spaces: list[Path] = []
        for folder in parent.dirs:
            module = _module_in(folder, part, name)
            if module is not None:
                return module
            if (folder / part).is_dir():
                spaces.append(folder / part)
        return _Module(name, None, tuple(spaces)) if spaces else None

    def descend(self, module: _Module, parts: Iterable[str]) -> tuple[_Module, str | None]:
        """Follow parts below module: the deepest module reached and the first part missing."""
        for part in parts:
            if module.opaque:
                return module, None
            child = self.child(module, part)
            if child is None:
                return module, part
            module = child
        return module, None

    def exports(self, module: _Module) -> _Exports:
        if module.opaque:
            return OPEN
        if module.source is None:
            return _Exports(frozenset(), False)
        parsed = self.parse(module.source)
        return parsed.exports if parsed is not None else OPEN

    def parse(self, path: Path, source: bytes | None = None) -> _Parsed | None:
        """Each file is parsed once, whether it imports, is imported, or both."""
        if path not in self._parsed:
            self._parsed[path] = _parse(path, source)
        return self._parsed[path]

    def defines(self, module: _Module, name: str) -> bool:
        exports = self.exports(module)
        return exports.open or name in exports.names or self.child(module, name) is not None

    def expected_owner(self, parent: _Module, part: str) -> str | None:
        """The task that owns a path where the missing module `part` would live."""
        for folder in parent.dirs:
            for path in (folder / f"{part}.py", folder / part / "__init__.py"):
                if task := self.owner(path):
                    return task
        return None


def _module_in(folder: Path, part: str, name: str) -> _Module | None:
    package = folder / part
    if (package / "__init__.py").is_file():
        return _Module(name, package / "__init__.py", (package,))
    if (folder / f"{part}.py").is_file():
        return _Module(name, folder / f"{part}.py", ())
    for path in folder.glob(f"{part}.*"):
        if path.name.split(".", 1)[0] == part and path.suffix in OPAQUE_SUFFIXES:
            return _Module(name, None, (), opaque=True)
    return None


def _has_python(folder: Path) -> bool:
    return next(folder.rglob("*.py"), None) is not None


# --- what a provider module defines ------------------------------------------------------


def _parse(path: Path, source: bytes | None) -> _Parsed | None:
    """None when unreadable: such a provider might define anything, so it accepts any name."""
    try:
        tree = ast.parse(path.read_bytes() if source is None else source, str(path))
    except (OSError, SyntaxError, ValueError, RecursionError):
        return None
    statements = list(_statements(tree.body))
    imports = tuple(s for s in statements if isinstance(s, ast.Import | ast.ImportFrom))
    # `global x` in a function may bind x in the module; give it the benefit of the doubt.
    names = {name for s in statements if isinstance(s, ast.Global) for name in s.names}
    dynamic = False
    for node in _module_scope(tree):
        dynamic = _bind(node, names) or dynamic
    return _Parsed(imports, _Exports(frozenset(names), dynamic or "__getattr__" in names))


def _statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement, nested ones too; imports are statements, so expressions are skipped."""
    for statement in body:
        yield statement
        for field in ("body", "orelse", "finalbody"):
            yield from _statements(getattr(statement, field, []))
        for block in [*getattr(statement, "handlers", []), *getattr(statement, "cases", [])]:
            yield from _statements(block.body)


def _module_scope(tree: ast.Module) -> Iterator[ast.AST]:
    """Every node evaluated in the module's own scope (not inside functions or classes)."""
    stack: list[ast.AST] = list(reversed(tree.body))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        if isinstance(node, _COMPREHENSIONS):
            # Only a walrus inside a comprehension binds in the enclosing scope.
            stack.extend(sub for sub in ast.walk(node) if isinstance(sub, ast.NamedExpr))
            continue
        if isinstance(node, ast.AnnAssign) and node.value is None:
            continue  # `x: int` alone binds nothing at runtime
        stack.extend(reversed(list(ast.iter_child_nodes(node))))


def _bind(node: ast.AST, names: set[str]) -> bool:
    """Add the names node binds at module scope; True when it may bind any name."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        names.add(node.name)
    elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
        names.add(node.id)
    elif isinstance(node, ast.MatchAs | ast.MatchStar) and node.name:
        names.add(node.name)  # (`except E as e` is not here: e is deleted after the block)
    elif isinstance(node, ast.MatchMapping) and node.rest:
        names.add(node.rest)
    elif isinstance(node, ast.Import):
        names.update(alias.asname or alias.name.split(".")[0] for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        if any(alias.name == "*" for alias in node.names):
            return True
        names.update(alias.asname or alias.name for alias in node.names)
    elif _binds_dynamically(node):
        return True
    else:
        names.update(_all_literal(node))
    return False


def _binds_dynamically(node: ast.AST) -> bool:
    """Module-scope code that defines names we cannot list."""
    if isinstance(node, ast.Assign):
        return any(map(_is_dynamic_item, node.targets))
    return isinstance(node, ast.Call) and _is_globals_update(node)


def _is_dynamic_item(target: ast.expr) -> bool:
    """`sys.modules[...] = ...` (the module replaces itself) or `globals()[...] = ...`."""
    if not isinstance(target, ast.Subscript):
        return False
    container = target.value
    if _is_globals_call(container):
        return True
    return (
        isinstance(container, ast.Attribute)
        and container.attr == "modules"
        and isinstance(container.value, ast.Name)
        and container.value.id == "sys"
    )


def _is_globals_update(call: ast.Call) -> bool:
    """`globals().update(...)` or `globals().setdefault(...)`: names we cannot list."""
    func = call.func
    return (
        isinstance(func, ast.Attribute)
        and func.attr in {"update", "setdefault"}
        and _is_globals_call(func.value)
    )


def _is_globals_call(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "globals"
    )


def _all_literal(node: ast.AST) -> list[str]:
    """Strings listed in `__all__ = [...]`, `__all__ += [...]` or `__all__.extend([...])`."""
    if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            return _strings(node.value)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in LIST_METHODS
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "__all__"
    ):
        return [text for arg in node.args for text in _strings(arg)]
    return []


def _strings(value: ast.expr | None) -> list[str]:
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return [value.value]
    if isinstance(value, ast.List | ast.Tuple | ast.Set):
        return [text for item in value.elts for text in _strings(item)]
    return []


# --- checking one changed file ------------------------------------------------------------


def _check_file(tree: _Tree, rel: str) -> list[InterfaceProblem]:
    path = tree.root / rel
    if not path.is_file():
        return []  # deleted
    try:
        source = path.read_bytes()
    except OSError:
        return []
    broken = _compile_problem(tree, rel, source)
    if broken is not None:
        return [broken]
    parsed = tree.parse(path, source)
    if parsed is None:
        return []
    problems: list[InterfaceProblem] = []
    for node in parsed.imports:
        if isinstance(node, ast.Import):
            for alias in node.names:
                problems.extend(_check_import(tree, rel, alias))
        else:
            problems.extend(_check_from(tree, rel, node))
    return problems


def _compile_problem(tree: _Tree, rel: str, source: bytes) -> InterfaceProblem | None:
    try:
        compile(source, rel, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError) as error:  # ValueError: NUL bytes
        line = getattr(error, "lineno", None) or _nul_line(source)
        return _syntax(tree, rel, line, getattr(error, "msg", None) or str(error))
    return None


def _nul_line(source: bytes) -> int:
    """Python reports a NUL byte without a line; find it, so the user need not."""
    return source[: max(source.find(b"\0"), 0)].count(b"\n") + 1


def _syntax(tree: _Tree, rel: str, line: int, reason: str) -> InterfaceProblem:
    consumer = tree.owners.get(rel)
    message = f"{rel}:{line} {_who(consumer)} does not compile: {reason}"
    return InterfaceProblem("syntax", consumer, None, _dotted(tree, rel), rel, line, message)


def _check_import(tree: _Tree, rel: str, alias: ast.alias) -> list[InterfaceProblem]:
    """`import a.b.c`: every module on the way must exist if `a` is the repo's."""
    first, *rest = alias.name.split(".")
    top = tree.top_level(first)
    if top is None:
        return []
    deepest, missing = tree.descend(top, rest)
    if missing is None:
        return []
    return [_missing_module(tree, rel, alias.lineno, alias.name, deepest, missing)]


def _check_from(tree: _Tree, rel: str, node: ast.ImportFrom) -> list[InterfaceProblem]:
    """`from m import n`: m must exist, and n must be defined by m (across tasks)."""
    module, spelled, missing = _resolve_from(tree, rel, node)
    if module is None:
        return []
    if missing is not None:
        return [_missing_module(tree, rel, node.lineno, spelled, module, missing)]
    return [
        problem
        for alias in node.names
        if alias.name != "*" and not tree.defines(module, alias.name)
        for problem in _missing_name(tree, rel, alias, module)
    ]


def _resolve_from(
    tree: _Tree, rel: str, node: ast.ImportFrom
) -> tuple[_Module | None, str, str | None]:
    """The module a from-import names (None: third-party or unresolvable), its spelling,
    and the first part of its dotted path that is missing from the repo."""
    parts = node.module.split(".") if node.module else []
    spelled = "." * node.level + (node.module or "")
    if node.level:
        start = _package_of(tree, rel, node.level)
    else:
        start = tree.top_level(parts[0])
        parts = parts[1:]
    if start is None:
        return None, spelled, None
    module, missing = tree.descend(start, parts)
    return module, spelled, missing


def _package_of(tree: _Tree, rel: str, level: int) -> _Module | None:
    """The package a relative import of this level starts from (None beyond the top)."""
    source_root = tree.source_root(rel)
    base = (tree.root / rel).parent
    for _ in range(level - 1):
        base = base.parent
    if base == source_root or not base.is_relative_to(source_root):
        return None
    init = base / "__init__.py"
    name = ".".join(base.relative_to(source_root).parts)
    return _Module(name, init if init.is_file() else None, (base,))


def _missing_module(
    tree: _Tree, rel: str, line: int, spelled: str, parent: _Module, part: str
) -> InterfaceProblem:
    consumer = tree.owners.get(rel)
    provider = tree.expected_owner(parent, part)
    name = f"{parent.name}.{part}" if parent.name else part
    owned = f" ({_who(provider)} owns where it would be)" if provider else ""
    message = (
        f"{rel}:{line} {_who(consumer)} imports {spelled}, "
        f"but the repository has no module {name}{owned}"
    )
    return InterfaceProblem("missing-module", consumer, provider, name, rel, line, message)


def _missing_name(
    tree: _Tree, rel: str, alias: ast.alias, module: _Module
) -> list[InterfaceProblem]:
    consumer = tree.owners.get(rel)
    provider = tree.expected_owner(module, alias.name) or tree.owner(module.source)
    if consumer is not None and consumer == provider:
        return []  # the task's own slip: its tests will tell it
    line = alias.lineno
    message = (
        f"{rel}:{line} {_who(consumer)} imports '{alias.name}' from {module.name} "
        f"{_who(provider)}, which does not define it"
    )
    name = f"{module.name}.{alias.name}"
    return [InterfaceProblem("missing-name", consumer, provider, name, rel, line, message)]


def _who(task: str | None) -> str:
    return f"(task '{task}')" if task is not None else "(no task)"


def _dotted(tree: _Tree, rel: str) -> str:
    """The module name of a repo file: 'src/shop/__init__.py' -> 'shop'."""
    parts = list((tree.root / rel).relative_to(tree.source_root(rel)).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)
