"""Order tasks into batches: dependencies in order, independent tasks side by side.

Pure functions over task ids; no git, no I/O, so they are easy to property-test.
Batches are the topological layers of ``depends_on`` (a task's layer is one more
than the deepest of its dependencies), each split into chunks of ``max_parallel``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Batch:
    """Tasks that may run at the same time; ``number`` counts from 1."""

    number: int
    task_ids: tuple[str, ...]


class CycleError(ValueError):
    """The dependencies loop; ``cycles`` lists each loop as ids, first id repeated at the end."""

    def __init__(self, cycles: list[list[str]]) -> None:
        self.cycles = cycles
        super().__init__("; ".join(" -> ".join(cycle) for cycle in cycles))


def find_cycles(order: Sequence[str], depends_on: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Return one cycle per strongly connected loop, each as [a, b, ..., a].

    ``order`` fixes the output order (plan order) so messages are stable. Self-loops
    count as cycles; dependencies on unknown ids are ignored here.
    """
    known = set(order)
    edges = {task: [d for d in depends_on.get(task, ()) if d in known] for task in order}
    cycles: list[list[str]] = []
    for component in _strongly_connected(order, edges):
        members = set(component)
        start = min(component, key=order.index)
        if len(component) == 1 and start not in edges[start]:
            continue
        cycles.append(_cycle_through(start, edges, members))
    cycles.sort(key=lambda cycle: order.index(cycle[0]))
    return cycles


def dependents(depends_on: Mapping[str, Sequence[str]], roots: set[str]) -> set[str]:
    """Every task that needs one of roots, directly or through other tasks (roots not
    included): what is left out with them when they are skipped."""
    found: set[str] = set()
    frontier = set(roots)
    while frontier:
        frontier = {
            task_id
            for task_id, needs in depends_on.items()
            if task_id not in found and frontier.intersection(needs)
        }
        found |= frontier
    return found - roots


def plan_batches(
    order: Sequence[str], depends_on: Mapping[str, Sequence[str]], max_parallel: int
) -> list[Batch]:
    """Split tasks into batches; raises CycleError if the dependencies loop."""
    if max_parallel < 1:
        raise ValueError("max_parallel must be at least 1")
    cycles = find_cycles(order, depends_on)
    if cycles:
        raise CycleError(cycles)
    known = set(order)
    layer: dict[str, int] = {}

    def layer_of(task: str) -> int:
        # Iterative depth-first walk: plans can be long chains, recursion could overflow.
        stack = [task]
        while stack:
            current = stack[-1]
            pending = [d for d in depends_on.get(current, ()) if d in known and d not in layer]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            deps = [layer[d] for d in depends_on.get(current, ()) if d in known]
            layer[current] = 1 + max(deps, default=-1)
        return layer[task]

    layers: dict[int, list[str]] = {}
    for task in order:
        layers.setdefault(layer_of(task), []).append(task)
    batches: list[Batch] = []
    for depth in sorted(layers):
        tasks = layers[depth]
        for start in range(0, len(tasks), max_parallel):
            batches.append(Batch(len(batches) + 1, tuple(tasks[start : start + max_parallel])))
    return batches


def _strongly_connected(order: Sequence[str], edges: Mapping[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative so deep graphs do not hit the recursion limit."""
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in order:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, child_index = work.pop()
            if child_index == 0:
                index[node] = lowlink[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            children = edges[node]
            if child_index < len(children):
                work.append((node, child_index + 1))
                child = children[child_index]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    lowlink[node] = min(lowlink[node], index[child])
                continue
            if lowlink[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
            if work:
                parent = work[-1][0]
                lowlink[parent] = min(lowlink[parent], lowlink[node])
    return components


def _cycle_through(start: str, edges: Mapping[str, list[str]], members: set[str]) -> list[str]:
    """A shortest path from start back to itself inside one strongly connected component."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        next_frontier = []
        for node in frontier:
            for child in edges[node]:
                if child not in members:
                    continue
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if child not in previous:
                    previous[child] = node
                    next_frontier.append(child)
        frontier = next_frontier
    raise AssertionError("a strongly connected component always has a cycle")
