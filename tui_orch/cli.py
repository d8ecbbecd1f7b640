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
from pathlib import Path

from tui_orch import __version__
from tui_orch.engine.check import CheckReport, check_plan, find_repo
from tui_orch.engine.config import load_settings
from tui_orch.engine.problems import InputError
from tui_orch.engine.triage import Mode, mode_for
from tui_orch.tables import format_table

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tui-orch",
        description="Supervise parallel coding agents, each in its own git worktree.",
    )
    parser.add_argument("--version", action="version", version=f"tui-orch {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    check = commands.add_parser(
        "check",
        help="check a plan and show its batches",
        description="Check a plan file strictly and show the batches a run would use. "
        "Exit 0 when the plan is good, 2 with every problem listed when it is not.",
    )
    check.add_argument("plan", type=Path, metavar="PLAN", help="the plan file (YAML)")
    _add_repo_option(check)
    check.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    check.set_defaults(handler=run_check)

    triage = commands.add_parser(
        "triage",
        help="say how a job of N files is best run",
        description="1-2 files: direct; 3-10: one agent, sequential; "
        "more than 10: parallel agents.",
    )
    triage.add_argument("--files", type=_non_negative, required=True, metavar="N")
    triage.add_argument("description", nargs="*", help="what the job is (shown back)")
    triage.add_argument("--json", action="store_true", help="print the result as JSON")
    triage.set_defaults(handler=run_triage)

    agents = commands.add_parser(
        "agents",
        help="list the agent profiles available",
        description="List agent profiles: built-in, then the user's config, then the repo's "
        ".tui-orch.yaml (a plan's own 'agents' override all of them).",
    )
    _add_repo_option(agents)
    agents.add_argument("--json", action="store_true", help="print the profiles as JSON")
    agents.set_defaults(handler=run_agents)
    return parser


def _add_repo_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--repo",
        type=Path,
        metavar="DIR",
        help="the git repository (default: the one containing the current directory)",
    )


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except InputError as error:
        report_problems(error, as_json=getattr(args, "json", False))
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
        print(problem, file=sys.stderr)
    count = len(error.problems)
    print(f"{count} problem{'s' if count != 1 else ''} found; nothing was run.", file=sys.stderr)
    if as_json:
        print(json.dumps({"ok": False, "errors": [p.to_dict() for p in error.problems]}, indent=2))


def run_check(args: argparse.Namespace) -> int:
    report = check_plan(args.plan, args.repo)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(render_check(report))
    return EXIT_OK


def render_check(report: CheckReport) -> str:
    """The human view of a checked plan: header, batch table, footer."""
    plan, triage = report.plan, report.triage
    lines = [f"plan      {plan.source}"]
    if plan.goal:
        lines.append(f"goal      {plan.goal.strip().splitlines()[0]}")
    if report.repo:
        lines.append(f"repo      {report.repo.root}")
        lines.append(f"base      {plan.base}")
    else:
        lines.append("repo      none (not inside a git repository; pass --repo DIR to check one)")
        lines.append(f"base      {plan.base or 'the branch checked out when the run starts'}")
    lines.append(
        f"mode      {triage.mode}: {triage.file_count} files in {len(plan.tasks)} tasks "
        f"({triage.mode.advice})"
    )
    lines.extend(f"warning   {warning}" for warning in triage.warnings)
    lines.append("")
    rows = []
    for batch in report.batches:
        for position, task_id in enumerate(batch.task_ids):
            task = plan.task(task_id)
            rows.append(
                [
                    str(batch.number) if position == 0 else "",
                    task.id,
                    task.agent,
                    "\n".join(task.files),
                    ", ".join(task.depends_on) or "-",
                ]
            )
    lines.append(format_table(["batch", "task", "agent", "files", "depends on"], rows))
    lines.append("")
    widest = max(len(batch.task_ids) for batch in report.batches)
    lines.append(
        f"{len(report.batches)} batch{'es' if len(report.batches) != 1 else ''}, "
        f"{len(plan.tasks)} tasks, at most {widest} agent{'s' if widest != 1 else ''} at once "
        f"(max_parallel {plan.max_parallel})"
    )
    if plan.validate:
        lines.append("validate  " + "; ".join(command.display for command in plan.validate))
    return "\n".join(lines)


def run_triage(args: argparse.Namespace) -> int:
    mode = mode_for(args.files)
    description = " ".join(args.description)
    if args.json:
        print(json.dumps({"files": args.files, "mode": str(mode), "advice": mode.advice}))
        return EXIT_OK
    about = f" for: {description}" if description else ""
    print(f"{mode}: {args.files} file{'s' if args.files != 1 else ''}{about}; {mode.advice}")
    if mode is Mode.PARALLEL:
        print("next: write a plan (see docs/plan.md) and run `tui-orch check PLAN`")
    return EXIT_OK


def run_agents(args: argparse.Namespace) -> int:
    repo = find_repo(args.repo)
    settings = load_settings(repo.root if repo else None)
    profiles = sorted(settings.profiles.values(), key=lambda profile: profile.name)
    if args.json:
        print(
            json.dumps(
                {
                    "default_agent": settings.default_agent,
                    "agents": [profile.to_dict() for profile in profiles],
                },
                indent=2,
            )
        )
        return EXIT_OK
    rows = [
        [
            profile.name + (" (default)" if profile.name == settings.default_agent else ""),
            profile.format,
            profile.source,
            " ".join(profile.command),
        ]
        for profile in profiles
    ]
    print(format_table(["agent", "format", "from", "command"], rows))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
