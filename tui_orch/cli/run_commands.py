"""`run`, `demo`, `resume`, `attach` and `stop`: the commands that start, continue, reopen
or halt agents."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

from tui_orch.cli.common import EXIT_BAD_INPUT, EXIT_OK, add_repo_option
from tui_orch.demo.project import DEFAULT_PACE, DemoDirNotEmpty, create_demo
from tui_orch.engine.run.approvals import ApproveEverything, Approver
from tui_orch.engine.run.events import EventSink
from tui_orch.engine.run.launch import (
    latest_with_live_agents,
    open_workspace,
    prepare_new_run,
    prepare_resume,
)
from tui_orch.engine.run.orchestrator import Orchestrator, RunOptions
from tui_orch.engine.run.preconditions import PreconditionFailed
from tui_orch.engine.run.runs import load_run, stop_run
from tui_orch.engine.run.state import RunStore, TaskPhase
from tui_orch.headless import (
    ConsoleReporter,
    JsonReporter,
    TerminalApprover,
    conflicts_section,
    summary_table,
)
from tui_orch.launch_spec import Launch
from tui_orch.terminal_safe import printable


def register(commands: Any) -> None:
    """Add this module's subcommands to the parser."""
    run = commands.add_parser(
        "run",
        help="run a plan: agents in worktrees, merges, validation, approved merge",
        description="Run a plan in the repository: each task's agent in its own worktree, "
        "batch by batch; validate the integrated result; move the base branch only after "
        "your approval. Exit 0 merged, 1 failed, 2 bad input, 130 interrupted.",
    )
    run.add_argument("plan", type=Path, metavar="PLAN", help="the plan file (YAML)")
    add_repo_option(run)
    _add_run_options(run)
    run.set_defaults(handler=run_plan)

    demo = commands.add_parser(
        "demo",
        help="create a demo repository and run the demo plan on it",
        description="Create a small Python project in a new git repository, with a plan of "
        "13 files in 5 tasks (three side by side, then two in order), and run it with the "
        "built-in demo agents, each working 10-20 s. With --conflicts, the agents collide: one "
        "edits a file another task owns, two change the same line of a file, and the blocked "
        "tasks are held back from the merge (headless with --yes, the run then ends with exit "
        "1, nothing moved).",
    )
    demo.add_argument("--dir", type=Path, help="where to create the demo (new or empty)")
    demo.add_argument(
        "--pace",
        type=float,
        default=DEFAULT_PACE,
        help=f"seconds per beat of demo agent work ({DEFAULT_PACE:g}; 0: no waiting at all)",
    )
    demo.add_argument(
        "--conflicts",
        action="store_true",
        help="agents that collide: an ownership conflict and a predicted merge conflict",
    )
    _add_run_options(demo)
    demo.set_defaults(handler=run_demo)

    resume = commands.add_parser(
        "resume",
        help="go on with a stopped, failed or interrupted run",
        description="Pick a run up where it stopped: re-attach to agents still running, "
        "retry failed tasks in their worktrees, merge, validate, and ask for the final "
        "merge again. If the base branch moved meanwhile, it is merged into the integration "
        "branch and validated again first.",
    )
    resume.add_argument("run_id", nargs="?", metavar="RUN", help="the run (default: newest)")
    add_repo_option(resume)
    _add_run_options(resume)
    resume.set_defaults(handler=run_resume)

    attach = commands.add_parser(
        "attach",
        help="reopen the app on a run whose agents still run",
        description="Open the cockpit on a run whose agents are still running (the app was "
        "quit with its agents left running, or its terminal closed): each pane starts with "
        "what its agent printed last, and the run goes on from where it is. It needs a "
        "terminal; `tui-orch resume --headless` follows a run without the app.",
    )
    attach.add_argument(
        "run_id", nargs="?", metavar="RUN", help="the run (default: the newest with agents running)"
    )
    add_repo_option(attach)
    attach.set_defaults(handler=run_attach)

    stop = commands.add_parser(
        "stop",
        help="stop a run's agents, keeping their work",
        description="Stop every agent of a run that is still running (SIGTERM, then SIGKILL "
        "after a grace period). Worktrees, branches and logs are kept.",
    )
    stop.add_argument("run_id", metavar="RUN")
    add_repo_option(stop)
    stop.set_defaults(handler=run_stop)


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--headless", action="store_true", help="console output instead of the app")
    parser.add_argument("--yes", action="store_true", help="approve every step")
    parser.add_argument("--quiet", action="store_true", help="no agent output, only progress")
    parser.add_argument("--json", action="store_true", help="one JSON object per event per line")
    parser.add_argument(
        "--worktree-root",
        type=Path,
        metavar="DIR",
        help="where worktrees go, outside the repository (default: "
        "$XDG_DATA_HOME/tui-orch/worktrees)",
    )


