"""The cross-task interface check, on real files in temporary trees."""

from __future__ import annotations

import textwrap
import warnings
from collections.abc import Mapping
from pathlib import Path

import pytest

from tui_orch.engine.conflicts.interfaces import InterfaceProblem, check_interfaces


def write(root: Path, files: Mapping[str, str | bytes]) -> list[str]:
    """Create the files under root and return their paths, as a list of changed files."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(textwrap.dedent(text).lstrip("\n"))
    return list(files)


def check(
    root: Path, files: Mapping[str, str | bytes], owners: Mapping[str, str] | None = None
) -> list[InterfaceProblem]:
    return check_interfaces(root, write(root, files), owners or {})


def names(problems: list[InterfaceProblem]) -> list[tuple[str, str]]:
    return [(p.kind, p.name) for p in problems]


SHOP = {
    "src/shop/__init__.py": "",
    "src/shop/discounts.py": """
        def discount(total: float) -> float:
            return total * 0.9
        """,
}
OWNERS = {"src/shop/discounts.py": "service", "src/shop/api.py": "api"}


def test_a_function_renamed_by_another_task_is_reported_with_both_tasks(tmp_path: Path) -> None:
    api = """
        from __future__ import annotations

        from shop.discounts import apply_discount
        """
    problems = check(tmp_path, {**SHOP, "src/shop/api.py": api}, OWNERS)
    assert problems == [
        InterfaceProblem(
            kind="missing-name",
            consumer="api",
            provider="service",
            name="shop.discounts.apply_discount",
            file="src/shop/api.py",
            line=3,
            message=(
                "src/shop/api.py:3 (task 'api') imports 'apply_discount' from "
                "shop.discounts (task 'service'), which does not define it"
            ),
        )
    ]
    assert problems[0].to_dict()["provider"] == "service"


def test_a_name_that_exists_is_fine(tmp_path: Path) -> None:
    api = "from shop.discounts import discount\n"
    assert check(tmp_path, {**SHOP, "src/shop/api.py": api}, OWNERS) == []


def test_a_tasks_own_missing_name_is_left_to_its_tests(tmp_path: Path) -> None:
    api = "from shop.discounts import apply_discount\n"
    owners = {"src/shop/discounts.py": "api", "src/shop/api.py": "api"}
    assert check(tmp_path, {**SHOP, "src/shop/api.py": api}, owners) == []


def test_an_unowned_side_counts_as_another_task(tmp_path: Path) -> None:
    api = "from shop.discounts import apply_discount\n"
    [problem] = check(tmp_path, {**SHOP, "src/shop/api.py": api}, {"src/shop/api.py": "api"})
    assert (problem.consumer, problem.provider) == ("api", None)
    assert "from shop.discounts (no task)" in problem.message


def test_third_party_and_stdlib_imports_are_ignored(tmp_path: Path) -> None:
    api = """
        import os.path
        import requests.adapters
        from numpy.linalg import no_such_thing
        from yaml import safe_load
        """
    assert check(tmp_path, {**SHOP, "src/shop/api.py": api}, OWNERS) == []


def test_a_missing_submodule_is_reported(tmp_path: Path) -> None:
    api = """
        import json

        from shop.nope import thing
        """
    [problem] = check(tmp_path, {**SHOP, "src/shop/api.py": api}, OWNERS)
    assert (problem.kind, problem.name, problem.line) == ("missing-module", "shop.nope", 3)
    assert (problem.consumer, problem.provider) == ("api", None)
    assert "has no module shop.nope" in problem.message


def test_a_missing_module_names_the_task_that_owns_its_path(tmp_path: Path) -> None:
    api = "from shop.tax import rate\n"
    owners = {**OWNERS, "src/shop/tax.py": "tax"}
    [problem] = check(tmp_path, {**SHOP, "src/shop/api.py": api}, owners)
    assert (problem.kind, problem.provider) == ("missing-module", "tax")


def test_plain_import_of_a_missing_repo_module(tmp_path: Path) -> None:
    api = """
        import shop.discounts
        import shop.nope.deeper as deeper
        import shop.discounts.not_a_package
        """
    problems = check(tmp_path, {**SHOP, "src/shop/api.py": api}, OWNERS)
    assert [(p.kind, p.name, p.line) for p in problems] == [
        ("missing-module", "shop.nope", 2),
        ("missing-module", "shop.discounts.not_a_package", 3),
    ]


def test_relative_imports_at_both_levels(tmp_path: Path) -> None:
    files = {
        **SHOP,
        "src/shop/pkg/__init__.py": "",
        "src/shop/pkg/mod.py": "VALUE = 1\n",
        "src/shop/sub/__init__.py": "",
        "src/shop/sub/helpers.py": "def helper(): ...\n",
        "src/shop/sub/a.py": """
            from . import helpers
            from .helpers import helper
            from ..pkg.mod import VALUE
            from .. import discounts
            """,
    }
    assert check(tmp_path, files) == []


def test_broken_relative_imports_at_both_levels(tmp_path: Path) -> None:
    files = {
        **SHOP,
        "src/shop/pkg/__init__.py": "",
        "src/shop/pkg/mod.py": "VALUE = 1\n",
        "src/shop/sub/__init__.py": "",
        "src/shop/sub/a.py": """
            from . import helpers
            from ..pkg.mod import OTHER
            from ..gone import x
            """,
    }
    assert names(check(tmp_path, files)) == [
        ("missing-name", "shop.sub.helpers"),
        ("missing-name", "shop.pkg.mod.OTHER"),
        ("missing-module", "shop.gone"),
    ]


def test_a_package_exports_its_submodules_and_what_init_imports(tmp_path: Path) -> None:
    files = {
        "src/shop/__init__.py": "from .api import handle\n",
        "src/shop/api.py": "def handle(): ...\n",
        "src/shop/models/__init__.py": "",
        "src/cli.py": "from shop import api, handle, models, missing\n",
    }
    assert names(check(tmp_path, files)) == [("missing-name", "shop.missing")]


def test_names_in_a_literal_all_count(tmp_path: Path) -> None:
    files = {
        "src/shop/lazy.py": """
            __all__ = ["Lazy", "loader"]
            __all__ += ("extra",)
            __all__.extend(["more"])
            """,
        "src/cli.py": "from shop.lazy import Lazy, loader, extra, more, other\n",
    }
    assert names(check(tmp_path, files)) == [("missing-name", "shop.lazy.other")]


def test_a_star_importing_provider_accepts_any_name(tmp_path: Path) -> None:
    files = {
        "src/shop/api.py": "from shop.impl import *\n",
        "src/shop/impl.py": "def handle(): ...\n",
        "src/cli.py": "from shop.api import handle, anything_at_all\n",
    }
    assert check(tmp_path, files) == []


def test_a_module_getattr_accepts_any_name(tmp_path: Path) -> None:
    files = {
        "src/shop/api.py": """
            def __getattr__(name: str) -> object:
                raise AttributeError(name)
            """,
        "src/cli.py": "from shop.api import whatever\n",
    }
    assert check(tmp_path, files) == []


@pytest.mark.parametrize(
    "provider",
    [
        "import sys\nsys.modules[__name__] = object()\n",
        "globals()['made'] = 1\n",
        "globals().update(made=1)\n",
        "this is not python (\n",
    ],
)
def test_dynamic_or_unreadable_providers_accept_any_name(tmp_path: Path, provider: str) -> None:
    files = {"src/shop/api.py": provider, "src/cli.py": "from shop.api import made\n"}
    changed = write(tmp_path, files)
    assert check_interfaces(tmp_path, changed[1:], {}) == []


def test_compiled_and_stub_modules_accept_any_name(tmp_path: Path) -> None:
    write(tmp_path, {"src/shop/__init__.py": "", "src/shop/_speedups.cpython-311.so": ""})
    write(tmp_path, {"src/shop/typed.pyi": "def f() -> int: ...\n"})
    files = {"src/cli.py": "from shop._speedups import fast\nfrom shop.typed import g\n"}
    assert check(tmp_path, files) == []


def test_names_bound_in_top_level_blocks_count(tmp_path: Path) -> None:
    files = {
        "src/shop/compat.py": """
            from typing import TYPE_CHECKING
            try:
                from ujson import dumps
            except ImportError:
                from json import dumps as dumps

                def loads(text): ...
            try:
                import tomllib as toml
            except ImportError:
                toml = None
            if TYPE_CHECKING:
                from collections.abc import Mapping
            else:
                Mapping = dict
            with open(__file__) as handle:
                first_line = handle.readline()
            for index, item in enumerate([]):
                pass
            if (size := 3) > 2:
                pass
            a, (b, *rest) = 1, (2, 3)
            limit: int = 10
            declared: int

            def setup():
                global configured
                configured = True

            def helper():
                local_only = 1
            """,
        "src/cli.py": """
            from shop.compat import (
                dumps, loads, toml, Mapping, handle, first_line,
                index, item, size, a, b, rest, limit, configured, TYPE_CHECKING,
                declared,
                local_only,
            )
            """,
    }
    problems = check(tmp_path, files)
    assert [(p.name, p.line) for p in problems] == [
        ("shop.compat.declared", 4),
        ("shop.compat.local_only", 5),
    ]


def test_a_syntax_error_is_reported_with_its_line(tmp_path: Path) -> None:
    files = {"src/shop/api.py": "x = 1\n\ndef broken(:\n    pass\n"}
    [problem] = check(tmp_path, files, OWNERS)
    assert (problem.kind, problem.line, problem.consumer) == ("syntax", 3, "api")
    assert problem.message.startswith("src/shop/api.py:3 (task 'api') does not compile: ")


def test_compile_errors_beyond_the_parser_and_nul_bytes_are_syntax(tmp_path: Path) -> None:
    files = {
        "a.py": "x = 1\nreturn x\n",
        "b.py": b"x = 1\ny = 2\0\n",
    }
    assert [(p.kind, p.file, p.line) for p in check(tmp_path, files)] == [
        ("syntax", "a.py", 2),
        ("syntax", "b.py", 2),
    ]


def test_syntax_warnings_are_neither_printed_nor_errors(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check(tmp_path, {"a.py": "assert (1, 'always true')\n"}) == []
    assert capfd.readouterr().err == ""


def test_non_python_and_deleted_files_are_ignored(tmp_path: Path) -> None:
    write(tmp_path, {"notes.txt": "from shop import nope\n", "README.md": "def (:\n"})
    changed = ["notes.txt", "README.md", "src/shop/deleted.py"]
    assert check_interfaces(tmp_path, changed, {}) == []


def test_root_layout(tmp_path: Path) -> None:
    files = {
        "shop/__init__.py": "",
        "shop/discounts.py": "def discount(): ...\n",
        "tests/test_shop.py": "from shop.discounts import discount, apply_discount\n",
        "./shop/api.py": "from . import discounts, nope\n",
    }
    problems = check(tmp_path, files)
    assert [(p.file, p.name) for p in problems] == [
        ("shop/api.py", "shop.nope"),
        ("tests/test_shop.py", "shop.discounts.apply_discount"),
    ]


def test_an_aliased_import_reports_the_imported_name(tmp_path: Path) -> None:
    api = "from shop.discounts import apply_discount as discount\n"
    [problem] = check(tmp_path, {**SHOP, "src/shop/api.py": api}, OWNERS)
    assert problem.name == "shop.discounts.apply_discount"
    assert "imports 'apply_discount'" in problem.message


def test_imports_inside_functions_are_checked_and_results_sorted_once(tmp_path: Path) -> None:
    api = """
        def late():
            from shop.discounts import gone
            from shop.discounts import gone
            import shop.nope

        from shop.discounts import early
        """
    changed = write(tmp_path, {**SHOP, "src/shop/api.py": api})
    problems = check_interfaces(tmp_path, [*changed, *changed], OWNERS)
    assert [(p.line, p.name) for p in problems] == [
        (2, "shop.discounts.gone"),
        (3, "shop.discounts.gone"),
        (4, "shop.nope"),
        (6, "shop.discounts.early"),
    ]


@pytest.mark.parametrize("dirname", ["email", "data"])
def test_bare_directories_do_not_shadow_installed_packages(tmp_path: Path, dirname: str) -> None:
    write(tmp_path, {f"{dirname}/notes.txt": "", "email/template.py": ""})
    files = {"app.py": f"from {dirname}.nothing import x\n"}
    assert check(tmp_path, files) == []
