"""What to do about each kind of conflict: warn, or block the task's merge until approved."""

from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("unowned_edit", "overlap", "predicted", "interfaces")
POLICIES = ("warn", "block")
DEFAULT_POLICY: dict[str, str] = {
    "unowned_edit": "block",
    "overlap": "block",
    "predicted": "warn",
    "interfaces": "block",
}
DEFAULT_INTERVAL = 2.0


@dataclass(frozen=True)
class ConflictPolicy:
    """The plan's ``conflicts:`` mapping, with defaults for what it leaves out."""

    actions: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_POLICY))
    interval: float = DEFAULT_INTERVAL

    def action(self, kind: str) -> str:
        return self.actions.get(kind, DEFAULT_POLICY[kind])
