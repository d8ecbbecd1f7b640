"""`check`: everything a run would find wrong with a plan, without running anything."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tui_orch.engine.plans.batches import Batch
from tui_orch.engine.plans.plan import Plan, load_plan
from tui_orch.engine.plans.problems import InputError, Problem
from tui_orch.engine.plans.triage import Triage, triage_plan
from tui_orch.engine.repository.repo import NotARepository, RepoInfo, enclosing_repo, read_repo


@dataclass(frozen=True)
class CheckReport:
    """A checked plan, its batches and its triage; repo is None when none was checked."""

    plan: Plan
    batches: list[Batch]
    triage: Triage
    repo: RepoInfo | None

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": True,
            "plan": self.plan.source,
            "goal": self.plan.goal,
            "repo": str(self.repo.root) if self.repo else None,
            "base": self.plan.base,
            "max_parallel": self.plan.max_parallel,
            "mode": str(self.triage.mode),
            "file_count": self.triage.file_count,
            "warnings": list(self.triage.warnings),
            "batches": [
                {
                    "number": batch.number,
                    "tasks": [self.plan.task(task_id).to_dict() for task_id in batch.task_ids],
                }
                for batch in self.batches
            ],
            "validate": [command.display for command in self.plan.validate],
            "agents": {
                name: self.plan.agents[name].to_dict()
                for name in sorted({task.agent for task in self.plan.tasks})
            },
        }


def find_repo(repo_dir: Path | None) -> RepoInfo | None:
    """The repo to check against: the one given, else the one around the cwd, if any."""
    if repo_dir is None:
        around = enclosing_repo(Path.cwd())
        return read_repo(around) if around else None
    try:
        return read_repo(repo_dir)
    except NotARepository as error:
        raise InputError([Problem("--repo", 0, "", str(error))]) from None


def check_plan(
    plan_path: Path, repo_dir: Path | None = None, label: str | None = None
) -> CheckReport:
    """Load, check and batch a plan; raise InputError listing every problem."""
    label = label or str(plan_path)
    repo = find_repo(repo_dir)
    plan = load_plan(plan_path, repo, label)
    batches = plan.batches()
    triage = triage_plan([task.files for task in plan.tasks], [len(b.task_ids) for b in batches])
    return CheckReport(plan, batches, triage, repo)
