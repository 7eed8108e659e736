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
on random changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from rdflib import RDFS, BNode, Graph, URIRef
from rdflib.term import Node

from threadline.namespaces import BATCH_GRAPH_PREFIX
from threadline.shacl.compiler import items
from threadline.shacl.engine import NativeEngine, target_shapes
from threadline.shacl.model import SH, Outcome, Result, to_rdflib, to_sparql
from threadline.shacl.shapes import Shapes
from threadline.store import Store
from threadline.store.base import STAGING_PREFIX

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
    ``graphs`` are retired and ``against`` is the state after)."""
    change = change or Change()
    missing = "FILTER NOT EXISTS { ?s ?p ?o }"
    for graph in graphs:
        g = f"<{graph}>"
        rows = store.select(
            f"SELECT DISTINCT ?s WHERE {{ GRAPH {g} {{ ?s ?p ?o }} {missing} }}", default_graphs=against
        ).rows
        change.seeds.update(to_rdflib(r[0]) for r in rows)  # type: ignore[misc]
        if object_predicates:
            values = " ".join(to_sparql(p) for p in sorted(object_predicates))
            rows = store.select(
                f"SELECT DISTINCT ?o WHERE {{ VALUES ?p {{ {values} }} GRAPH {g} {{ ?s ?p ?o }} {missing} }}",
                default_graphs=against,
            ).rows
            change.seeds.update(to_rdflib(r[0]) for r in rows)  # type: ignore[misc]
        if store.ask(
            f"ASK {{ GRAPH {g} {{ ?s <{RDFS.subClassOf}> ?o }} FILTER NOT EXISTS {{ ?s <{RDFS.subClassOf}> ?o }} }}",
            default_graphs=against,
        ):
            change.schema = True
    return change


def load_change(store: Store, before: list[str], after: list[str], object_predicates: set[URIRef]) -> Change:
    """The change from state ``before`` to state ``after`` (both lists of graphs): added and removed triples."""
    added = [g for g in after if g not in set(before)]
    removed = [g for g in before if g not in set(after)]
    change = diff_seeds(store, added, before, object_predicates)
    return diff_seeds(store, removed, after, object_predicates, change)


def backwards(
    store: Store, seeds: set[Node], depth: int, out: Scope, view: list[str] | None, limit: int = MAX_RESTRICTED
) -> set[Node] | None:
    """Every node that reaches a seed by at most ``depth`` of the scope's steps; None when a blank node is
    met or the set grows past ``limit`` (validate in full instead)."""
    if any(isinstance(s, BNode) for s in seeds):
        return None
    seen = set(seeds)
    frontier = set(seeds)
    fwd = " ".join(to_sparql(p) for p in sorted(out.forward))
    inv = " ".join(to_sparql(p) for p in sorted(out.inverse))
    branches = ([f"{{ VALUES ?p {{ {fwd} }} ?x ?p ?n }}"] if fwd else []) + (
        [f"{{ VALUES ?p {{ {inv} }} ?n ?p ?x }}"] if inv else []
    )
    if not branches:
        return seen
    for _ in range(depth):
        if not frontier:
            break
        found: set[Node] = set()
        ordered = sorted(frontier, key=str)
        for start in range(0, len(ordered), CHUNK):
            chunk = " ".join(to_sparql(n) for n in ordered[start : start + CHUNK])
            rows = store.select(
                f"SELECT DISTINCT ?x WHERE {{ VALUES ?n {{ {chunk} }} {' UNION '.join(branches)} }}",
                default_graphs=view,
            ).rows
            found.update(to_rdflib(r[0]) for r in rows)  # type: ignore[misc]
        if any(isinstance(n, BNode) for n in found):
            return None
        frontier = found - seen
        seen |= frontier
        if len(seen) > limit:
            return None
    return seen


def focus_plan(
    store: Store, shapes: Shapes, change: Change, *, walk: list[str] | None = None, scoped: Scope | None = None
) -> dict[Node, list[Node] | None]:
    """Per target shape, the focus nodes ``change`` can affect (None: validate the shape in full).
    ``walk`` is the state the backward walk follows; it must hold both states (None: the union)."""
    scoped = scoped or scope(shapes.graph)
    plan: dict[Node, list[Node] | None] = {}
    reached: dict[int, set[Node] | None] = {}
    for shape, depth in scoped.depth.items():
        if depth >= UNBOUNDED or change.schema:
            plan[shape] = None
            continue
        if depth not in reached:
            reached[depth] = backwards(store, change.seeds, depth, scoped, walk)
        nodes = reached[depth]
        plan[shape] = None if nodes is None else sorted((n for n in nodes if not isinstance(n, BNode)), key=str)
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
    store: Store, shapes: Shapes, before: list[str], after: list[str], *, both: bool = False
) -> tuple[Outcome, Outcome]:
    """Results of the focus nodes a change from ``before`` to ``after`` can affect, in both states. Called
    while the change is staged (both states' graphs in the store). The state before is checked only for the
    shapes with results after (nothing else can be new), unless ``both``."""
    scoped = scope(shapes.graph)
    change = load_change(store, before, after, scoped.object_predicates)
    plan = focus_plan(store, shapes, change, walk=None, scoped=scoped)  # the union holds both states
    after_view = None if union_shows(store, before, after) else after
    new = run_plan(store, shapes, plan, after_view)
    again = plan if both else {shape: plan[shape] for shape, outcome in new.items() if outcome.results}
    old = run_plan(store, shapes, again, before) if again else {}
    return _merge(new.values()), _merge(old.values())


def introduced(after: Outcome, before: Outcome) -> list[Result]:
    """Results present after a change and not before (compared as the engines are: focus, path, value,
    shape, component)."""
    old = {r.key() for r in before.results}
    return [r for r in after.results if r.key() not in old]
