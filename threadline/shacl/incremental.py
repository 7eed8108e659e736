"""Validate only what a change can affect: the seeds a change plants and the focus nodes they reach.

Soundness. A SHACL Core result about focus node F is a function of F's class membership (targets) and of the
triples met when following the shape's paths from F — forward steps ``p`` and inverse steps ``^p``, through
nested ``sh:node``/``sh:property``/``sh:qualifiedValueShape``/logical members — plus, at each node N met, triples
*about* N (its ``rdf:type`` for ``sh:class``, its properties for ``sh:equals``/``sh:lessThan``/``sh:closed``).
Every one of those triples (s, p, o) is read either while standing on s (forward step, type, comparison,
closed) or, for an inverse step ``^p``, while standing on o. So when the data changes by a set of triples,
F's result can change only if F reaches a *seed* — the subject of a changed triple, or its object when ``p`` is
used inversely or by ``sh:targetObjectsOf`` — by at most ``depth`` path steps, where ``depth`` is the longest
chain of path steps in the shape tree. Walking backwards from the seeds over exactly those directed steps
(``?x p seed`` for a forward step, ``seed p ?x`` for an inverse one), ``depth`` times, finds every such F; the
shape is then re-validated on those nodes only, which gives the full run's results for them, while every
other focus node's results are unchanged. The walk runs over the union of the states before and after, so a
path that the change cuts is followed as well as one it creates. Where this argument does not hold — ``*``/``+``
paths, recursive shapes, SPARQL constraints, a change to ``rdfs:subClassOf`` (class targets and ``sh:class``
shift for whole classes), blank nodes (they cannot be named in a query), or a reach too large to be worth
restricting — the shape is validated in full. ``tests/test_shacl_incremental.py`` checks incremental == full
on random changes, for snapshot and delta loads.

The same argument bounds what the restricted focus nodes' results read, so the load gate copies just that
(``overlay.py``) into memory, once per state, and validates there: a delta load's retractions (statements of
upserted subjects in earlier batches, which stay in graphs of both states until the commit deletes them) are
left out of the state after, and the state before needs no slow graph-list view. Shapes validated in full
still run in the store on graph-list views, which cannot leave retracted statements out: for them a delta
load's changed values are seen beside the old ones until the commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rdflib import RDFS, BNode, Graph, URIRef
from rdflib.term import Node

from threadline.namespaces import BATCH_GRAPH_PREFIX
from threadline.shacl.compiler import NotCompilable, items, target_pattern
from threadline.shacl.engine import NativeEngine, target_shapes
from threadline.shacl.model import SH, Outcome, Result, to_rdflib, to_sparql
from threadline.shacl.overlay import Overlay, Quad, neighbourhood, states
from threadline.shacl.shapes import Shapes
from threadline.store import Store
from threadline.store.base import STAGING_PREFIX

if TYPE_CHECKING:
    from threadline.ingest.provenance import Activity

UNBOUNDED = 10**6
MAX_RESTRICTED = 20_000  # more focus nodes than this: a full run of the shape is cheaper than VALUES
CHUNK = 2_000


@dataclass
class Scope:
    """What a shapes graph's results can depend on: directed path steps and per-shape depth."""

    forward: set[URIRef] = field(default_factory=set)
    inverse: set[URIRef] = field(default_factory=set)
    objects: set[URIRef] = field(default_factory=set)  # sh:targetObjectsOf predicates
    depth: dict[Node, int] = field(default_factory=dict)  # target shape -> path steps (UNBOUNDED: full run)

    @property
    def object_predicates(self) -> set[URIRef]:
        """Predicates whose triples also plant their object as a seed."""
        return self.inverse | self.objects


def scope(graph: Graph) -> Scope:
    out = Scope()
    for shape in target_shapes(graph):
        out.depth[shape] = _steps(graph, shape, (), out)
        out.objects.update(p for p in graph.objects(shape, SH.targetObjectsOf) if isinstance(p, URIRef))
    return out


def _steps(graph: Graph, shape: Node, stack: tuple[Node, ...], out: Scope) -> int:
    """Longest chain of path steps below ``shape``, collecting the steps; UNBOUNDED if not analysable."""
    if shape in stack or (shape, SH.sparql, None) in graph:
        return UNBOUNDED
    path = graph.value(shape, SH.path)
    own = 0 if path is None else _path(graph, path, False, out)
    nested = 0
    for child in _children(graph, shape):
        nested = max(nested, _steps(graph, child, (*stack, shape), out))
    return min(UNBOUNDED, own + nested)


