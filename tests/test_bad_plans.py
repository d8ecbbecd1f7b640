"""Bad plans through the real CLI: each is refused with exit 2 and exact, located sentences.

Every case runs `tui-orch check plan.yaml` as a subprocess and checks the whole of
stderr: one ``plan.yaml:LINE: FIELD: message`` line per problem, then the summary.
Nothing goes to stdout (without --json) and no traceback is ever shown.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from tests.conftest import CliResult, git, run_cli

PLAN = "plan.yaml"


def case(case_id: str, plan: str, *problems: str) -> object:
    """One parametrized bad plan: its YAML and every problem line it must produce."""
    return pytest.param(textwrap.dedent(plan), problems, id=case_id)


def summary(count: int) -> str:
    return f"{count} problem{'s' if count != 1 else ''} found; nothing was run."


def write_plan(directory: Path, text: str) -> None:
    (directory / PLAN).write_text(textwrap.dedent(text), encoding="utf-8")


def check(cwd: Path, *extra: str) -> CliResult:
    return run_cli("check", PLAN, *extra, cwd=cwd)


def assert_refused(result: CliResult, problems: tuple[str, ...] | list[str]) -> None:
    """Exit 2, nothing on stdout, and stderr is exactly the problems then the summary."""
    assert "Traceback" not in result.stderr
    assert result.code == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == [*problems, summary(len(problems))]


# -- plans that are wrong on their own (checked outside any git repository) ---------------

BAD_PLANS = [
    case(
        "path-with-dotdot-inside",
        """\
        default_agent: claude
        tasks:
          - id: api
            prompt: do it
            files: [src/../x.py]
        """,
        "plan.yaml:5: tasks[0].files: 'src/../x.py' uses '..'; write it as 'x.py'",
    ),
    case(
        "timeout-hours-then-bare-number",
        """\
        default_agent: claude
        tasks:
          - id: api
            prompt: do it
            files: [a.py]
            timeout: 1h30
        """,
        "plan.yaml:6: tasks[0].timeout: expected a duration such as 600, '90s', '30m' "
        "or '1h30m', found the text '1h30'",
    ),
    # YAML itself
    case(
        "yaml-syntax-error",
        """\
        default_agent: claude
        tasks:
          - id: api
            prompt: fix: the bug
            files: [a.py]
        """,
        "plan.yaml:4: YAML syntax error: a ':' where YAML does not expect one; "
        "put quotes around text that contains ': '",
    ),
    case(
        "yaml-bad-indentation",
        """\
        default_agent: claude
        tasks:
          - id: api
            prompt: do it
           files: [a.py]
        """,
        "plan.yaml:5: YAML syntax error: this line's indentation does not match the lines above it",
    ),
    case(
        "yaml-tab-indentation",
        "default_agent: claude\ntasks:\n\t- id: api\n",
        "plan.yaml:3: YAML syntax error: a tab character; indent with spaces, not tabs",
    ),
    case(
        "yaml-duplicate-key",
        """\
        default_agent: claude
        tasks:
          - id: api
            prompt: do it
            files: [a.py]
            prompt: do it again
        """,
        "plan.yaml:6: tasks[0].prompt: given twice (first at line 4); keep only one",
    ),
    case(
        "yaml-duplicate-top-level-key",
        """\
        default_agent: claude
        max_parallel: 2
        tasks:
          - id: api
            prompt: do it
            files: [a.py]
        max_parallel: 3
        """,
        "plan.yaml:7: max_parallel: given twice (first at line 2); keep only one",
    ),
    case(
        "agent-nice-too-high",
        """\
        default_agent: claude
        agent_nice: 25
        tasks:
          - id: api
            prompt: do it
            files: [a.py]
        """,
        "plan.yaml:2: agent_nice: must be at most 19, found 25",
    ),
    case(
        "agent-nice-negative",
        """\
        default_agent: claude
        agent_nice: -5
        tasks:
          - id: api
            prompt: do it
            files: [a.py]
        """,
        "plan.yaml:2: agent_nice: must be at least 0, found -5",
    ),
    # the shape of the plan
    case(
        "empty-file",
        "",
        "plan.yaml:1: the plan is empty; it needs at least a list of tasks",
    ),
    case(
        "only-a-comment",
        "# TODO: write the plan\n",
        "plan.yaml:1: the plan is empty; it needs at least a list of tasks",
    ),
    case(
        "top-level-is-a-list",
        """\
        - id: api
          prompt: do it
          files: [a.py]
        """,
        "plan.yaml:1: (top level): expected a mapping of plan fields, found a list; "
        "put the list under 'tasks:'",
    ),
    case(
        "missing-tasks",
        """\
        goal: make it faster
        default_agent: claude
        """,
        "plan.yaml:1: tasks: required field missing; add 'tasks:' with a list of tasks",
    ),
    case(
        "empty-task-list",
        """\
        default_agent: claude
        tasks: []
        """,
        "plan.yaml:2: tasks: the task list is empty; a plan needs at least one task",
    ),
    case(
        "tasks-left-blank",
        """\
        default_agent: claude
        tasks:
        """,
        "plan.yaml:2: tasks: expected a list of tasks, found nothing",
    ),
    case(
        "tasks-as-a-mapping",
        """\
        default_agent: claude
        tasks:
          api:
            prompt: do it
            files: [a.py]
        """,
        "plan.yaml:3: tasks: expected a list of tasks, found a mapping",
    ),
    case(
        "task-is-not-a-mapping",
        """\
        default_agent: claude
        tasks:
          - api
        """,
        "plan.yaml:3: tasks[0]: expected a task (a mapping with id, prompt and files), "
        "found the text 'api'",
    ),
    case(
        "task-missing-id",
        """\
        default_agent: claude
        tasks:
          - prompt: do it
            files: [a.py]
        """,
        "plan.yaml:3: tasks[0].id: required field missing",
    ),
    case(
        "task-missing-prompt",
        """\
        default_agent: claude
        tasks:
          - id: api
            files: [a.py]
        """,
        "plan.yaml:3: tasks[0].prompt: required field missing",
    ),
    case(
        "task-missing-files",
        """\
        default_agent: claude
        tasks:
          - id: api
            prompt: do it
        """,
        "plan.yaml:3: tasks[0].files: required field missing",
    ),
    case(
        "unknown-top-level-field",
        """\
        max_paralel: 2
        default_agent: claude
        tasks:
          - id: api
            prompt: do it
            files: [a.py]
        """,
        "plan.yaml:1: max_paralel: unknown field (did you mean 'max_parallel'?); "
        "allowed: agent_nice, agents, base, budget_usd, conflicts, default_agent, goal, "
        "max_parallel, on_rate_limit, rate_limit_wait, tasks, validate",
    ),
    case(
        "unknown-task-field",
        """\
        default_agent: claude
        tasks:
          - id: models
            prompt: do it
            files: [models.py]
          - id: api
            prompt: do it
            files: [api.py]
            depnds_on: [models]
        """,
        "plan.yaml:9: tasks[1].depnds_on: unknown field (did you mean 'depends_on'?); "
        "allowed: agent, budget_usd, depends_on, files, id, prompt, timeout, title",
    ),
    # wrong types and values
    case(
        "max-parallel-as-a-word",
        """\
        default_agent: claude
        max_parallel: four
        tasks:
          - id: api
            prompt: do it
            files: [a.py]
        """,
        "plan.yaml:2: max_parallel: expected a whole number, found the text 'four'",
    ),
    case(
        "max-parallel-zero",
        """\
        default_agent: claude
        max_parallel: 0
        tasks:
          - id: api
            prompt: do it
            files: [a.py]
        """,
        "plan.yaml:2: max_parallel: must be at least 1, found 0",
    ),
    case(
        "files-as-a-string",
        """\
        default_agent: claude
        tasks:
          - id: api
            prompt: do it
            files: a.py
        """,
        "plan.yaml:5: tasks[0].files: expected a list of repo-relative file paths, "
        "found the text 'a.py'; write [a.py]",
    ),
    case(
        "files-empty",
        """\
        default_agent: claude
        tasks:
          - id: api
            prompt: do it
            files: []
        """,
        "plan.yaml:5: tasks[0].files: the file list is empty; a task owns at least one file",
    ),
    case(
        "depends-on-as-a-string",
        """\
        default_agent: claude
        tasks:
          - id: models
            prompt: do it
            files: [models.py]
          - id: api
            prompt: do it
            files: [api.py]
            depends_on: models
        """,
        "plan.yaml:9: tasks[1].depends_on: expected a list of task ids, "
        "found the text 'models'; write [models]",
    ),
    case(
        "timeout-negative",
        """\
        default_agent: claude
        tasks:
          - id: api
            prompt: do it
            files: [a.py]
            timeout: -5
        """,
        "plan.yaml:6: tasks[0].timeout: must be more than 0 seconds, found -5",
    ),
    case(
        "timeout-as-a-word",
        """\
        default_agent: claude
        tasks:
          - id: api
            prompt: do it
            files: [a.py]
            timeout: soon
        """,
        "plan.yaml:6: tasks[0].timeout: expected a duration such as 600, '90s', '30m' "
        "or '1h30m', found the text 'soon'",
    ),
    case(
        "validate-as-a-string",
        """\
        default_agent: claude
        validate: pytest -q
        tasks:
          - id: api
            prompt: do it
            files: [a.py]
        """,
        "plan.yaml:2: validate: expected a list of commands, found the text 'pytest -q'; "
        "write it as a list item: - pytest -q",
    ),
    case(
        "validate-entries-of-wrong-type",
        """\
        default_agent: claude
        validate:
          - pytest -q
          - 42
          - [ruff, check, 7]
          - []
        tasks:
          - id: api
            prompt: do it
            files: [a.py]
        """,
        "plan.yaml:4: validate[1]: expected a command (a list of arguments, or a shell string), "
        "found the number 42",
        "plan.yaml:5: validate[2][2]: expected text, found the number 7",
        "plan.yaml:6: validate[3]: must not be empty",
    ),
    # task ids
    case(
        "duplicate-task-id",
        """\
        default_agent: claude
        tasks:
          - id: api
            prompt: do it
            files: [a.py]
          - id: api
            prompt: do more
            files: [b.py]
        """,
        "plan.yaml:6: tasks[1].id: duplicate task id 'api' (first used at line 3)",
    ),
    case(
        "id-with-capitals-and-space",
        """\
        default_agent: claude
        tasks:
          - id: API v2
            prompt: do it
            files: [a.py]
        """,
        "plan.yaml:3: tasks[0].id: 'API v2' is not a safe task id: use lower-case letters, "
        "digits, '.', '_' and '-', starting with a letter or digit",
    ),
    case(
        "id-with-double-dot",
        """\
        default_agent: claude
        tasks:
          - id: a..b
            prompt: do it
            files: [a.py]
        """,
        "plan.yaml:3: tasks[0].id: 'a..b' is not a safe task id: "
        "git branch names cannot contain '..' or end in '.' or '.lock'",
    ),
    case(
        "id-ending-in-lock",
        """\
        default_agent: claude
        tasks:
          - id: x.lock
            prompt: do it
            files: [a.py]
        """,
        "plan.yaml:3: tasks[0].id: 'x.lock' is not a safe task id: "
        "git branch names cannot contain '..' or end in '.' or '.lock'",
    ),
    case(
        "id-reserved",
        """\
        default_agent: claude
        tasks:
          - id: integration
            prompt: do it
            files: [a.py]
        """,
        "plan.yaml:3: tasks[0].id: 'integration' is not a safe task id: "
        "'integration' is reserved for the run's own branch",
    ),
    case(
        "id-as-a-number",
        """\
        default_agent: claude
        tasks:
          - id: 1
            prompt: do it
            files: [a.py]
        """,
        "plan.yaml:3: tasks[0].id: expected text, found the number 1; quote it ('1')",
    ),
    # dependencies
    case(
        "depends-on-unknown-task",
        """\
        default_agent: claude
        tasks:
          - id: api
            prompt: do it
            files: [api.py]
          - id: web
            prompt: do it
            files: [web.py]
            depends_on: [apii]
        """,
        "plan.yaml:9: tasks[1].depends_on: unknown task 'apii' (did you mean 'api'?)",
    ),
    case(
        "depends-on-itself",
        """\
        default_agent: claude
        tasks:
          - id: api
            prompt: do it
            files: [api.py]
            depends_on: [api]
        """,
        "plan.yaml:6: tasks[0].depends_on: task 'api' cannot depend on itself",
    ),
    case(
        "three-task-cycle",
        """\
        default_agent: claude
        tasks:
          - id: a
            prompt: do it
            files: [a.py]
            depends_on: [b]
          - id: b
            prompt: do it
            files: [b.py]
            depends_on: [c]
          - id: c
            prompt: do it
            files: [c.py]
            depends_on: [a]
        """,
        "plan.yaml:6: tasks[0].depends_on: dependency cycle: a -> b -> c -> a",
    ),
    # owned paths
    case(
        "absolute-path",
        """\
        default_agent: claude
        tasks:
          - id: api
            prompt: do it
            files: [/etc/passwd]
        """,
        "plan.yaml:5: tasks[0].files: '/etc/passwd' is an absolute path; "
        "give it relative to the repository root",
    ),
    case(
        "home-path",
        """\
        default_agent: claude
        tasks:
          - id: api
            prompt: do it
            files: [~/notes.md]
        """,
        "plan.yaml:5: tasks[0].files: '~/notes.md' is an absolute path; "
        "give it relative to the repository root",
    ),
    case(
        "dot-dot-path",
        """\
        default_agent: claude
        tasks:
          - id: api
            prompt: do it
            files: [../secrets.txt]
        """,
        "plan.yaml:5: tasks[0].files: '../secrets.txt' leaves the repository through '..'",
    ),
    case(
        "path-inside-dot-git",
        """\
        default_agent: claude
        tasks:
          - id: api
            prompt: do it
            files: [.git/config]
        """,
        "plan.yaml:5: tasks[0].files: '.git/config' is inside .git, "
        "which belongs to git, not to a task",
    ),
    case(
        "path-names-a-directory",
        """\
        default_agent: claude
        tasks:
          - id: api
            prompt: do it
            files: [src/]
        """,
        "plan.yaml:5: tasks[0].files: 'src/' names a directory; list the files the task owns",
    ),
    case(
        "file-owned-by-two-tasks",
        """\
        default_agent: claude
        tasks:
          - id: api
            prompt: do it
            files: [shared.py]
          - id: web
            prompt: do it
            files:
              - web.py
              - shared.py
        """,
        "plan.yaml:10: tasks[1].files: 'shared.py' is owned by both task 'api' (line 5) and "
        "task 'web' (line 10); a file belongs to one task, so merge the two tasks or give "
        "the file to one of them",
    ),
    case(
        "file-listed-twice-in-one-task",
        """\
        default_agent: claude
        tasks:
          - id: api
            prompt: do it
            files:
              - a.py
              - b.py
              - ./a.py
        """,
        "plan.yaml:8: tasks[0].files: './a.py' is listed twice (first at line 6)",
    ),
    # agents
    case(
        "unknown-task-agent",
        """\
        tasks:
          - id: api
            agent: cluade
            prompt: do it
            files: [a.py]
        """,
        "plan.yaml:3: tasks[0].agent: unknown agent profile 'cluade' (did you mean 'claude'?); "
        "defined: aider, claude, codex, gemini",
    ),
    case(
        "unknown-default-agent",
        """\
        default_agent: codx
        tasks:
          - id: api
            prompt: do it
            files: [a.py]
        """,
        "plan.yaml:1: default_agent: unknown agent profile 'codx' (did you mean 'codex'?); "
        "defined: aider, claude, codex, gemini",
    ),
    case(
        "no-agent-at-all",
        """\
        tasks:
          - id: api
            prompt: do it
            files: [a.py]
        """,
        "plan.yaml:2: tasks[0].agent: no agent: set 'agent' on the task or "
        "'default_agent' in the plan",
    ),
    case(
        "agent-command-as-a-string",
        """\
        agents:
          mine:
            command: "my-agent --prompt {prompt}"
        tasks:
          - id: api
            agent: claude
            prompt: do it
            files: [a.py]
        """,
        "plan.yaml:3: agents.mine.command: expected a list of arguments such as "
        "[my-agent, --prompt, '{prompt}'], found a single string; "
        "agents are never started through a shell",
    ),
    case(
        "unknown-placeholder",
        """\
        agents:
          mine:
            command: [my-agent, --prompt, "{promt}"]
        tasks:
          - id: api
            agent: claude
            prompt: do it
            files: [a.py]
        """,
        "plan.yaml:3: agents.mine.command[2]: unknown placeholder '{promt}' "
        "(did you mean 'prompt'?); known: {prompt}, {prompt_file}, {task_id}, {session_id}, "
        "{files} (write {{ and }} for literal braces)",
    ),
    case(
        "unknown-output-format",
        """\
        agents:
          mine:
            command: [my-agent, "{prompt}"]
            format: jsno
        tasks:
          - id: api
            agent: claude
            prompt: do it
            files: [a.py]
        """,
        "plan.yaml:4: agents.mine.format: unknown output format 'jsno'; "
        "known: text, claude-stream-json, codex-json, gemini-stream-json",
    ),
    case(
        "agents-as-a-list",
        """\
        agents: [claude]
        default_agent: claude
        tasks:
          - id: api
            prompt: do it
            files: [a.py]
        """,
        "plan.yaml:1: agents: expected a mapping of agent names to profiles, found a list",
    ),
]


@pytest.mark.parametrize(("plan", "problems"), BAD_PLANS)
def test_bad_plan_is_refused_with_exact_messages(
    outside_repo: Path, plan: str, problems: tuple[str, ...]
) -> None:
    (outside_repo / PLAN).write_text(plan, encoding="utf-8")
    assert_refused(check(outside_repo), problems)


def test_several_problems_are_all_reported_sorted_by_line(outside_repo: Path) -> None:
    write_plan(
        outside_repo,
        """\
        goal: several problems
        default_agent: claude
        max_parallel: 0
        tasks:
          - id: api
            prompt: build the api
            files: [src/api.py, ../secrets.txt]
            depends_on: [modles]
          - id: models
            prompt: build the models
            files: [src/api.py]
            timeout: soon
          - id: Web
            files: [web.py]
        """,
    )
    result = check(outside_repo)
    problems = [
        "plan.yaml:3: max_parallel: must be at least 1, found 0",
        "plan.yaml:7: tasks[0].files: '../secrets.txt' leaves the repository through '..'",
        "plan.yaml:8: tasks[0].depends_on: unknown task 'modles' (did you mean 'models'?)",
        "plan.yaml:11: tasks[1].files: 'src/api.py' is owned by both task 'api' (line 7) and "
        "task 'models' (line 11); a file belongs to one task, so merge the two tasks or give "
        "the file to one of them",
        "plan.yaml:12: tasks[1].timeout: expected a duration such as 600, '90s', '30m' "
        "or '1h30m', found the text 'soon'",
        "plan.yaml:13: tasks[2].id: 'Web' is not a safe task id: use lower-case letters, "
        "digits, '.', '_' and '-', starting with a letter or digit",
        "plan.yaml:13: tasks[2].prompt: required field missing",
    ]
    assert_refused(result, problems)
    assert result.stderr.splitlines()[-1] == "7 problems found; nothing was run."
    lines = [int(line.split(":")[1]) for line in result.stderr.splitlines()[:-1]]
    assert lines == sorted(lines)


# -- the plan file itself -------------------------------------------------------------------


def test_missing_plan_file(outside_repo: Path) -> None:
    assert_refused(check(outside_repo), ["plan.yaml: file not found"])


def test_plan_file_that_is_a_directory(outside_repo: Path) -> None:
    (outside_repo / PLAN).mkdir()
    assert_refused(check(outside_repo), ["plan.yaml: is a directory, not a file"])


def test_plan_file_with_invalid_utf8(outside_repo: Path) -> None:
    (outside_repo / PLAN).write_bytes(b"default_agent: claude\ngoal: caf\xe9\ntasks: []\n")
    assert_refused(
        check(outside_repo),
        ["plan.yaml:2: not UTF-8 text (byte 0xe9 in column 10); save the file as UTF-8"],
    )


# -- plans checked against a real repository ----------------------------------------------

GOOD_TASKS = """\
tasks:
  - id: api
    agent: claude
    prompt: do it
    files: [api.py]
