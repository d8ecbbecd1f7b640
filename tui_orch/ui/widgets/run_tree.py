"""The run as a tree: batches, then their tasks with a state icon and elapsed time."""

from __future__ import annotations

from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from tui_orch.ui.text_utils import elapsed_text, minutes_text
from tui_orch.ui.widgets.agent_pane import STATE_ICONS, state_word


class RunTree(Tree[str]):
    """Batches -> tasks; a task's label shows icon, id, state word and elapsed time
    (in whole minutes while it runs)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("run", id=id)
        self.show_root = False
        self._task_nodes: dict[str, TreeNode[str]] = {}
        self._batch_nodes: list[TreeNode[str]] = []
        self._labels: dict[str, str] = {}

    def set_batches(self, batches: list[list[str]]) -> None:
        self.clear()
        self._task_nodes.clear()
        self._batch_nodes.clear()
        for number, task_ids in enumerate(batches, start=1):
            node = self.root.add(f"batch {number}", data=f"batch-{number}", expand=True)
            self._batch_nodes.append(node)
            for task_id in task_ids:
                self._task_nodes[task_id] = node.add_leaf(task_id, data=task_id)

    def show_task(self, task_id: str, state: str, elapsed: float | None) -> None:
        node = self._task_nodes.get(task_id)
        if node is None:
            return
        icon = STATE_ICONS.get(state, "?")
        # A running task's time moves here a minute at a time (its pane has the seconds):
        # the whole tree is drawn again for any label that changes.
        time = minutes_text(elapsed) if state == "running" else elapsed_text(elapsed)
        label = f"{icon} {task_id}  {state_word(state)}  {time}".rstrip()
        if self._labels.get(task_id) != label:
            self._labels[task_id] = label
            node.set_label(label)

    def show_batch(self, number: int, mark: str) -> None:
        """``mark``: "running", "done", "left-out" (every task of it), or "" (to come)."""
        if 1 <= number <= len(self._batch_nodes):
            icon = {"running": "▶ ", "done": "✔ ", "left-out": "⊘ "}.get(mark, "")
            self._batch_nodes[number - 1].set_label(f"{icon}batch {number}")