def _children(graph: Graph, shape: Node) -> list[Node]:
    out: list[Node] = []
    for p in (SH.node, SH["not"], SH.qualifiedValueShape, SH.property):
        out += list(graph.objects(shape, p))
    for p in (SH["and"], SH["or"], SH.xone):
        for members in graph.objects(shape, p):
            out += items(graph, members)
    return out


def _path(graph: Graph, path: Node, inverted: bool, out: Scope) -> int:
    """Number of steps of a SHACL path (UNBOUNDED for * and +), recording each directed predicate."""
    if isinstance(path, URIRef):
        (out.inverse if inverted else out.forward).add(path)
        return 1
    if graph.value(path, SH.zeroOrMorePath) is not None or graph.value(path, SH.oneOrMorePath) is not None:
        return UNBOUNDED
    inner = graph.value(path, SH.inversePath)
    if inner is not None:
        return _path(graph, inner, not inverted, out)
    inner = graph.value(path, SH.zeroOrOnePath)
    if inner is not None:
        return _path(graph, inner, inverted, out)
    alternatives = graph.value(path, SH.alternativePath)
    if alternatives is not None:
        return max((_path(graph, m, inverted, out) for m in items(graph, alternatives)), default=0)
    members = items(graph, path)
    if not members:
        return UNBOUNDED
    return min(UNBOUNDED, sum(_path(graph, m, inverted, out) for m in members))


@dataclass
class Change:
    """The seeds a change plants, and whether it touched the class hierarchy."""

    seeds: set[Node] = field(default_factory=set)
    schema: bool = False


def diff_seeds(
    store: Store, graphs: list[str], against: list[str], object_predicates: set[URIRef], change: Change | None = None
) -> Change:
    """Seeds of the triples in ``graphs`` that the state ``against`` does not hold (added, or removed when
    ``graphs`` are retired and ``against`` is the state after). Each triple's presence is checked with one
    look-up of the graphs that hold it (``GRAPH ?g`` over the union, filtered): 10x faster than checking it
    against ``against`` as a graph-list view."""
    change = change or Change()
    elsewhere = ", ".join(f"<{g}>" for g in against)
    missing = f"FILTER NOT EXISTS {{ GRAPH ?_g {{ ?s ?p ?o }} FILTER(?_g IN ({elsewhere})) }}"
    for graph in graphs:
        g = f"<{graph}>"
        rows = store.select(f"SELECT DISTINCT ?s WHERE {{ GRAPH {g} {{ ?s ?p ?o }} {missing} }}").rows
        change.seeds.update(to_rdflib(r[0]) for r in rows)  # type: ignore[misc]  # a result row has as many cells as the query selects
        if object_predicates:
            values = " ".join(to_sparql(p) for p in sorted(object_predicates))
            rows = store.select(
                f"SELECT DISTINCT ?o WHERE {{ VALUES ?p {{ {values} }} GRAPH {g} {{ ?s ?p ?o }} {missing} }}"
            ).rows
            change.seeds.update(to_rdflib(r[0]) for r in rows)  # type: ignore[misc]  # a result row has as many cells as the query selects
        if store.ask(
            f"ASK {{ VALUES ?p {{ <{RDFS.subClassOf}> }} GRAPH {g} {{ ?s ?p ?o }} {missing} }}",
        ):
            change.schema = True
    return change


def load_change(
    store: Store,
    before: list[str],
    after: list[str],
    object_predicates: set[URIRef],
    retracted: set[Quad] | None = None,
) -> Change:
    """The change from state ``before`` to state ``after`` (both lists of graphs): added and removed triples,
    and the ``retracted`` quads (statements a delta load deletes from graphs that stay)."""
    added = [g for g in after if g not in set(before)]
    removed = [g for g in before if g not in set(after)]
    change = diff_seeds(store, added, before, object_predicates)
    change = diff_seeds(store, removed, after, object_predicates, change)
    objects = {str(p) for p in object_predicates}
    for s, p, o, _ in retracted or ():
        change.seeds.add(to_rdflib(s))
        if p.value in objects:
            change.seeds.add(to_rdflib(o))
        if p.value == str(RDFS.subClassOf):
            change.schema = True
    return change