"""


def test_base_branch_that_does_not_exist_suggests_a_close_one(repo: Path) -> None:
    write_plan(repo, "base: mian\n" + GOOD_TASKS)
    root = repo.resolve()
    assert_refused(
        check(repo),
        [f"plan.yaml:1: base: branch 'mian' does not exist in {root} (did you mean 'main'?)"],
    )


def test_base_branch_that_does_not_exist_via_repo_option(repo: Path, outside_repo: Path) -> None:
    write_plan(outside_repo, "base: release\n" + GOOD_TASKS)
    root = repo.resolve()
    assert_refused(
        check(outside_repo, "--repo", str(repo)),
        [f"plan.yaml:1: base: branch 'release' does not exist in {root}; its branches are main"],
    )


def test_detached_head_without_base(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach")
    write_plan(repo, GOOD_TASKS)
    root = repo.resolve()
    assert_refused(
        check(repo),
        [
            f"plan.yaml:1: base: not set, and {root} has no branch checked out "
            "(detached HEAD); set base to the branch to build on"
        ],
    )


def test_path_escaping_the_repo_through_a_symlink(repo: Path, outside_repo: Path) -> None:
    (repo / "vendor").symlink_to(outside_repo, target_is_directory=True)
    write_plan(
        repo,
        """\
        default_agent: claude
        tasks:
          - id: api
            prompt: do it
            files: [vendor/lib.py]
        """,
    )
    assert_refused(
        check(repo),
        [
            "plan.yaml:5: tasks[0].files: 'vendor/lib.py' leaves the repository through "
            f"the symlink 'vendor' -> {outside_repo.resolve()}"
        ],
    )


def test_path_into_dot_git_through_a_symlink(repo: Path) -> None:
    (repo / "meta").symlink_to(repo / ".git", target_is_directory=True)
    write_plan(
        repo,
        """\
        default_agent: claude
        tasks:
          - id: api
            prompt: do it
            files: [meta/config]
        """,
    )
    assert_refused(
        check(repo),
        ["plan.yaml:5: tasks[0].files: 'meta/config' leads into .git through the symlink 'meta'"],
    )


def test_path_that_is_a_directory_in_the_repo(repo: Path) -> None:
    (repo / "src").mkdir()
    write_plan(
        repo,
        """\
        default_agent: claude
        tasks:
          - id: api
            prompt: do it
            files: [src]
        """,
    )
    assert_refused(
        check(repo),
        [
            "plan.yaml:5: tasks[0].files: 'src' is a directory in the repository; "
            "list the files the task owns"
        ],
    )


def test_repo_option_pointing_at_a_plain_directory(outside_repo: Path) -> None:
    write_plan(outside_repo, GOOD_TASKS)
    assert_refused(
        check(outside_repo, "--repo", str(outside_repo)),
        [f"--repo: {outside_repo} is not inside a git repository"],
    )


def test_repo_option_pointing_nowhere(outside_repo: Path) -> None:
    write_plan(outside_repo, GOOD_TASKS)
    missing = outside_repo / "nowhere"
    assert_refused(
        check(outside_repo, "--repo", str(missing)),
        [f"--repo: {missing} does not exist"],
    )


def test_bad_repo_config_is_named_with_its_line(repo: Path) -> None:
    (repo / ".tui-orch.yaml").write_text("default_agent: claud\n", encoding="utf-8")
    write_plan(repo, GOOD_TASKS)
    result = check(repo)
    config = repo.resolve() / ".tui-orch.yaml"
    assert_refused(
        result,
        [
            f"{config}:1: default_agent: unknown agent profile 'claud' (did you mean 'claude'?); "
            "defined: aider, claude, codex, gemini"
        ],
    )


def test_bad_repo_config_yaml_syntax(repo: Path) -> None:
    (repo / ".tui-orch.yaml").write_text("agents: [\n", encoding="utf-8")
    write_plan(repo, GOOD_TASKS)
    result = check(repo)
    config = repo.resolve() / ".tui-orch.yaml"
    assert_refused(
        result,
        [
            f"{config}:2: YAML syntax error: the file ends too early; "
            "look for an unclosed '[', '{' or quote"
        ],
    )


# -- --json -------------------------------------------------------------------------------


def test_json_on_a_bad_plan(outside_repo: Path) -> None:
    write_plan(
        outside_repo,
        """\
        default_agent: claude
        max_parallel: four
        tasks:
          - id: api
            prompt: do it
            files: [/abs.py]
        """,
    )
    result = check(outside_repo, "--json")
    assert result.code == 2
    assert "Traceback" not in result.stderr
    assert json.loads(result.stdout) == {
        "ok": False,
        "errors": [
            {
                "file": "plan.yaml",
                "line": 2,
                "field": "max_parallel",
                "message": "expected a whole number, found the text 'four'",
            },
            {
                "file": "plan.yaml",
                "line": 6,
                "field": "tasks[0].files",
                "message": "'/abs.py' is an absolute path; give it relative to the repository root",
            },
        ],
    }


def test_json_on_a_missing_plan_file(outside_repo: Path) -> None:
    result = check(outside_repo, "--json")
    assert result.code == 2
    assert json.loads(result.stdout) == {
        "ok": False,
        "errors": [{"file": "plan.yaml", "line": 0, "field": "", "message": "file not found"}],
    }


# -- bugs found in review, now fixed: each keeps a test ------------------------------------


def test_repo_config_problem_is_reported_once(repo: Path) -> None:
    (repo / ".tui-orch.yaml").write_text("default_agent: claud\n", encoding="utf-8")
    write_plan(repo, GOOD_TASKS)
    config = repo.resolve() / ".tui-orch.yaml"
    assert_refused(
        check(repo),
        [
            f"{config}:1: default_agent: unknown agent profile 'claud' (did you mean 'claude'?); "
            "defined: aider, claude, codex, gemini"
        ],
    )


def test_valid_default_agent_in_repo_config_survives_a_sibling_problem(repo: Path) -> None:
    (repo / ".tui-orch.yaml").write_text("default_agent: claude\nagnets: {}\n", "utf-8")
    write_plan(
        repo,
        """\
        tasks:
          - id: api
            prompt: do it
            files: [api.py]
        """,
    )
    config = repo.resolve() / ".tui-orch.yaml"
    assert_refused(
        check(repo),
        [
            f"{config}:2: agnets: unknown field (did you mean 'agents'?); "
            "allowed: agents, confirm_stop, default_agent, theme, worktree_root"
        ],
    )


def test_task_using_a_broken_profile_gets_no_second_problem(outside_repo: Path) -> None:
    write_plan(
        outside_repo,
        """\
        agents:
          mine:
            command: [my-agent, "{prompt}"]
            format: jsno
        tasks:
          - id: api
            agent: mine
            prompt: do it
            files: [a.py]
        """,
    )
    assert_refused(
        check(outside_repo),
        [
            "plan.yaml:4: agents.mine.format: unknown output format 'jsno'; "
            "known: text, claude-stream-json, codex-json, gemini-stream-json"
        ],
    )


@pytest.mark.parametrize("value", [".nan", ".inf"])
def test_timeout_must_be_a_finite_number(outside_repo: Path, value: str) -> None:
    write_plan(
        outside_repo,
        f"""\
        default_agent: claude
        tasks:
          - id: api
            prompt: do it
            files: [a.py]
            timeout: {value}
        """,
    )
    assert_refused(
        check(outside_repo),
        [f"plan.yaml:6: tasks[0].timeout: must be a finite number of seconds, found {value[1:]}"],
    )


def test_unterminated_quote_points_at_its_line(outside_repo: Path) -> None:
    write_plan(
        outside_repo,
        """\
        default_agent: claude
        tasks:
          - id: api
            prompt: "fix the bug
            files: [a.py]
        """,
    )
    assert_refused(
        check(outside_repo),
        [
            "plan.yaml:4: YAML syntax error: "
            "the quoted text that starts on this line is never closed"
        ],
    )


def test_merge_key_can_be_overridden(outside_repo: Path) -> None:
    write_plan(
        outside_repo,
        """\
        default_agent: claude
        tasks:
          - &base
            id: models
            prompt: do it
            files: [models.py]
          - <<: *base
            id: api
            files: [api.py]
        """,
    )
    result = run_cli("check", PLAN, "--json", cwd=outside_repo)
    assert result.code == 0, result.stderr
    tasks = [t for batch in json.loads(result.stdout)["batches"] for t in batch["tasks"]]
    assert [(t["id"], t["files"]) for t in tasks] == [
        ("models", ["models.py"]),
        ("api", ["api.py"]),
    ]


def test_unknown_yaml_tag_is_one_line(outside_repo: Path) -> None:
    write_plan(
        outside_repo,
        """\
        default_agent: !!python/object:os.system x
        tasks:
          - id: api
            prompt: do it
            files: [a.py]
        """,
    )
    assert_refused(
        check(outside_repo),
        [
            "plan.yaml:1: default_agent: unknown YAML tag '!!python/object:os.system'; "
            "remove the tag",
            "plan.yaml:1: default_agent: unknown agent profile 'x'; "
            "defined: aider, claude, codex, gemini",
        ],
    )


def test_complex_key_is_not_shown_as_a_node_repr(outside_repo: Path) -> None:
    write_plan(
        outside_repo,
        """\
        default_agent: claude
        ? [a, b]
        : x
        tasks:
          - id: api
            prompt: do it
            files: [a.py]
        """,
    )
    assert_refused(
        check(outside_repo), ["plan.yaml:2: (top level): keys must be plain names, found a list"]
    )
