"""The data a few focus nodes' results depend on, copied into small in-memory stores, one per state.

Why: the load gate must validate the focus nodes a load can affect in the state before the load and in the
state after it, while the store holds both (the committed graphs plus the staged ones). A state named by a
list of graphs is a slow view (pyoxigraph answers queries over an explicit graph list 10-20x slower than
over the union), and it cannot express what a delta load *retracts* from earlier batches (statements of
upserted subjects), so the after view would still hold the old values. Copying the neighbourhood of the
affected focus nodes — every quad with its graph — into memory fixes both: each state is exactly the quads
of its graphs, minus the retracted ones, and queries on a few thousand quads take microseconds.

What the neighbourhood holds follows the soundness argument of ``incremental.py``: a focus node's results
depend on the triples met when following the shapes' path steps from it — forward steps from a node read its
triples as subject, inverse steps read triples with it as object (only the scope's inverse predicates) — up
to the shapes' depth, plus every triple *about* each node met (types for ``sh:class``, properties for
``sh:equals``/``sh:lessThan``/``sh:closed``), plus the class hierarchy. So, level by level up to the depth:
every quad whose subject is a node of the level, and every quad with an inverse predicate whose object is a
node of the level; the next level is the objects of forward steps and the subjects of inverse ones. Blank
nodes cannot be named in a query, and a neighbourhood larger than ``LIMIT`` quads is cheaper to validate in
the store: ``None`` tells the caller to use the graph-list views instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pyoxigraph as ox
from rdflib import RDFS
from rdflib.term import Node

from threadline.shacl.model import to_sparql
from threadline.store import EmbeddedStore, Store

LIMIT = 500_000  # quads: beyond this the views are the cheaper way
CHUNK = 2_000  # terms per VALUES block
STATE_GRAPH = ox.NamedNode("urn:threadline:gate:state")

Quad = tuple[ox.NamedNode | ox.BlankNode, ox.NamedNode, ox.NamedNode | ox.BlankNode | ox.Literal, ox.NamedNode]


@dataclass
class Overlay:
    """The neighbourhood as it is in the state before and in the state after the change."""

    before: EmbeddedStore
    after: EmbeddedStore
    quads: int


def neighbourhood(
    store: Store,
    nodes: Iterable[Node],
    depth: int,
    forward: Iterable[Node],
    inverse: Iterable[Node],
    first_inverse: Iterable[Node] = (),
) -> list[Quad] | None:
    """Every quad the results of ``nodes`` can depend on (see the module docstring), read from the union of
    all graphs; ``first_inverse`` adds predicates whose triples are read at the first level only
    (``sh:targetObjectsOf``). None: a blank node was met, or more than ``LIMIT`` quads."""
    forward_iris = {str(p) for p in forward}
    inverse_iris = {str(p) for p in inverse}
    first_iris = inverse_iris | {str(p) for p in first_inverse}
    quads: list[Quad] = list(_quads(store, f"VALUES ?p {{ <{RDFS.subClassOf}> }}"))
    frontier = {to_sparql(n) for n in nodes}
    seen = set(frontier)
    for level in range(depth + 1):
        last = level == depth
        found: set[ox.NamedNode | ox.BlankNode | ox.Literal] = set()
        steps = first_iris if level == 0 else set() if last else inverse_iris
        predicates = [f"<{p}>" for p in sorted(steps)]
        for chunk in _chunks(sorted(frontier)):
            for quad in _quads(store, f"VALUES ?s {{ {' '.join(chunk)} }}"):
                quads.append(quad)
                if not last and quad[1].value in forward_iris and not isinstance(quad[2], ox.Literal):
                    found.add(quad[2])
            if predicates:
                # one VALUES block of pairs: two blocks (?o, ?p) make pyoxigraph 0.5 scan every quad
                pairs = " ".join(f"({o} {p})" for o in chunk for p in predicates)
                for quad in _quads(store, f"VALUES (?o ?p) {{ {pairs} }}"):
                    quads.append(quad)
                    if not last and quad[1].value in inverse_iris:
                        found.add(quad[0])
            if len(quads) > LIMIT:
                return None
        if any(isinstance(n, ox.BlankNode) for n in found):
            return None
        frontier = {str(n) for n in found} - seen
        seen |= frontier
        if not frontier:
            break
    return quads


def _quads(store: Store, bindings: str) -> Iterable[Quad]:
    rows = store.select(f"SELECT ?s ?p ?o ?g WHERE {{ {bindings} GRAPH ?g {{ ?s ?p ?o }} }}").rows
    return [(r[0], r[1], r[2], r[3]) for r in rows]  # type: ignore[misc]  # a result row has as many cells as the query selects


def _chunks(terms: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(terms), CHUNK):
        yield terms[start : start + CHUNK]


def states(quads: list[Quad], before: list[str], after: list[str], retracted: set[Quad]) -> Overlay:
    """The neighbourhood per state: the quads of the state's graphs, minus what the change retracts."""
    before_graphs, after_graphs = set(before), set(after)
    old, new = EmbeddedStore(None), EmbeddedStore(None)
    old.native.extend(ox.Quad(s, p, o, STATE_GRAPH) for s, p, o, g in quads if g.value in before_graphs)
    new.native.extend(
        ox.Quad(s, p, o, STATE_GRAPH)
        for s, p, o, g in quads
        if g.value in after_graphs and (s, p, o, g) not in retracted
    )
    return Overlay(old, new, len(quads))
