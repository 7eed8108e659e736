"""Validate only what a load can affect, and the load gate that runs it before every commit.

Soundness: a result of a Core shape about focus node F depends only on triples reachable from F by the
shape's paths (forward or inverse, through nested ``sh:node``/``sh:property``/``sh:qualifiedValueShape``/logical
members), plus F's class membership. So a change to triple (s, p, o) can only alter results of focus nodes
within ``depth`` hops of s or o in the undirected graph, where ``depth`` is the longest chain of path steps in
the shape tree. New or removed ``rdf:type`` triples put their subject into the changed set, which covers
class targets whose membership changed. Shapes whose reach is unbounded (``*``/``+`` paths, recursion) or not
analysable (SPARQL constraints) are re-validated in full. The property test checks incremental == full.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal
from rdflib.term import Node

from threadline.errors import IngestError
from threadline.shacl.compiler import items
from threadline.shacl.engine import NativeEngine, target_shapes
from threadline.shacl.model import SH, Outcome, Result, to_rdflib
from threadline.shacl.shapes import Shapes
from threadline.store import Store

if TYPE_CHECKING:
    from threadline.ingest.provenance import Activity

UNBOUNDED = 10**6


def reach(graph: Graph, shape: Node, stack: tuple[Node, ...] = ()) -> int:
    """Longest number of path steps a result of ``shape`` can look through (UNBOUNDED if unknown)."""
    if shape in stack or (shape, SH.sparql, None) in graph:
        return UNBOUNDED
    own = _path_len(graph, graph.value(shape, SH.path)) if graph.value(shape, SH.path) is not None else 0
    extra = 1 if any((shape, p, None) in graph for p in (SH.equals, SH.disjoint, SH.lessThan,
                                                          SH.lessThanOrEquals, SH.closed)) else 0
    if (shape, SH["class"], None) in graph or (shape, SH.hasValue, None) in graph:
        extra = max(extra, 1)
    nested = 0
    for child in _children(graph, shape):
        nested = max(nested, reach(graph, child, (*stack, shape)))
    return min(UNBOUNDED, own + max(extra, nested))


def _children(graph: Graph, shape: Node) -> list[Node]:
    out: list[Node] = []
    for p in (SH.node, SH["not"], SH.qualifiedValueShape, SH.property):
        out += list(graph.objects(shape, p))
    for p in (SH["and"], SH["or"], SH.xone):
        for members in graph.objects(shape, p):
            out += items(graph, members)
    return out


def _path_len(graph: Graph, path: Node) -> int:
    if not isinstance(path, BNode):
        return 1
    if graph.value(path, SH.zeroOrMorePath) is not None or graph.value(path, SH.oneOrMorePath) is not None:
        return UNBOUNDED
    seq = items(graph, path) if (path, None, None) in graph and graph.value(path, SH.inversePath) is None \
        and graph.value(path, SH.alternativePath) is None and graph.value(path, SH.zeroOrOnePath) is None else []
    if seq:
        return sum(_path_len(graph, m) for m in seq)
    for p in (SH.inversePath, SH.zeroOrOnePath):
        inner = graph.value(path, p)
        if inner is not None:
            return _path_len(graph, inner)
    alternatives = graph.value(path, SH.alternativePath)
    if alternatives is not None:
        return max(_path_len(graph, m) for m in items(graph, alternatives))
    return 1


def neighbourhood(store: Store, seeds: set[Node], depth: int) -> set[Node]:
    """Nodes within ``depth`` undirected hops of ``seeds`` (IRIs and literals; blank nodes stop the walk)."""
    seen = {s for s in seeds if not isinstance(s, BNode)}
    frontier = set(seen)
    for _ in range(depth):
        named = [n for n in frontier if not isinstance(n, Literal | BNode)]
        if not named:
            break
        found: set[Node] = set()
        for start in range(0, len(named), 2000):
            chunk = " ".join(f"<{n}>" for n in named[start:start + 2000])
            rows = store.select(f"SELECT DISTINCT ?n WHERE {{ VALUES ?x {{ {chunk} }} {{ ?x ?p ?n }} UNION "
                                f"{{ ?n ?p ?x }} FILTER(!isBlank(?n)) }}").rows
            found.update(to_rdflib(r[0]) for r in rows)  # type: ignore[misc]
        frontier = found - seen
        seen |= frontier
    return seen


def validate_changes(store: Store, shapes: Shapes, changed: set[Node]) -> Outcome:
    """Results for every focus node the changed nodes can affect (equal to a full run's on those nodes)."""
    graph = shapes.graph
    restrict: dict[Node, list[Node]] = {}
    full: list[Node] = []
    by_depth: dict[int, set[Node]] = {}
    for shape in target_shapes(graph):
        depth = reach(graph, shape)
        if depth >= UNBOUNDED or any(isinstance(n, BNode) for n in changed):
            full.append(shape)
            continue
        if depth not in by_depth:
            by_depth[depth] = neighbourhood(store, changed, depth)
        restrict[shape] = sorted(by_depth[depth], key=str)
    engine = NativeEngine(store, shapes)
    outcome = engine.validate(restrict) if restrict else Outcome()
    if full:
        full_run = engine.validate()
        outcome.results += [r for r in full_run.results if r.shape in set(full)]
    outcome.results.sort(key=Result.key)
    return outcome


def changed_nodes(store: Store, graphs: list[str]) -> set[Node]:
    """Subjects and objects of the triples in ``graphs`` (a load's staged batches)."""
    nodes: set[Node] = set()
    for graph in graphs:
        rows = store.select(f"SELECT DISTINCT ?n WHERE {{ GRAPH <{graph}> {{ {{ ?n ?p ?o }} UNION {{ ?s ?p ?n }} }} }}")
        nodes.update(to_rdflib(r[0]) for r in rows.rows)  # type: ignore[misc]
    return nodes


class ValidationRejected(IngestError):
    """The load gate refused a batch: it introduces violations. ``report`` holds them."""

    def __init__(self, message: str, outcome: Outcome, shapes: Shapes) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.shapes = shapes


GateMode = str  # "reject" | "accept-with-report" | "accept"


def make_gate(shapes_for: Callable[[str], Shapes], modes: dict[str, GateMode], *,
              agent: str = "load-gate") -> Callable[[Store, Activity], None]:
    """A ``before_commit`` hook: validate what the staged batches affect, per profile, and act on it.

    Only violations the load *introduces* count: results already present before the load (the same
    result on the committed data) do not block it.
    """

    def gate(store: Store, activity: Activity) -> None:
        from threadline.shacl.report import store_evidence

        staged = [b.graph for b in activity.batches if not b.skipped]
        if not staged:
            return
        changed = changed_nodes(store, staged)
        superseded = _superseded(store, activity, staged)
        changed |= changed_nodes(store, superseded)
        for profile, mode in sorted(modes.items()):
            if mode == "accept":
                continue
            shapes = shapes_for(profile)
            with aside(store, superseded):  # the state after the commit: old snapshots retired
                outcome = validate_changes(store, shapes, changed)
            violations = [r for r in outcome.results if r.severity == SH.Violation]
            if mode == "reject" and violations:
                before = _before(store, shapes, changed, staged)
                new = [r for r in violations if r.key() not in before]
                if new:
                    outcome.results = new
                    raise ValidationRejected(
                        f"load rejected by the {profile!r} validation gate: {len(new)} new violation(s), "
                        f"e.g. {new[0].focus}: {' '.join(str(m) for m in new[0].messages)}", outcome, shapes)
            elif mode == "accept-with-report":
                store_evidence(store, outcome, shapes, agent=agent)

    return gate


def _before(store: Store, shapes: Shapes, changed: set[Node], staged: list[str]) -> set[tuple]:
    """Keys of results the same focus nodes had before the load (staged graphs set aside)."""
    with aside(store, staged):
        return {r.key() for r in validate_changes(store, shapes, changed).results}


@contextmanager
def aside(store: Store, graphs: list[str]) -> Iterator[None]:
    """Hide ``graphs`` from queries for a moment (dump, drop, restore), so the gate can see another state."""
    saved: dict[str, bytes] = {}
    for graph in graphs:
        buffer = io.BytesIO()
        store.dump(buffer, ox.RdfFormat.N_TRIPLES, graph=graph)
        saved[graph] = buffer.getvalue()
        store.drop_graph(graph)
    try:
        yield
    finally:
        for graph, data in saved.items():
            if data:
                store.stage(data, graph, ox.RdfFormat.N_TRIPLES)


def _superseded(store: Store, activity: Activity, staged: list[str]) -> list[str]:
    """Committed graphs a snapshot load will retire (same batch key as a staged batch)."""
    from threadline.namespaces import CATALOG_GRAPH, TL

    if getattr(activity, "mode", "snapshot") == "delta":
        return []
    keys = [b.run.batch_key for b in activity.batches if not b.skipped]
    if not keys:
        return []
    values = " ".join(str(ox.Literal(k)) for k in keys)
    rows = store.select(f"SELECT DISTINCT ?g WHERE {{ VALUES ?k {{ {values} }} GRAPH <{CATALOG_GRAPH}> "
                        f"{{ ?g <{TL}batchKey> ?k }} }}").rows
    return [r[0].value for r in rows if r[0].value not in staged]  # type: ignore[union-attr]
