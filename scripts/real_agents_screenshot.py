"""Regenerate screenshots/real-agents.svg: the real Claude Code, Codex and Gemini CLIs,
one task each, in the app, against the scripted model server of the tests.

    make real-agents && .venv/bin/python scripts/real_agents_screenshot.py

Nothing leaves the machine: each CLI talks to tests/scripted_model_server.py on
127.0.0.1, which answers with the tool calls that write the task's files. The screenshot
is the dashboard once all three agents are done, behind the merge question (escape).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.real_agents import REAL_AGENTS  # noqa: E402
from tests.scripted_model_server import ScriptedModelServer  # noqa: E402
from tui_orch.engine.plans.profiles import builtin_profiles  # noqa: E402
from tui_orch.engine.run.orchestrator import RunOptions  # noqa: E402
from tui_orch.launch_spec import Launch  # noqa: E402
from tui_orch.ui.app import OrchApp  # noqa: E402

SIZE = (150, 34)
TASKS = {  # task -> (agent, files)
    "api": ("claude", ["src/api/routes.py", "src/api/schemas.py"]),
    "service": ("codex", ["src/service/accounts.py"]),
    "docs": ("gemini", ["docs/accounts.md"]),
}


def make_repo(path: Path) -> None:
    path.mkdir()
    (path / "README.md").write_text("# shop\n", encoding="utf-8")
    for command in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "add", "."],
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init"],
    ):
        subprocess.run(command, cwd=path, check=True)


def write_plan(path: Path, work: Path, server: ScriptedModelServer) -> Path:
    agents = {}
    for name in {agent for agent, _ in TASKS.values()}:
        real = REAL_AGENTS[name]
        cli = real.find()
        profile = builtin_profiles()[name]
        agents[name] = {
            "command": [str(cli), *profile.command[1:]],
            "resume": [str(cli), *profile.resume[1:]],
            "format": profile.format,
            "env": real.configure(work / f"home-{name}", server),
        }
    plan = {
        "goal": "User accounts across the API, the service layer and the docs",
        "base": "main",
        "agents": agents,
        "tasks": [
            {"id": task, "agent": agent, "prompt": f"Build the {task} part.", "files": files}
            for task, (agent, files) in TASKS.items()
        ],
    }
    path.write_text(yaml.safe_dump(plan, sort_keys=False), encoding="utf-8")
    return path


async def take(out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="tui-orch-real-") as temporary:
        work = Path(temporary)
        os.environ["XDG_DATA_HOME"] = str(work / "data")
        make_repo(work / "shop")
        with ScriptedModelServer() as server:
            plan = write_plan(work / "plan.yaml", work, server)
            options = RunOptions(run_id="20270115-080000-real", poll_interval=0.05)
            app = OrchApp(Launch(plan=plan, repo=work / "shop", options=options))
            async with app.run_test(size=SIZE) as pilot:
                for _ in range(1200):
                    name = type(app.screen).__name__
                    if name == "PlanScreen" and getattr(app.screen, "report", None):
                        await pilot.press("a")
                    if name == "MergeApprovalScreen":
                        break
                    await pilot.pause(0.05)
                else:
                    raise TimeoutError("the agents did not finish")
                await pilot.press("escape")  # back to the panes
                await pilot.pause(1.0)
                app.save_screenshot(out.name, str(out.parent))
                await pilot.press("q")
                await pilot.pause(0.3)
                if type(app.screen).__name__ == "QuitModal":
                    await pilot.press("d")
    print(out.relative_to(ROOT))


if __name__ == "__main__":
    asyncio.run(take(ROOT / "screenshots" / "real-agents.svg"))
