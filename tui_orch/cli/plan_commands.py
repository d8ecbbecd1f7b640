"""`check`, `triage` and `agents`: the commands about plans, before anything runs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from tui_orch.cli.common import EXIT_FAILED, EXIT_OK, add_repo_option
from tui_orch.engine.agents.installed import find_program, unknown_flags
from tui_orch.engine.plans.check import CheckReport, check_plan, find_repo
from tui_orch.engine.plans.config import load_settings
from tui_orch.engine.plans.problems import InputError
from tui_orch.engine.plans.profiles import AgentProfile, unknown_profile
from tui_orch.engine.plans.triage import Mode, mode_for
from tui_orch.engine.run.preconditions import PreconditionFailed
from tui_orch.tables import format_table


def register(commands: Any) -> None:
    """Add this module's subcommands to the parser."""
    check = commands.add_parser(
        "check",
        help="check a plan and show its batches",
        description="Check a plan file strictly and show the batches a run would use. "
        "Exit 0 when the plan is good, 2 with every problem listed when it is not.",
    )
    check.add_argument("plan", type=Path, metavar="PLAN", help="the plan file (YAML)")
    add_repo_option(check)
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
    add_repo_option(agents)
    agents.add_argument("--json", action="store_true", help="print the profiles as JSON")
    agents.add_argument(
        "--check",
        nargs="?",
        const="",
        metavar="NAME",
        help="run each installed agent's --help (or only NAME's) and name every flag its "
        "profile passes that the installed version does not accept",
    )
    agents.set_defaults(handler=run_agents)


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
    if settings.problems:
        raise InputError(settings.problems)
    profiles = sorted(settings.profiles.values(), key=lambda profile: profile.name)
    if args.check is not None:
        return check_agents(profiles, args.check)
    found = {profile.name: find_program(profile) for profile in profiles}
    if args.json:
        print(
            json.dumps(
                {
                    "default_agent": settings.default_agent,
                    "agents": [
                        {
                            **profile.to_dict(),
                            "installed": found[profile.name].path,
                            "version": found[profile.name].version,
                        }
                        for profile in profiles
                    ],
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
            (found[profile.name].version or "installed")
            if found[profile.name].path
            else "not installed",
            " ".join(profile.command),
        ]
        for profile in profiles
    ]
    print(format_table(["agent", "format", "from", "installed", "command"], rows))
    return EXIT_OK


def check_agents(profiles: list[AgentProfile], name: str) -> int:
    """`agents --check [NAME]`: every flag each installed agent's profile passes must be
    one its installed version accepts; exit 1 naming any that is not."""
    chosen = [profile for profile in profiles if not name or profile.name == name]
    if not chosen:
        raise PreconditionFailed(unknown_profile(name, [profile.name for profile in profiles]))
    bad = 0
    for profile in chosen:
        found = find_program(profile)
        program = profile.command[0]
        if found.path is None:
            print(f"{profile.name}: not installed ({program} is not on PATH); not checked")
            continue
        unknown = unknown_flags(profile, found.path)
        version = found.version or "its installed version"
        if unknown is None:
            print(f"{profile.name}: `{program} --help` printed nothing; its flags not checked")
        elif unknown:
            bad += 1
            print(
                f"{profile.name}: {', '.join(unknown)} "
                f"{'is not an option' if len(unknown) == 1 else 'are not options'} of "
                f"{program} {version} (see `{program} --help`); fix the profile's command"
            )
        else:
            print(f"{profile.name}: every flag it passes is accepted by {program} {version}")
    return EXIT_FAILED if bad else EXIT_OK


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value
