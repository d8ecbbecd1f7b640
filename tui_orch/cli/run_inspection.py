"""`status`, `logs` and `clean`: looking at runs and tidying up after them."""

from __future__ import annotations

import argparse
import codecs
import json
import sys
import time
from typing import Any

from tui_orch.cli.common import EXIT_FAILED, EXIT_OK, add_repo_option
from tui_orch.engine.agents.jobs import read_status
from tui_orch.engine.run.cleanup import clean_run, cleanable_run_ids, load_for_cleaning
from tui_orch.engine.run.launch import open_workspace
from tui_orch.engine.run.preconditions import PreconditionFailed
from tui_orch.engine.run.runs import find_log, load_run, run_view
from tui_orch.engine.run.state import RunStore, UnreadableRun
from tui_orch.tables import format_table
from tui_orch.terminal_safe import printable


def register(commands: Any) -> None:
    """Add this module's subcommands to the parser."""
    status = commands.add_parser(
        "status",
        help="list runs and the state of their tasks",
        description="List the runs of the repository, newest last, with each task's state, "
        "exit code, duration and changes. Agents are looked up live, so this is right even "
        "when the process that started them is gone.",
    )
    status.add_argument("run_id", nargs="?", metavar="RUN", help="only this run")
    add_repo_option(status)
    status.add_argument("--json", action="store_true", help="print as JSON")
    status.set_defaults(handler=show_status)

    logs = commands.add_parser(
        "logs",
        help="print a task's log",
        description="Print everything a task's agent printed (from its log file on disk). "
        "TASK may also be validate-N for the Nth validation command.",
    )
    logs.add_argument("task_id", metavar="TASK")
    logs.add_argument("--run", dest="run_id", metavar="RUN", help="default: the newest run")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing until it ends")
    logs.add_argument(
        "--raw",
        action="store_true",
        help="print the bytes as the agent wrote them, even to a terminal (by default a "
        "terminal gets control characters escaped; a pipe or file always gets the raw bytes)",
    )
    add_repo_option(logs)
    logs.set_defaults(handler=show_logs)

    clean = commands.add_parser(
        "clean",
        help="remove a run's worktrees and branches",
        description="Remove the worktrees and branches of a run (default: every run that "
        "still has some). Anything that would lose work (uncommitted changes, commits not "
        "in the base branch) is kept and listed, unless --force. Logs and state are kept.",
    )
    clean.add_argument("run_id", nargs="?", metavar="RUN")
    clean.add_argument("--force", action="store_true", help="remove even unmerged work")
    add_repo_option(clean)
    clean.set_defaults(handler=run_clean)


def show_status(args: argparse.Namespace) -> int:
    workspace = open_workspace(args.repo)
    store = RunStore(workspace.common)
    run_ids = store.run_ids()
    if args.run_id:
        run_ids = [load_run(store, args.run_id).run_id]
    views, unreadable = [], []
    for run_id in run_ids:
        try:
            views.append(run_view(store, store.load(run_id)))
        except UnreadableRun as error:
            if args.run_id:
                raise
            unreadable.append({"run_id": run_id, "error": str(error)})
    if args.json:
        print(
            json.dumps(
                {"repo": str(workspace.root), "runs": views, "unreadable": unreadable}, indent=2
            )
        )
        return EXIT_OK
    if not views and not unreadable:
        print(f"no runs in {workspace.root}")
        return EXIT_OK
    for broken in unreadable:
        print(f"run {broken['run_id']}  unreadable\n  {broken['error']}\n")
    for view in views:
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(float(view["created_at"])))  # type: ignore[arg-type]
        print(f"run {view['run_id']}  {view['phase']}  base {view['base']}  {created}")
        rows = [
            [
                task["id"],
                str(task["batch"]),
                str(task["state"])
                + (f" ({task['reason']})" if task["reason"] not in ("", "exited") else ""),
                "-" if task["exit_code"] is None else str(task["exit_code"]),
                "-" if task["duration"] is None else f"{task['duration']:.1f}s",
                str(task["files_changed"]),
                str(task["commits"]),
            ]
            for task in view["tasks"]  # type: ignore[attr-defined]
        ]
        table = format_table(
            ["task", "batch", "state", "exit", "duration", "files", "commits"], rows
        )
        print("\n".join("  " + line for line in table.splitlines()))
        if not view["cleaned"]:
            print(f"  worktrees in {view['worktree_root']}")
        if view["message"]:
            print("  " + printable(str(view["message"]), keep_newlines=True))
        print()
    return EXIT_OK


def show_logs(args: argparse.Namespace) -> int:
    workspace = open_workspace(args.repo)
    store = RunStore(workspace.common)
    found = find_log(store, args.task_id, args.run_id)
    if found is None:
        where = f"run {args.run_id}" if args.run_id else "any run"
        raise PreconditionFailed(
            f"there is no task '{args.task_id}' in {where}; see `tui-orch status`"
        )
    _run, files = found
    out = sys.stdout.buffer
    # An agent's escape sequences must not drive the operator's terminal.
    escape = sys.stdout.isatty() and not args.raw
    decoder = codecs.getincrementaldecoder("utf-8")("replace")  # a char cut between reads
    offset = 0
    while True:
        try:
            with open(files.log, "rb") as log:
                log.seek(offset)
                data = log.read()
        except FileNotFoundError:
            data = b""
        if escape:
            text = decoder.decode(data, final=not args.follow)
            out.write(printable(text, keep_newlines=True).encode("utf-8"))
        else:
            out.write(data)
        out.flush()
        offset += len(data)
        if not args.follow:
            return EXIT_OK
        status = read_status(files)
        if status is not None and status.state == "exited" and not data:
            return EXIT_OK
        time.sleep(0.2)


def run_clean(args: argparse.Namespace) -> int:
    workspace = open_workspace(args.repo)
    store = RunStore(workspace.common)
    known = cleanable_run_ids(workspace, store)
    if args.run_id and args.run_id not in known:
        load_run(store, args.run_id)  # says there is no such run
    run_ids = [args.run_id] if args.run_id else known
    runs = [load_for_cleaning(workspace, store, run_id) for run_id in run_ids]
    # Unless named, skip runs already cleaned, and folders with nothing of a run left.
    runs = [r for r in runs if args.run_id or not (r.cleaned or (not r.base_start and not r.tasks))]
    kept_any = False
    for run in runs:
        report = clean_run(workspace, run, force=args.force)
        found = (
            " (its state file is unreadable; found from its branches)" if report.recovered else ""
        )
        print(
            f"run {run.run_id}{found}: removed {len(report.removed_worktrees)} worktrees and "
            f"{len(report.removed_branches)} branches"
        )
        for item in report.kept:
            print(f"  kept: {item}")
        kept_any = kept_any or bool(report.kept)
    if kept_any:
        print(
            "tui-orch: some work was kept because removing it would lose it; merge it, or "
            "pass --force to remove it anyway",
            file=sys.stderr,
        )
        return EXIT_FAILED
    if not runs:
        print("nothing to clean")
    return EXIT_OK