def _front_end(args: argparse.Namespace) -> tuple[Approver, EventSink, RunOptions]:
    if args.yes:
        approver: Approver = ApproveEverything()
    elif sys.stdin.isatty():
        approver = TerminalApprover()
    else:
        raise PreconditionFailed(
            "approvals are needed but stdin is not a terminal; pass --yes to approve every step"
        )
    reporter: EventSink = (
        JsonReporter(sys.stdout) if args.json else ConsoleReporter(sys.stdout, args.quiet)
    )
    return approver, reporter, _options(args)


def _wants_app(args: argparse.Namespace) -> bool:
    """The cockpit opens unless asked not to, or when there is no terminal to draw on."""
    return not (args.headless or args.json) and sys.stdin.isatty() and sys.stdout.isatty()


def _run_app(launch: Launch) -> int:
    from tui_orch.ui.app import OrchApp  # Textual loads only when the app is wanted

    app = OrchApp(launch)
    app.run()
    state = app.orchestrator.state if app.orchestrator else None
    if state is not None and not state.finished:
        # The app is gone; the run (and any agents still working) is not.
        running = any(task.phase is TaskPhase.RUNNING for task in state.tasks.values())
        again = "attach" if running else "resume"
        print(
            f"run {state.run_id} is not finished ({state.phase}); go on with: "
            f"tui-orch {again} {state.run_id} --repo {state.repo}"
        )
    return app.return_code or EXIT_OK


def _options(args: argparse.Namespace) -> RunOptions:
    # Made absolute here, resolved (and refused, if need be) with the other checks.
    worktree_root = args.worktree_root.absolute() if args.worktree_root else None
    return RunOptions(worktree_root=worktree_root)


def run_plan(args: argparse.Namespace) -> int:
    if _wants_app(args):
        return _run_app(Launch(plan=args.plan, repo=args.repo, options=_options(args)))
    approver, reporter, options = _front_end(args)
    return _drive(prepare_new_run(args.plan, args.repo, approver, reporter, options), args)


def run_resume(args: argparse.Namespace) -> int:
    if _wants_app(args):
        launch = Launch(
            repo=args.repo, resume_run_id=args.run_id, resume=True, options=_options(args)
        )
        return _run_app(launch)
    approver, reporter, options = _front_end(args)
    return _drive(prepare_resume(args.run_id, args.repo, approver, reporter, options), args)


def run_attach(args: argparse.Namespace) -> int:
    run_id = args.run_id or latest_with_live_agents(args.repo)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise PreconditionFailed(
            f"`tui-orch attach` opens the app, which needs a terminal; `tui-orch resume "
            f"{run_id} --headless` follows the run without it"
        )
    return _run_app(Launch(repo=args.repo, resume_run_id=run_id, resume=True))


def run_demo(args: argparse.Namespace) -> int:
    directory = args.dir or Path(tempfile.mkdtemp(prefix="tui-orch-demo-"))
    try:
        demo = create_demo(
            directory.resolve(),
            pace=args.pace,
            variant="conflicts" if args.conflicts else "demo",
        )
    except DemoDirNotEmpty as error:
        raise PreconditionFailed(str(error)) from None
    if _wants_app(args):
        code = _run_app(Launch(plan=demo.plan, repo=demo.repo, options=_options(args)))
        print(f"demo repository: {demo.repo}")
        return code
    approver, reporter, options = _front_end(args)
    if not args.json:
        print(f"demo repository: {demo.repo}\ndemo plan:       {demo.plan}")
    orchestrator = prepare_new_run(demo.plan, demo.repo, approver, reporter, options)
    code = _drive(orchestrator, args)
    if code == EXIT_OK and not args.json:
        print(f"look at the result: git -C {demo.repo} log --oneline --graph")
    return code


def run_stop(args: argparse.Namespace) -> int:
    workspace = open_workspace(args.repo)
    store = RunStore(workspace.common)
    stopped = stop_run(store, load_run(store, args.run_id))
    if stopped:
        print(f"stopped {', '.join(stopped)}; their work is kept in their worktrees")
    else:
        print(f"run {args.run_id} has no running agents")
    return EXIT_OK


def _drive(orchestrator: Orchestrator, args: argparse.Namespace) -> int:
    try:
        result = asyncio.run(orchestrator.run())
    except EOFError:
        print("tui-orch: stdin closed while waiting for an approval", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not args.json:
        print()
        print(summary_table(orchestrator.state))
        conflicts = conflicts_section(orchestrator.state)
        if conflicts:
            print(printable(conflicts, keep_newlines=True))
        print()
    stream = sys.stdout if result.exit_code == EXIT_OK else sys.stderr
    if not args.json or result.exit_code != EXIT_OK:
        prefix = "" if result.exit_code == EXIT_OK else "tui-orch: "
        print(prefix + printable(result.message, keep_newlines=True), file=stream)
    return result.exit_code
