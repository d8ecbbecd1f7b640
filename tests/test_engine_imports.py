"""The engine must not know about the UI: no Textual, no Rich, no tui_orch.ui."""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import tui_orch.engine

FORBIDDEN = ("textual", "rich", "tui_orch.ui")
ENGINE_DIR = Path(tui_orch.engine.__file__).parent


def engine_modules() -> list[str]:
    return sorted(
        info.name for info in pkgutil.walk_packages([str(ENGINE_DIR)], prefix="tui_orch.engine.")
    )


def test_there_are_engine_modules_to_check() -> None:
    assert "tui_orch.engine.plans.plan" in engine_modules()


def test_importing_every_engine_module_loads_no_ui_library() -> None:
    """Import them all in a fresh interpreter and look at what ended up in sys.modules."""
    script = (
        "import importlib, json, sys\n"
        f"for name in {engine_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    loaded = json.loads(done.stdout)
    leaked = [m for m in loaded if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert leaked == []


def test_no_engine_source_file_imports_a_ui_library_even_lazily() -> None:
    """Catches imports inside functions too, which the sys.modules check would miss."""
    offenders = []
    for path in ENGINE_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if any(name == f or name.startswith(f + ".") for f in FORBIDDEN):
                    offenders.append(f"{path.name}:{node.lineno} imports {name}")
    assert offenders == []
