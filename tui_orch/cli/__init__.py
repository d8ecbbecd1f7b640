"""The `tui-orch` command: parses arguments and hands each command to the engine.

Exit codes: 0 success, 1 a run failed, 2 bad input or unmet precondition,
130 interrupted. Bad input never shows a traceback; it shows what to fix.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence

from tui_orch import __version__
from tui_orch.cli import plan_commands, run_commands, run_inspection
from tui_orch.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from tui_orch.engine.plans.problems import InputError
from tui_orch.engine.run.orchestrator import RunBusy
from tui_orch.engine.run.preconditions import PreconditionFailed
from tui_orch.terminal_safe import printable

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tui-orch",
        description="Supervise parallel coding agents, each in its own git worktree.",
    )
    parser.add_argument("--version", action="version", version=f"tui-orch {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run_commands.register(commands)
    plan_commands.register(commands)
    run_inspection.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except InputError as error:
        report_problems(error, as_json=getattr(args, "json", False))
        return EXIT_BAD_INPUT
    except (PreconditionFailed, RunBusy) as refusal:
        for line in str(refusal).splitlines():
            print(f"tui-orch: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("tui-orch: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Output piped into something like `head` that stopped reading.
        sys.stderr.close()
        return EXIT_OK
    except Exception as error:  # a bug of ours, not the user's input
        if os.environ.get("TUI_ORCH_DEBUG"):
            traceback.print_exc()
        print(
            f"tui-orch: internal error: {type(error).__name__}: {error}. This is a bug in "
            "tui-orch, not in your input; set TUI_ORCH_DEBUG=1 to see the traceback.",
            file=sys.stderr,
        )
        return EXIT_FAILED


def report_problems(error: InputError, as_json: bool) -> None:
    for problem in error.problems:
        # A plan may hold escape sequences (in double quotes): none may drive the terminal.
        print(printable(str(problem)), file=sys.stderr)
    count = len(error.problems)
    print(f"{count} problem{'s' if count != 1 else ''} found; nothing was run.", file=sys.stderr)
    if as_json:
        print(json.dumps({"ok": False, "errors": [p.to_dict() for p in error.problems]}, indent=2))
