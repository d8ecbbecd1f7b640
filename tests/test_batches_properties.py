"""Property tests of batch analysis on random task graphs (hypothesis)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui_orch.engine.plans.batches import CycleError, find_cycles, plan_batches


@st.composite
def acyclic_graphs(draw: st.DrawFn) -> tuple[list[str], dict[str, list[str]]]:
    """Random DAGs: a task may only depend on tasks created before it; order then shuffled."""
    count = draw(st.integers(min_value=1, max_value=30))
    ids = [f"t{i}" for i in range(count)]
    deps = {
        task: draw(st.lists(st.sampled_from(ids[:i]), unique=True, max_size=4)) if i else []
        for i, task in enumerate(ids)
    }
    order = draw(st.permutations(ids))
    return list(order), deps


@st.composite
def graphs_with_a_cycle(draw: st.DrawFn) -> tuple[list[str], dict[str, list[str]]]:
    """A random DAG with a loop forced through some of its tasks."""
    order, deps = draw(acyclic_graphs())
    loop = draw(st.lists(st.sampled_from(order), min_size=1, max_size=6, unique=True))
    for current, following in zip(loop, [*loop[1:], loop[0]], strict=True):
        if following not in deps[current]:
            deps[current] = [*deps[current], following]
    return order, deps


def has_cycle_brute_force(order: list[str], deps: dict[str, list[str]]) -> bool:
    """Repeatedly remove tasks with no remaining dependencies; a cycle is what is left."""
    remaining = {task: set(deps[task]) for task in order}
    while True:
        free = [task for task, left in remaining.items() if not left]
        if not free:
            return bool(remaining)
        for task in free:
            del remaining[task]
        for left in remaining.values():
            left.difference_update(free)


@settings(max_examples=300, deadline=None)
@given(acyclic_graphs(), st.integers(min_value=1, max_value=6))
def test_every_task_lands_in_exactly_one_batch(graph, max_parallel) -> None:
    order, deps = graph
    batches = plan_batches(order, deps, max_parallel)
    placed = [task for batch in batches for task in batch.task_ids]
    assert sorted(placed) == sorted(order)
    assert len(placed) == len(set(placed))


@settings(max_examples=300, deadline=None)
@given(acyclic_graphs(), st.integers(min_value=1, max_value=6))
def test_a_task_always_comes_after_everything_it_depends_on(graph, max_parallel) -> None:
    order, deps = graph
    batch_of = {
        task: batch.number
        for batch in plan_batches(order, deps, max_parallel)
        for task in batch.task_ids
    }
    for task, needs in deps.items():
        for dependency in needs:
            assert batch_of[dependency] < batch_of[task], (task, dependency)


@settings(max_examples=300, deadline=None)
@given(acyclic_graphs(), st.integers(min_value=1, max_value=6))
def test_no_batch_exceeds_max_parallel_and_numbers_count_up(graph, max_parallel) -> None:
    order, deps = graph
    batches = plan_batches(order, deps, max_parallel)
    assert all(1 <= len(batch.task_ids) <= max_parallel for batch in batches)
    assert [batch.number for batch in batches] == list(range(1, len(batches) + 1))


@settings(max_examples=300, deadline=None)
@given(acyclic_graphs())
def test_independent_tasks_share_a_batch_when_room_allows(graph) -> None:
    """With unlimited parallelism, batches are exactly the dependency depths."""
    order, deps = graph
    batches = plan_batches(order, deps, max_parallel=len(order))
    depth: dict[str, int] = {}
    for batch in batches:
        for task in batch.task_ids:
            depth[task] = batch.number
    for task in order:
        expected = 1 + max((depth[d] for d in deps[task]), default=0)
        assert depth[task] == expected


@settings(max_examples=300, deadline=None)
@given(graphs_with_a_cycle())
def test_cycles_are_always_reported_and_each_is_a_real_loop(graph) -> None:
    order, deps = graph
    assert has_cycle_brute_force(order, deps)
    cycles = find_cycles(order, deps)
    assert cycles
    for cycle in cycles:
        assert cycle[0] == cycle[-1]
        for current, following in itertools.pairwise(cycle):
            assert following in deps[current]
    with pytest.raises(CycleError):
        plan_batches(order, deps, 4)


@settings(max_examples=300, deadline=None)
@given(acyclic_graphs())
def test_acyclic_graphs_report_no_cycle(graph) -> None:
    order, deps = graph
    assert not has_cycle_brute_force(order, deps)
    assert find_cycles(order, deps) == []


def test_a_long_chain_does_not_hit_the_recursion_limit() -> None:
    ids = [f"t{i}" for i in range(5000)]
    deps = {task: [ids[i - 1]] if i else [] for i, task in enumerate(ids)}
    batches = plan_batches(ids, deps, 4)
    assert len(batches) == 5000
    deps["t0"] = ["t4999"]
    assert len(find_cycles(ids, deps)[0]) == 5001


def test_a_wide_layer_is_split_in_plan_order() -> None:
    order = ["a", "b", "c", "d", "e", "f"]
    batches = plan_batches(order, {"f": ["a"]}, max_parallel=2)
    assert [b.task_ids for b in batches] == [("a", "b"), ("c", "d"), ("e",), ("f",)]