def retracted_by(store: Store, activity: Activity) -> set[Quad]:
    """The quads a delta load's commit deletes from earlier batches of the same mapping (the loader's own
    ``ingest.delta`` retractions; a snapshot load retires whole graphs instead, which the graph lists say)."""
    out: set[Quad] = set()
    for retraction in activity.retractions:
        for where in retraction.patterns():
            rows = store.select(f"SELECT ?s ?p ?o ?old WHERE {{ {where} }}").rows
            out.update((r[0], r[1], r[2], r[3]) for r in rows)  # type: ignore[misc]  # a result row has as many cells as the query selects
    return out


def reach(
    store: Store, seeds: set[Node], depth: int, out: Scope, view: list[str] | None, limit: int = MAX_RESTRICTED
) -> tuple[dict[Node, int], int]:
    """Every node that reaches a seed by at most ``depth`` of the scope's steps, with the fewest steps it
    takes; and the first depth the walk could not complete (a blank node met, or more than ``limit`` nodes:
    validate in full instead), ``depth + 1`` when it completed."""
    if any(isinstance(s, BNode) for s in seeds):
        return {}, 0
    levels: dict[Node, int] = dict.fromkeys(seeds, 0)
    frontier = set(seeds)
    # The node drives each branch (one index look-up per node, VALUES inside the branch) and the step is a
    # FILTER: with ``VALUES ?p`` instead, pyoxigraph 0.5 scanned every triple of every listed predicate and
    # joined afterwards, 0.6 s per level at 10k units growing with the store (docs/performance.md, delta loads).
    fwd = ", ".join(to_sparql(p) for p in sorted(out.forward))
    inv = ", ".join(to_sparql(p) for p in sorted(out.inverse))
    branches = ([f"?x ?p ?n FILTER(?p IN ({fwd}))"] if fwd else []) + (
        [f"?n ?p ?x FILTER(?p IN ({inv}))"] if inv else []
    )
    for level in range(1, depth + 1):
        if not frontier or not branches:
            break
        found: set[Node] = set()
        ordered = sorted(frontier, key=str)
        for start in range(0, len(ordered), CHUNK):
            chunk = " ".join(to_sparql(n) for n in ordered[start : start + CHUNK])
            union = " UNION ".join(f"{{ VALUES ?n {{ {chunk} }} {branch} }}" for branch in branches)
            rows = store.select(f"SELECT DISTINCT ?x WHERE {{ {union} }}", default_graphs=view).rows
            found.update(to_rdflib(r[0]) for r in rows)  # type: ignore[misc]  # a result row has as many cells as the query selects
        if any(isinstance(n, BNode) for n in found):
            return levels, level
        frontier = found - set(levels)
        levels.update(dict.fromkeys(frontier, level))
        if len(levels) > limit:
            return levels, level
    return levels, depth + 1


def focus_plan(
    store: Store, shapes: Shapes, change: Change, *, walk: list[str] | None = None, scoped: Scope | None = None
) -> dict[Node, list[Node] | None]:
    """Per target shape, the focus nodes ``change`` can affect (None: validate the shape in full).
    ``walk`` is the state the backward walk follows; it must hold both states (None: the union). One walk,
    as deep as the deepest shape needs, serves every shape."""
    scoped = scoped or scope(shapes.graph)
    bounded = [d for d in scoped.depth.values() if d < UNBOUNDED]
    levels, complete = (
        reach(store, change.seeds, max(bounded), scoped, walk) if bounded and not change.schema else ({}, 0)
    )
    plan: dict[Node, list[Node] | None] = {}
    for shape, depth in scoped.depth.items():
        if depth >= UNBOUNDED or change.schema or depth >= complete:
            plan[shape] = None
            continue
        plan[shape] = sorted((n for n, level in levels.items() if level <= depth), key=str)
    return plan


def run_plan(
    store: Store, shapes: Shapes, plan: dict[Node, list[Node] | None], view: list[str] | None
) -> dict[Node, Outcome]:
    """Each planned shape's results in state ``view`` (kept per shape, so the state before need only be
    checked for the shapes that have results after)."""
    engine = NativeEngine(store, shapes, default_graphs=view)
    return {shape: engine.validate({shape: nodes}) for shape, nodes in plan.items() if nodes != []}


def validate_change(
    store: Store,
    shapes: Shapes,
    change: Change,
    *,
    view: list[str] | None,
    walk: list[str] | None = None,
    scoped: Scope | None = None,
) -> Outcome:
    """Every result, in state ``view``, of the focus nodes ``change`` can affect: equal to a full run's
    results on those nodes."""
    plan = focus_plan(store, shapes, change, walk=walk, scoped=scoped)
    return _merge(run_plan(store, shapes, plan, view).values())


