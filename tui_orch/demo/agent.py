"""A scripted coding agent for the demo and the tests: ``python -m tui_orch.demo.agent``.

It reads its task from the environment tui-orch sets (TUI_ORCH_TASK_ID, TUI_ORCH_FILES),
prints what a coding agent would (reading files, editing each definition, running the
tests) and writes each owned file with the demo's real content. Each line takes a number
of beats, more for bigger files, and a beat lasts ``--pace`` seconds: so the same task
always takes the same time, ``--pace 0`` none at all. Options make it misbehave on
purpose: fail, hang, flood its output, or edit a file it does not own. No randomness: the
same task prints the same lines.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tui_orch.demo.content import TASK_FILES

DEFAULT_PACE = 0.5  # seconds per beat: each task of the demo takes 10-20 s
CHATTER_VERBS = ("analysing", "drafting", "refining", "checking")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tui_orch.demo.agent", description=__doc__)
    parser.add_argument(
        "--pace", type=float, default=DEFAULT_PACE, help=f"seconds per beat ({DEFAULT_PACE:g})"
    )
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


@dataclass(frozen=True)
class Step:
    """One line the agent prints, the change it makes just before, and how long it takes.

    ``change`` is ``("write", PATH)`` (an owned file, with the demo's content),
    ``("unowned", PATH)`` or ``("line", "PATH:N:TEXT")``; ``None`` changes nothing.
    """

    line: str
    beats: float = 1.0
    change: tuple[str, str] | None = None


def content_for(path: str, task_id: str) -> str:
    if path in TASK_FILES:
        return TASK_FILES[path]
    return f"# written by the demo agent for task {task_id}\n"


def outline(path: str, text: str) -> list[str]:
    """What an agent would say it is working on in a file: its definitions or headings."""
    if path.endswith(".py"):
        return [f"{kind} {name}" for kind, name in re.findall(r"^\s*(class|def) (\w+)", text, re.M)]
    return [f"section '{title.strip()}'" for title in re.findall(r"^#+ (.+)$", text, re.M)]


def work_for(path: str, task_id: str, chatter: int) -> list[str]:
    """The progress lines for one file: one per item of its outline, at least one and at
    most ``chatter``."""
    names = outline(path, content_for(path, task_id))
    lines = []
    for step in range(min(chatter, max(1, len(names)))):
        if step < len(names):
            lines.append(f"  editing {path}: {names[step]}")
        else:
            lines.append(f"  {CHATTER_VERBS[step % len(CHATTER_VERBS)]} {path}")
    return lines


def schedule(task_id: str, files: list[str], args: argparse.Namespace) -> list[Step]:
    """Everything the agent prints and changes, in order, up to its last words.

    A line takes one beat; a line of work on a file two; writing a file one beat per six
    lines of it (at least one); reading the prompt, running the tests or checking the docs
    three.
    """
    steps = [
        Step(f"> task {task_id}: {len(files)} files to write"),
        Step("> reading the prompt and the files around them", 3),
    ]
    extra = [Step(f"  also changed {path}", 1, ("unowned", path)) for path in args.edit_unowned]
    for spec in args.edit_line:
        path, number, _ = spec.split(":", 2)
        extra.append(Step(f"  changed line {number} of {path}", 1, ("line", spec)))
    halfway = args.fail or args.hang
    for index, path in enumerate(files, start=1):
        steps.append(Step(f"> [{index}/{len(files)}] {path}"))
        steps += [Step(line, 2) for line in work_for(path, task_id, args.chatter)]
        if index > len(files) // 2 and halfway:
            break
        if args.no_changes:
            steps.append(Step(f"  {path} already does what the task asks; leaving it as it is"))
        else:
            size = content_for(path, task_id).count("\n")
            wrote = f"  wrote {path} ({size} line{'' if size == 1 else 's'})"
            steps.append(Step(wrote, max(1, size // 6), ("write", path)))
        if index == 1:
            steps += extra  # early, while the agent is still busy: conflicts show mid-run
            extra = []
    steps += extra
    if not halfway:
        steps += checks(files)
    return steps


def checks(files: list[str]) -> list[Step]:
    """What the agent does once its files are written: run its tests, or check its docs."""
    tests = [path for path in files if path.startswith("tests/")]
    if tests:
        count = sum(content_for(path, "").count("\ndef test_") for path in tests)
        return [
            Step(f"> running pytest -q {' '.join(tests)}", 3),
            Step(f"  {count} passed"),
        ]
    docs = [path for path in files if path.endswith(".md")]
    if docs:
        return [Step(f"> checking the links in {', '.join(docs)}", 3), Step("  every link works")]
    return []


def seconds(steps: list[Step], pace: float) -> float:
    """How long the steps take at this pace, in seconds."""
    return sum(step.beats for step in steps) * pace


def say(line: str, pace: float) -> None:
    print(line, flush=True)
    if pace:
        time.sleep(pace)


def make_change(change: tuple[str, str], task_id: str) -> None:
    kind, what = change
    if kind == "line":
        path, number, text = what.split(":", 2)
        target = Path(path)
        lines = target.read_text(encoding="utf-8").splitlines() if target.exists() else []
        lines += [""] * (int(number) - len(lines))
        lines[int(number) - 1] = text
        target.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return
    target = Path(what)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = content_for(what, task_id) if kind == "write" else f"changed by task {task_id}\n"
    target.write_text(text, encoding="utf-8")


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
    for step in schedule(task_id, files, args):
        if step.change:
            make_change(step.change, task_id)
        say(step.line, step.beats * args.pace)
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
