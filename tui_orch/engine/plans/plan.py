"""The plan: tasks, the files each owns, their dependencies, and how to run them.

Loading is strict and reports every problem at once, each naming file, line and
field, because a plan is often written by an agent and fixed by a person.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path

from tui_orch.engine.conflicts.policy import (
    DEFAULT_INTERVAL,
    DEFAULT_POLICY,
    KINDS,
    POLICIES,
    ConflictPolicy,
)
from tui_orch.engine.plans.batches import Batch, find_cycles, plan_batches
from tui_orch.engine.plans.config import Settings, load_settings, read_text
from tui_orch.engine.plans.fields import FieldReader
from tui_orch.engine.plans.located_yaml import Located, describe, parse_yaml, shorten
from tui_orch.engine.plans.paths import PathRefused, check_inside_repo, normalise_owned_path
from tui_orch.engine.plans.problems import InputError, did_you_mean
from tui_orch.engine.plans.profiles import AgentProfile, read_profiles, unknown_profile
from tui_orch.engine.repository.repo import RepoInfo

PLAN_FIELDS = (
    "goal",
    "base",
    "default_agent",
    "max_parallel",
    "agent_nice",
    "budget_usd",
    "on_rate_limit",
    "rate_limit_wait",
    "agents",
    "validate",
    "conflicts",
    "tasks",
)
CONFLICT_FIELDS = (*KINDS, "interval")
TASK_FIELDS = ("id", "title", "prompt", "files", "depends_on", "agent", "timeout", "budget_usd")
TASK_REQUIRED = ("id", "prompt", "files")
DEFAULT_MAX_PARALLEL = 4
RATE_LIMIT_CHOICES = ("wait", "fail")
# How long an agent stopped by a rate limit that named no reset time waits, by default.
DEFAULT_RATE_LIMIT_WAIT = 60.0
# Agents run at a lower CPU priority than the cockpit (as `nice` does by default), so
# the panes stay responsive when the agents saturate the CPU; 0 gives them an equal share.
DEFAULT_AGENT_NICE = 10
MAX_NICE = 19
TASK_ID = re.compile(r"[a-z0-9][a-z0-9._-]*\Z")
# An id is a branch name, a worktree folder and a log file name; far below every OS limit.
MAX_TASK_ID_LENGTH = 64
# Task ids become branch names tui-orch/<run>/<id>; the integration branch takes this one.
RESERVED_TASK_IDS = frozenset({"integration"})


@dataclass(frozen=True)
class ValidateCommand:
    """A validation command: an argv list, or a string the user wants run by ``sh -c``."""

    argv: tuple[str, ...]
    shell: bool
    line: int

    @property
    def display(self) -> str:
        """The command as it could be typed into a shell."""
        return self.argv[-1] if self.shell else shlex.join(self.argv)

    @classmethod
    def from_shell(cls, text: str, line: int) -> ValidateCommand:
        return cls(("sh", "-c", text), True, line)


@dataclass(frozen=True)
class Task:
    """One unit of work for one agent, owning a set of files."""

    id: str
    title: str
    prompt: str
    files: tuple[str, ...]
    depends_on: tuple[str, ...]
    agent: str
    timeout: float | None
    line: int
    budget_usd: float | None = None  # passed to agents that take a spending cap

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "title": self.title,
            "agent": self.agent,
            "files": list(self.files),
            "depends_on": list(self.depends_on),
            "timeout": self.timeout,
            "budget_usd": self.budget_usd,
            "line": self.line,
        }


@dataclass(frozen=True)
class Plan:
    """A checked plan; every task's agent names a profile in ``agents``."""

    source: str
    goal: str
    base: str | None
    max_parallel: int
    agents: dict[str, AgentProfile]
    validate: tuple[ValidateCommand, ...]
    tasks: tuple[Task, ...]
    conflicts: ConflictPolicy = field(default_factory=ConflictPolicy)
    agent_nice: int = DEFAULT_AGENT_NICE
    # What the run may spend, as its agents report it; over it, no more agents start.
    budget_usd: float | None = None
    # An agent stopped by its provider's rate limit: "wait" (start it again, continuing
    # its conversation, at the reset) or "fail" (the task fails).
    on_rate_limit: str = "wait"
    # Seconds to wait before going on after a rate limit that named no reset time.
    rate_limit_wait: float = DEFAULT_RATE_LIMIT_WAIT
    # The text it was checked from: what a run keeps as its plan, never the file read
    # again (the file may have changed since it was checked and approved).
    text: str = ""

    def task(self, task_id: str) -> Task:
        return next(task for task in self.tasks if task.id == task_id)

    def batches(self) -> list[Batch]:
        return plan_batches(
            [task.id for task in self.tasks],
            {task.id: task.depends_on for task in self.tasks},
            self.max_parallel,
        )

    def owners(self) -> dict[str, str]:
        """Each owned file and the task that owns it."""
        return {path: task.id for task in self.tasks for path in task.files}

    def timeout_for(self, task: Task) -> float | None:
        """The task's own timeout, else its agent profile's, else none."""
        return task.timeout if task.timeout is not None else self.agents[task.agent].timeout