def _merge(outcomes: Iterable[Outcome]) -> Outcome:
    merged = Outcome()
    for outcome in outcomes:
        merged.results += outcome.results
        merged.fallback.update(outcome.fallback)
        merged.seconds += outcome.seconds
    merged.results.sort(key=Result.key)
    return merged


def union_shows(store: Store, before: list[str], after: list[str]) -> bool:
    """Whether the store's union default graph holds exactly the data of state ``after``: nothing retired
    by the change and no other load's staged graphs. Then queries need no graph list, which pyoxigraph
    answers several times faster than a list of a few dozen graphs."""
    if set(before) - set(after):
        return False
    expected = set(after)
    return not [g for g in store.graphs() if g.startswith((BATCH_GRAPH_PREFIX, STAGING_PREFIX)) and g not in expected]


def affected_results(
    store: Store,
    shapes: Shapes,
    before: list[str],
    after: list[str],
    *,
    both: bool = False,
    retracted: set[Quad] | None = None,
) -> tuple[Outcome, Outcome]:
    """Results of the focus nodes a change from ``before`` to ``after`` can affect, in both states. Called
    while the change is staged (both states' graphs in the store); ``retracted``: quads the commit will
    delete from graphs of both states (``retracted_by``). The state before is checked only for the focus
    nodes with results after (nothing else can be new), unless ``both``.

    Shapes restricted to a few focus nodes are validated on an in-memory copy of what those nodes' results
    depend on, per state (``overlay.py``): exact for both states, retractions included, and fast. Shapes
    validated in full (unbounded reach), or when that copy is not possible, run in the store on graph-list
    views, which cannot leave out retracted statements."""
    retracted = retracted or set()
    scoped = scope(shapes.graph)
    change = load_change(store, before, after, scoped.object_predicates, retracted)
    plan = focus_plan(store, shapes, change, walk=None, scoped=scoped)  # the union holds both states
    engine = NativeEngine(store, shapes)
    in_store = {shape: nodes for shape, nodes in plan.items() if nodes is None or not _native(engine, shape)}
    copied: dict[Node, list[Node] | None] = {
        shape: nodes for shape, nodes in plan.items() if shape not in in_store and nodes
    }
    copies = _overlay(store, copied, scoped, before, after, retracted) if copied else None
    if copies is None:
        in_store.update(copied)
        copied = {}
    after_view = None if union_shows(store, before, after) else after
    new = run_plan(store, shapes, in_store, after_view)
    if copies is not None:
        new.update(run_plan(copies.after, shapes, copied, None))
    again: dict[Node, list[Node] | None] = {}
    for shape, outcome in new.items():
        if both:
            again[shape] = plan[shape]
        elif outcome.results:
            again[shape] = sorted({r.focus for r in outcome.results}, key=str)
    old = run_plan(store, shapes, {s: n for s, n in again.items() if s in in_store}, before)
    if copies is not None:
        old.update(run_plan(copies.before, shapes, {s: n for s, n in again.items() if s in copied}, None))
    return _merge(new.values()), _merge(old.values())


def _native(engine: NativeEngine, shape: Node) -> bool:
    """Whether the native engine validates ``shape`` itself (a copy of the data must not reach pyshacl)."""
    try:
        engine.compilable(shape, ())
        return target_pattern(engine.graph, shape, engine.closure) is not None
    except NotCompilable:
        return False


def _overlay(
    store: Store,
    plan: dict[Node, list[Node] | None],
    scoped: Scope,
    before: list[str],
    after: list[str],
    retracted: set[Quad],
) -> Overlay | None:
    nodes = {n for nodes in plan.values() for n in nodes or ()}
    depth = max(scoped.depth[shape] for shape in plan)
    quads = neighbourhood(store, nodes, depth, scoped.forward, scoped.inverse, scoped.objects)
    return None if quads is None else states(quads, before, after, retracted)


def load_results(store: Store, shapes: Shapes, activity: Activity, *, both: bool = False) -> tuple[Outcome, Outcome]:
    """``affected_results`` of a staged load, as its ``before_commit`` hook sees it."""
    return affected_results(
        store,
        shapes,
        activity.graphs_before(),
        activity.graphs_after(),
        both=both,
        retracted=retracted_by(store, activity),
    )


def introduced(after: Outcome, before: Outcome) -> list[Result]:
    """Results present after a change and not before (compared as the engines are: focus, path, value,
    shape, component)."""
    old = {r.key() for r in before.results}
    return [r for r in after.results if r.key() not in old]
