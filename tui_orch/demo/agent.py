"""A scripted coding agent for the demo and the tests: ``python -m tui_orch.demo.agent``.

It reads its task from the environment tui-orch sets (TUI_ORCH_TASK_ID, TUI_ORCH_FILES),
streams progress lines at a steady pace, and writes each owned file with the demo's
real content. Options make it misbehave on purpose: fail, hang, flood its output, or
edit a file it does not own. No randomness: the same task prints the same lines.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from tui_orch.demo.content import TASK_FILES


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tui_orch.demo.agent", description=__doc__)
    parser.add_argument("--pace", type=float, default=0.05, help="seconds between lines")
    parser.add_argument("--chatter", type=int, default=3, help="progress lines per file")
    parser.add_argument("--fail", action="store_true", help="exit 1 halfway through")
    parser.add_argument("--hang", action="store_true", help="stop answering halfway through")
    parser.add_argument(
        "--flood", type=int, default=0, metavar="N", help="first print N lines as fast as possible"
    )
    parser.add_argument(
        "--edit-unowned",
        action="append",
        default=[],
        metavar="PATH",
        help="also change PATH, which the task does not own",
    )
    parser.add_argument(
        "--no-changes", action="store_true", help="work through the files but write none"
    )
    parser.add_argument(
        "--wait-for", metavar="FILE", help="before exiting, wait until FILE exists (a test gate)"
    )
    parser.add_argument(
        "--edit-line",
        action="append",
        default=[],
        metavar="PATH:N:TEXT",
        help="replace line N (from 1) of PATH with TEXT, whoever owns PATH",
    )
    return parser.parse_args(argv)


def say(line: str, pace: float) -> None:
    print(line, flush=True)
    if pace:
        time.sleep(pace)


def content_for(path: str, task_id: str) -> str:
    if path in TASK_FILES:
        return TASK_FILES[path]
    return f"# written by the demo agent for task {task_id}\n"


def under_git_dir(directory: Path) -> bool:
    """Real agents (Claude Code) refuse to edit anything under a `.git/` directory."""
    return ".git" in directory.resolve().parts


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if under_git_dir(Path.cwd()):
        print(f"! refusing to edit files in {Path.cwd()}: it is under a .git directory", flush=True)
        return 3
    task_id = os.environ.get("TUI_ORCH_TASK_ID", "task")
    files = [f for f in os.environ.get("TUI_ORCH_FILES", "").splitlines() if f]
    for number in range(args.flood):
        sys.stdout.write(f"flood line {number}: the quick brown fox jumps over the lazy dog\n")
    sys.stdout.flush()
    say(f"> task {task_id}: {len(files)} files to write", args.pace)
    say("> reading the prompt and the files around them", args.pace)
    for index, path in enumerate(files, start=1):
        say(f"> [{index}/{len(files)}] {path}", args.pace)
        for step in range(args.chatter):
            say(
                f"  {('analysing', 'drafting', 'refining', 'checking')[step % 4]} {path}", args.pace
            )
        if index > len(files) // 2 and (args.fail or args.hang):
            break
        if args.no_changes:
            say(f"  {path} already does what the task asks; leaving it as it is", args.pace)
            continue
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = content_for(path, task_id)
        target.write_text(text, encoding="utf-8")
        say(f"  wrote {path} ({text.count(chr(10))} lines)", args.pace)
    for path in args.edit_unowned:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"changed by task {task_id}\n", encoding="utf-8")
        say(f"  also changed {path}", args.pace)
    for spec in args.edit_line:
        path, number, text = spec.split(":", 2)
        target = Path(path)
        lines = target.read_text(encoding="utf-8").splitlines() if target.exists() else []
        lines += [""] * (int(number) - len(lines))
        lines[int(number) - 1] = text
        target.write_text("\n".join(lines) + "\n", encoding="utf-8")
        say(f"  changed line {number} of {path}", args.pace)
    if args.fail:
        say(f"! task {task_id}: giving up: the tests I wrote do not pass", 0)
        return 1
    if args.hang:
        say(f"> task {task_id}: waiting for something that never comes", 0)
        while True:
            time.sleep(3600)
    if args.wait_for:
        say(f"> task {task_id}: waiting for the go-ahead", 0)
        while not Path(args.wait_for).exists():
            time.sleep(0.05)
    written = 0 if args.no_changes else len(files)
    say(f"> task {task_id}: done, {written} files written", 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