def load_plan(path: Path, repo: RepoInfo | None = None, label: str | None = None) -> Plan:
    """Load and check a plan file; raise InputError listing every problem found.

    With ``repo``, the plan is also checked against it: the base branch exists,
    owned paths stay inside it, and its ``.tui-orch.yaml`` supplies agent profiles.
    """
    label = label or str(path)
    settings = load_settings(repo.root if repo else None)
    try:
        text = read_text(path, label)
    except InputError as error:
        raise InputError([*settings.problems, *error.problems]) from None
    return parse_plan(text, label, settings, repo)


def parse_plan(text: str, label: str, settings: Settings, repo: RepoInfo | None = None) -> Plan:
    """Check plan text; see `load_plan`. Problems of the settings are reported too."""
    try:
        root, yaml_problems = parse_yaml(text, label)
    except InputError as error:
        raise InputError([*settings.problems, *error.problems]) from None
    reader = FieldReader(label, [*settings.problems, *yaml_problems])
    if root is None:
        reader.problem(1, "", "the plan is empty; it needs at least a list of tasks")
        raise InputError(reader.problems)
    if root.is_sequence:
        reader.problem(
            root.line,
            "(top level)",
            "expected a mapping of plan fields, found a list; put the list under 'tasks:'",
        )
        raise InputError(reader.problems)
    items = reader.mapping(root, "", PLAN_FIELDS, what="a mapping of plan fields")
    if items is None:
        raise InputError(reader.problems)
    if "tasks" not in items:
        reader.problem(
            root.line, "tasks", "required field missing; add 'tasks:' with a list of tasks"
        )
    plan = _PlanBuilder(reader, settings, repo).build(items, root)
    if reader.problems or plan is None:
        raise InputError(reader.problems)
    return replace(plan, text=text)


@dataclass
class _TaskDraft:
    """What could be read of one task; None fields were missing or wrong."""

    index: int
    line: int
    id: str | None = None
    id_line: int = 0
    title: str | None = None
    prompt: str | None = None
    files: list[tuple[str, int]] = field(default_factory=list)
    depends_on: list[tuple[str, int]] = field(default_factory=list)
    depends_line: int = 0
    agent: str | None = None
    agent_line: int = 0
    timeout: float | None = None
    budget_usd: float | None = None

    @property
    def path(self) -> str:
        return f"tasks[{self.index}]"


