"""One line of run facts at the bottom of the dashboard."""

from __future__ import annotations

from dataclasses import dataclass

from textual.widgets import Static

from tui_orch.tables import plural


@dataclass
class RunFacts:
    run_id: str = ""
    batch: int = 0
    batches: int = 0
    running: int = 0
    pending_approvals: int = 0
    phase: str = "starting"
    conflicts: int = 0
    usage: str = ""  # the run's tokens and reported cost so far ('' when none reported)


class StatusBar(Static):
    """Run id, batch k/n, agents running, approvals pending, conflicts, phase."""

    _shown = ""

    def show(self, facts: RunFacts) -> None:
        # Most needed first: a narrow terminal cuts the end (the run id), not the news.
        parts = [
            f"batch {facts.batch}/{facts.batches}",
            f"{facts.running} running",
            # What waits, and the key that opens it: approvals never pop up over other work.
            "approval waiting: press a" if facts.pending_approvals else "no approval pending",
        ]
        if facts.conflicts:
            parts.append(f"⚠ {plural(facts.conflicts, 'conflict')}")
        if facts.usage:
            parts.append(facts.usage)
        parts.append(facts.phase)
        parts.append(f"run {facts.run_id or '-'}")
        text = " │ ".join(parts)
        if text != self._shown:
            self._shown = text
            self.update(text, layout=False)  # one line, fixed size: no relayout
