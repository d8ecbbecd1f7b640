"""Plain text agents (aider, any command): every line shown as it is."""

from __future__ import annotations

from tui_orch.engine.agents.adapters.report import Report


class TextAdapter:
    """Shows each line unchanged; a text agent says nothing of its own state."""

    passthrough = True  # its lines may be shown without reading them one by one

    def __init__(self, cwd: str = "") -> None:
        """``cwd`` is not needed: a text line is shown as it is."""

    def read(self, raw: str) -> Report:
        return Report([raw])