class _PlanBuilder:
    """Reads the plan's fields in order, then runs the checks that span tasks."""

    def __init__(self, reader: FieldReader, settings: Settings, repo: RepoInfo | None) -> None:
        self.reader = reader
        self.settings = settings
        self.repo = repo
        self.broken: set[str] = set(settings.broken)

    def build(self, items: dict[str, Located], root: Located) -> Plan | None:
        reader = self.reader
        goal = reader.text(items["goal"], "goal", allow_empty=True) if "goal" in items else ""
        max_parallel = DEFAULT_MAX_PARALLEL
        if "max_parallel" in items:
            max_parallel = reader.whole_number(items["max_parallel"], "max_parallel", 1) or 1
        agent_nice = DEFAULT_AGENT_NICE
        if "agent_nice" in items:
            agent_nice = self._read_nice(items["agent_nice"])
        budget_node = items.get("budget_usd")
        budget = reader.dollars(budget_node, "budget_usd") if budget_node else None
        on_rate_limit = "wait"
        if "on_rate_limit" in items:
            on_rate_limit = self._read_choice(
                items["on_rate_limit"], "on_rate_limit", RATE_LIMIT_CHOICES
            )
        rate_limit_wait = DEFAULT_RATE_LIMIT_WAIT
        if "rate_limit_wait" in items:
            rate_limit_wait = reader.duration(items["rate_limit_wait"], "rate_limit_wait") or 0.0
        profiles = dict(self.settings.profiles)
        if "agents" in items:
            read, broken = read_profiles(items["agents"], "agents", reader)
            profiles.update(read)
            self.broken = (self.broken - set(read)) | broken
        default_agent = self.settings.default_agent
        default_line = 0
        if "default_agent" in items:
            default_agent = reader.text(items["default_agent"], "default_agent")
            default_line = items["default_agent"].line
            if default_agent is not None and self._unknown_agent(
                default_line, "default_agent", default_agent, profiles
            ):
                default_agent = None
        validate = self._read_validate(items["validate"]) if "validate" in items else []
        conflicts = (
            self._read_conflicts(items["conflicts"]) if "conflicts" in items else ConflictPolicy()
        )
        drafts = self._read_tasks(items["tasks"]) if "tasks" in items else []
        self._check_ids(drafts)
        self._check_dependencies(drafts)
        self._check_ownership(drafts)
        self._check_agents(drafts, profiles, default_agent, default_line)
        base = self._resolve_base(items.get("base"), root)
        if reader.problems:
            return None
        tasks = tuple(
            Task(
                id=d.id or "",
                title=d.title or d.id or "",
                prompt=d.prompt or "",
                files=tuple(path for path, _ in d.files),
                depends_on=tuple(dict.fromkeys(dep for dep, _ in d.depends_on)),
                agent=d.agent or default_agent or "",
                timeout=d.timeout,
                line=d.line,
                budget_usd=d.budget_usd,
            )
            for d in drafts
        )
        return Plan(
            source=reader.source,
            goal=goal or "",
            base=base,
            max_parallel=max_parallel,
            agents=profiles,
            validate=tuple(validate),
            tasks=tasks,
            conflicts=conflicts,
            agent_nice=agent_nice,
            budget_usd=budget,
            on_rate_limit=on_rate_limit,
            rate_limit_wait=rate_limit_wait,
        )

    def _read_choice(self, node: Located, path: str, choices: tuple[str, ...]) -> str:
        value = self.reader.text(node, path)
        if value is not None and value not in choices:
            self.reader.problem(
                node.line,
                path,
                f"unknown value '{value}'"
                + did_you_mean(value, choices)
                + f"; known: {', '.join(choices)}",
            )
        return value if value in choices else choices[0]

    def _read_nice(self, node: Located) -> int:
        nice = self.reader.whole_number(node, "agent_nice", 0)
        if nice is not None and nice > MAX_NICE:
            self.reader.problem(
                node.line, "agent_nice", f"must be at most {MAX_NICE}, found {nice}"
            )
            return DEFAULT_AGENT_NICE
        return DEFAULT_AGENT_NICE if nice is None else nice

    # -- top-level fields -------------------------------------------------

    def _read_validate(self, node: Located) -> list[ValidateCommand]:
        reader = self.reader
        if isinstance(node.value, str):
            reader.problem(
                node.line,
                "validate",
                f"expected a list of commands, found {describe(node)}; write it as a list item: "
                f"- {node.value}",
            )
            return []
        if not node.is_sequence:
            reader.wrong_type(node, "validate", "a list of commands")
            return []
        commands = []
        for index, item in enumerate(node.value):
            path = f"validate[{index}]"
            if isinstance(item.value, str):
                text = reader.text(item, path)
                if text is not None:
                    commands.append(ValidateCommand.from_shell(text, item.line))
            elif item.is_sequence:
                argv = reader.text_list(item, path, "a list of arguments")
                if argv is not None and len(argv) == len(item.value):
                    if argv:
                        commands.append(
                            ValidateCommand(tuple(a for a, _ in argv), False, item.line)
                        )
                    else:
                        reader.problem(item.line, path, "must not be empty")
            else:
                reader.wrong_type(item, path, "a command (a list of arguments, or a shell string)")
        return commands

    def _read_conflicts(self, node: Located) -> ConflictPolicy:
        reader = self.reader
        items = reader.mapping(node, "conflicts", CONFLICT_FIELDS)
        if items is None:
            return ConflictPolicy()
        actions = dict(DEFAULT_POLICY)
        interval = DEFAULT_INTERVAL
        for key, value in items.items():
            path = f"conflicts.{key}"
            if key == "interval":
                interval = reader.duration(value, path) or DEFAULT_INTERVAL
                continue
            action = reader.text(value, path)
            if action is not None and action not in POLICIES:
                reader.problem(
                    value.line,
                    path,
                    f"must be warn or block, found '{action}'" + did_you_mean(action, POLICIES),
                )
            elif action is not None:
                actions[key] = action
        return ConflictPolicy(actions, interval)

    def _resolve_base(self, node: Located | None, root: Located) -> str | None:
        reader = self.reader
        base = reader.text(node, "base") if node is not None else None
        if node is not None and base is None:
            return None
        if self.repo is None:
            return base
        if base is None:
            if self.repo.current_branch is None:
                reader.problem(
                    root.line,
                    "base",
                    f"not set, and {self.repo.root} has no branch checked out (detached HEAD); "
                    "set base to the branch to build on",
                )
            return self.repo.current_branch
        if base not in self.repo.branches:
            line = node.line if node is not None else root.line
            reader.problem(
                line,
                "base",
                f"branch '{base}' does not exist in {self.repo.root}"
                + (
                    did_you_mean(base, self.repo.branches)
                    or f"; its branches are {', '.join(sorted(self.repo.branches)[:8]) or 'none'}"
                ),
            )
        return base

    # -- tasks ------------------------------------------------------------

    def _read_tasks(self, node: Located) -> list[_TaskDraft]:
        reader = self.reader
        if not node.is_sequence:
            reader.wrong_type(node, "tasks", "a list of tasks")
            return []
        if not node.value:
            reader.problem(
                node.line, "tasks", "the task list is empty; a plan needs at least one task"
            )
            return []
        return [self._read_task(index, item) for index, item in enumerate(node.value)]

    def _read_task(self, index: int, node: Located) -> _TaskDraft:
        reader = self.reader
        draft = _TaskDraft(index, node.line)
        items = reader.mapping(
            node,
            draft.path,
            TASK_FIELDS,
            required=TASK_REQUIRED,
            what="a task (a mapping with id, prompt and files)",
        )
        if items is None:
            return draft
        path = draft.path
        if "id" in items:
            draft.id_line = items["id"].line
            draft.id = self._read_id(items["id"], f"{path}.id")
        if "title" in items:
            draft.title = reader.text(items["title"], f"{path}.title")
        if "prompt" in items:
            draft.prompt = reader.text(items["prompt"], f"{path}.prompt")
        if "files" in items:
            draft.files = self._read_files(items["files"], f"{path}.files")
        if "depends_on" in items:
            draft.depends_line = items["depends_on"].line
            deps = reader.text_list(items["depends_on"], f"{path}.depends_on", "a list of task ids")
            draft.depends_on = deps or []
        if "agent" in items:
            draft.agent_line = items["agent"].line
            draft.agent = reader.text(items["agent"], f"{path}.agent")
        if "timeout" in items:
            draft.timeout = reader.duration(items["timeout"], f"{path}.timeout")
        if "budget_usd" in items:
            draft.budget_usd = reader.dollars(items["budget_usd"], f"{path}.budget_usd")
        return draft

    def _read_id(self, node: Located, path: str) -> str | None:
        value = node.value
        if isinstance(value, int) and not isinstance(value, bool):
            self.reader.problem(
                node.line, path, f"expected text, found the number {value}; quote it ('{value}')"
            )
            return None
        if not isinstance(value, str):
            self.reader.wrong_type(node, path, "text such as 'api'")
            return None
        reason = _unsafe_id_reason(value)
        if reason:
            self.reader.problem(
                node.line, path, f"'{shorten(value)}' is not a safe task id: {reason}"
            )
            return None
        return value

    def _read_files(self, node: Located, path: str) -> list[tuple[str, int]]:
        reader = self.reader
        raw = reader.text_list(node, path, "a list of repo-relative file paths")
        if raw is None:
            return []
        if not node.value:
            reader.problem(node.line, path, "the file list is empty; a task owns at least one file")
            return []
        files: list[tuple[str, int]] = []
        seen: dict[str, int] = {}
        for text, line in raw:
            try:
                normal = normalise_owned_path(text)
                if self.repo is not None:
                    check_inside_repo(self.repo.root, normal)
            except PathRefused as refused:
                reader.problem(line, path, f"'{text}' {refused}")
                continue
            if normal in seen:
                reader.problem(
                    line, path, f"'{text}' is listed twice (first at line {seen[normal]})"
                )
                continue
            seen[normal] = line
            files.append((normal, line))
        return files

    # -- checks across tasks -------------------------------------------------

    def _check_ids(self, drafts: list[_TaskDraft]) -> None:
        first: dict[str, _TaskDraft] = {}
        for draft in drafts:
            if draft.id is None:
                continue
            if draft.id in first:
                self.reader.problem(
                    draft.id_line,
                    f"{draft.path}.id",
                    f"duplicate task id '{draft.id}' "
                    f"(first used at line {first[draft.id].id_line})",
                )
            else:
                first[draft.id] = draft

    def _check_dependencies(self, drafts: list[_TaskDraft]) -> None:
        reader = self.reader
        ids = [d.id for d in drafts if d.id is not None]
        known = set(ids)
        graph: dict[str, list[str]] = {}
        by_id: dict[str, _TaskDraft] = {}
        for draft in drafts:
            for dep, line in draft.depends_on:
                path = f"{draft.path}.depends_on"
                if dep == draft.id:
                    reader.problem(line, path, f"task '{dep}' cannot depend on itself")
                elif dep not in known:
                    reader.problem(
                        line, path, f"unknown task '{dep}'" + did_you_mean(dep, known - {draft.id})
                    )
            if draft.id is not None and draft.id not in by_id:
                by_id[draft.id] = draft
                graph[draft.id] = [dep for dep, _ in draft.depends_on if dep != draft.id]
        for cycle in find_cycles(list(by_id), graph):
            start = by_id[cycle[0]]
            reader.problem(
                start.depends_line or start.line,
                f"{start.path}.depends_on",
                "dependency cycle: " + " -> ".join(cycle),
            )

    def _check_ownership(self, drafts: list[_TaskDraft]) -> None:
        owner: dict[str, tuple[_TaskDraft, int]] = {}
        for draft in drafts:
            for path, line in draft.files:
                if path not in owner:
                    owner[path] = (draft, line)
                    continue
                first, first_line = owner[path]
                if first is draft:
                    continue
                self.reader.problem(
                    line,
                    f"{draft.path}.files",
                    f"'{path}' is owned by both {_name(first)} (line {first_line}) and "
                    f"{_name(draft)} (line {line}); a file belongs to one task, so merge "
                    "the two tasks or give the file to one of them",
                )

    def _check_agents(
        self,
        drafts: list[_TaskDraft],
        profiles: dict[str, AgentProfile],
        default_agent: str | None,
        default_line: int,
    ) -> None:
        for draft in drafts:
            if draft.agent is not None:
                if draft.agent not in profiles:
                    self._unknown_agent(
                        draft.agent_line, f"{draft.path}.agent", draft.agent, profiles
                    )
            elif default_agent is None and not default_line:
                self.reader.problem(
                    draft.line,
                    f"{draft.path}.agent",
                    "no agent: set 'agent' on the task or 'default_agent' in the plan",
                )

    def _unknown_agent(
        self, line: int, path: str, name: str, profiles: dict[str, AgentProfile]
    ) -> bool:
        """Report name if no profile has it; True when it cannot be used."""
        if name in self.broken:
            return True  # its own problems are already reported where it is defined
        if name in profiles:
            return False
        self.reader.problem(line, path, unknown_profile(name, profiles))
        return True


def _name(draft: _TaskDraft) -> str:
    return f"task '{draft.id}'" if draft.id else f"tasks[{draft.index}]"


def _unsafe_id_reason(value: str) -> str:
    """Why value cannot be a task id (it becomes a git branch name), or ''."""
    if len(value) > MAX_TASK_ID_LENGTH:
        return f"it is {len(value)} characters long; use at most {MAX_TASK_ID_LENGTH}"
    if not TASK_ID.match(value):
        return "use lower-case letters, digits, '.', '_' and '-', starting with a letter or digit"
    if ".." in value or value.endswith((".", ".lock")):
        return "git branch names cannot contain '..' or end in '.' or '.lock'"
    if value in RESERVED_TASK_IDS:
        return f"'{value}' is reserved for the run's own branch"
    return ""
