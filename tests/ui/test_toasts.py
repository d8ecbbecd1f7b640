"""Toasts: one per kind at a time, the rest counted and said once, in short."""

from __future__ import annotations

from typing import Any

from tui_orch.ui.toasts import WINDOW_SECONDS, Toasts, first_clause


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_of_one_kind_is_one_toast_then_one_count() -> None:
    shown: list[tuple[str, dict[str, Any]]] = []
    clock = Clock()
    toasts = Toasts(lambda text, **options: shown.append((text, options)), clock)

    for n in range(7):
        toasts.show("conflicts", f"conflict {n}", severity="warning", more="see the panel")
    toasts.show("failed tasks", "b: exited 1", severity="error")
    toasts.flush()  # the window is not over: nothing more yet
    assert [text for text, _ in shown] == ["conflict 0", "b: exited 1"]

    clock.now += WINDOW_SECONDS
    toasts.flush()
    assert shown[-1][0] == "6 more conflicts: see the panel"
    toasts.flush()
    assert len(shown) == 3  # said once
    clock.now += WINDOW_SECONDS
    toasts.show("conflicts", "a new one")
    assert shown[-1][0] == "a new one"


def test_a_long_message_is_cut_to_its_first_clause() -> None:
    message = "run 1 failed: task 'a' conflicts in x.py; resolve it in /some/long/path, then resume"
    assert first_clause(message) == "run 1 failed: task 'a' conflicts in x.py"
    assert len(first_clause("x" * 300)) == 100
