"""Graph analysis for validation: reachability and strongly connected components."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["longest_path_steps", "reachable_from", "reaching", "strongly_connected_components"]


def reachable_from(start: str, successors: Mapping[str, Iterable[str]]) -> set[str]:
    """Every vertex reachable from ``start`` (including it)."""
    seen = {start}
    stack = [start]
    while stack:
        for nxt in successors.get(stack.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def reaching(goal: str, successors: Mapping[str, Iterable[str]]) -> set[str]:
    """Every vertex from which ``goal`` is reachable (including it)."""
    predecessors: dict[str, set[str]] = {}
    for source, targets in successors.items():
        for target in targets:
            predecessors.setdefault(target, set()).add(source)
    return reachable_from(goal, predecessors)


def strongly_connected_components(
    vertices: list[str], successors: Mapping[str, Iterable[str]]
) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components keep the order of ``vertices`` inside."""
    order = {v: i for i, v in enumerate(vertices)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in vertices:
        if root in index:
            continue
        work = [(root, iter([n for n in successors.get(root, ()) if n in order]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            vertex, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter([n for n in successors.get(child, ()) if n in order])))
                    advanced = True
                    break
                if child in on_stack:
                    low[vertex] = min(low[vertex], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[vertex])
            if low[vertex] == index[vertex]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == vertex:
                        break
                components.append(sorted(component, key=order.__getitem__))
    return components


def longest_path_steps(
    start: str, goal: str, vertices: list[str], successors: Mapping[str, Iterable[str]]
) -> tuple[int, list[str]]:
    """The most vertices any ``start`` → ``goal`` path passes (endpoints excluded), and one such path.

    A cycle counts as one pass through its vertices in the order found, so the answer is what a
    run needs at least when it takes that branch; looping longer is decided at run time.
    """
    components = strongly_connected_components(vertices, successors)
    component_of = {v: i for i, members in enumerate(components) for v in members}
    # Tarjan emits a component after every component reachable from it, so one pass in emission
    # order sees each successor's best length first. None: the goal is not reachable from it.
    best: list[int | None] = [None] * len(components)
    via: list[int | None] = [None] * len(components)
    for index, members in enumerate(components):
        longest = -1
        for vertex in members:
            for nxt in successors.get(vertex, ()):
                if nxt == goal:
                    longest = max(longest, 0)
                    continue
                target = component_of.get(nxt)
                length = best[target] if target is not None and target != index else None
                if length is not None and length > longest:
                    longest, via[index] = length, target
        best[index] = longest + len(members) if longest >= 0 else None
    first: int | None = None
    for nxt in successors.get(start, ()):
        target = component_of.get(nxt)
        length = best[target] if target is not None else None
        if length is not None and (first is None or length > (best[first] or 0)):
            first = target
    if first is None:
        return 0, []
    path: list[str] = []
    current: int | None = first
    while current is not None:
        path.extend(components[current])
        current = via[current]
    return best[first] or 0, path
