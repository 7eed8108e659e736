"""Maintain the KPI summary from what a load changed, instead of recomputing every KPI from the whole thread.

Soundness. A KPI declared in ``queries/NAME.incremental.yaml`` (``threadline.kpi.parts``) is a sum, per group,
of per-entity contributions, and an entity's contribution reads only triples met by following the declared
``reads`` steps from it: predicates read as subject (``forward``) or as object (``inverse``), ``depth`` steps
deep. So a load can change the contribution of an entity E only if it adds or removes a triple (s, p, o) with p
among the reads, and E reaches s — or o, for an inverse p — within ``depth`` steps. Walking backwards from
those seeds over the same steps (``threadline.shacl.incremental.reach``, the argument the load gate uses) finds
every such E, in the union of the states before and after the load, which the store holds while the load is
staged. For those entities the contributions before and after are computed on an in-memory copy of what they
read, per state (``threadline.shacl.overlay``: exact, a delta load's retractions included), and the stored
per-group partials are updated by taking the old contributions away and adding the new ones. The rows are
then recomputed from the partials with the query's own outer part, which reads the live labels.

That runs as a ``before_commit`` hook (the state before the load exists only until the commit); the
``after_commit`` hook applies it, in one ``replace_graph`` of the summary as a full refresh does.

Falls back to a full recompute — never a guessed summary — when: the summary was outdated before the load (a
write through SPARQL or the Graph Store Protocol, a missed load), another load or write landed between the two
hooks or a background refresh is running (it could land a summary computed from an older checkpoint after ours),
a blank node or more than ``MAX_RESTRICTED`` entities are reached (a routing step moved to another work centre
touches every unit that used it: a full run is cheaper), a part is unbound (an error in the query's arithmetic),
or the minimum or maximum of a group is taken away (it cannot be undone from the partials).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox
from rdflib import URIRef

from threadline.kpi import parts as kpi_parts
from threadline.kpi.parts import Decomposition, Group, Parts
from threadline.namespaces import BATCH_GRAPH_PREFIX
from threadline.shacl.incremental import MAX_RESTRICTED, Scope, reach, retracted_by
from threadline.shacl.model import to_rdflib, to_sparql
from threadline.shacl.overlay import Quad, neighbourhood
from threadline.store import EmbeddedStore, text
from threadline.store.recovery import STAGING_PREFIX

if TYPE_CHECKING:
    from threadline.ingest.provenance import Activity
    from threadline.store import Store

log = logging.getLogger(__name__)
STATE = ox.NamedNode("urn:threadline:kpi:state")


@dataclass
class Plan:
    """What a staged load changes in each declared KPI, or why the summary must be recomputed in full."""

    activities: int = -1
    removed: dict[str, dict[Group, list[Parts]]] = field(default_factory=dict)
    added: dict[str, dict[Group, list[Parts]]] = field(default_factory=dict)
    reason: str | None = None


_plans: dict[str, Plan] = {}
outcomes: Counter[str] = Counter()  # "incremental" / "full" per load, for tests and benchmarks
last_reason: str | None = None  # why the last load's summary was recomputed in full


def declarations() -> dict[str, Decomposition]:
    from threadline.kpi import materialised_queries

    found = {q.name: kpi_parts.declared(q.path) for q in materialised_queries()}
    return {name: d for name, d in found.items() if d is not None}


def plan_load(store: Store, activity: Activity) -> None:
    """``before_commit`` hook: the contributions the load changes, while both states are in the store."""
    if activity.dry_run:
        return
    _plans.clear()  # at most one load is staged at a time; an earlier rejected one left its plan
    try:
        _plans[activity.activity_id] = plan(store, activity)
    except Exception as exc:  # never stop a load for its summary: the after hook recomputes in full
        _plans[activity.activity_id] = Plan(reason=f"planning failed: {exc!r}")


def plan(store: Store, activity: Activity) -> Plan:
    from threadline.kpi import ACTIVITIES, fresh, refresher

    found = declarations()
    if not found:
        return Plan(reason="no KPI declares an incremental decomposition")
    if refresher.busy():  # it may write a summary computed from an older checkpoint after ours
        return Plan(reason="a background refresh is running")
    if not fresh(store):
        return Plan(reason="the summary was outdated before the load")
    activities = int(text(store.select(ACTIVITIES).rows[0][0]))
    forward = {p for d in found.values() for p in d.forward}
    inverse = {p for d in found.values() for p in d.inverse}
    depth = max(d.depth for d in found.values())
    before, after = activity.graphs_before(), activity.graphs_after()
    retracted = retracted_by(store, activity)
    seeds = changed_seeds(store, before, after, forward | inverse, inverse, retracted)
    if seeds is None:
        return Plan(reason=f"more than {MAX_RESTRICTED} changed subjects, or a blank node")
    scope = Scope(forward={URIRef(p) for p in forward}, inverse={URIRef(p) for p in inverse})
    levels, complete = reach(store, seeds, depth, scope, None)
    if complete <= depth:
        return Plan(reason=f"the change reaches more than {MAX_RESTRICTED} entities, or a blank node")
    nodes = sorted(to_sparql(n) for n in levels)
    quads = neighbourhood(store, levels, depth, scope.forward, scope.inverse) if nodes else []
    if quads is None:
        return Plan(reason="what the changed entities read is too large to copy, or holds a blank node")
    old, new = _states(quads, before, after, retracted)
    out = Plan(activities=activities)
    for name, d in found.items():
        out.removed[name] = kpi_parts.by_group(d, old.select(d.contributions_query(nodes)))
        out.added[name] = kpi_parts.by_group(d, new.select(d.contributions_query(nodes)))
    return out


def changed_seeds(
    store: Store, before: list[str], after: list[str], reads: set[str], inverse: set[str], retracted: set[Quad]
) -> set[Any] | None:
    """Subjects (and objects, for ``inverse`` predicates) of the triples with a read predicate that one state
    holds and the other does not; None when there are too many to restrict to, or a blank node."""
    seeds: set[Any] = set()
    added = [g for g in after if g not in set(before)]
    removed = [g for g in before if g not in set(after)]
    for graphs, against in ((added, before), (removed, after)):
        elsewhere = ", ".join(f"<{g}>" for g in against)
        missing = f"FILTER NOT EXISTS {{ GRAPH ?_g {{ ?s ?p ?o }} FILTER(?_g IN ({elsewhere})) }}"
        for graph in graphs:
            for predicates, term in ((reads, "?s"), (inverse, "?o")):
                if not predicates:
                    continue
                values = " ".join(f"<{p}>" for p in sorted(predicates))
                where = f"VALUES ?p {{ {values} }} GRAPH <{graph}> {{ ?s ?p ?o }} {missing}"
                rows = store.select(f"SELECT DISTINCT {term} WHERE {{ {where} }}").rows
                seeds.update(r[0] for r in rows)
            if len(seeds) > MAX_RESTRICTED:
                return None
    for s, p, o, _ in retracted:
        if p.value in reads:
            seeds.add(s)
        if p.value in inverse:
            seeds.add(o)
    if any(isinstance(s, ox.BlankNode) for s in seeds) or len(seeds) > MAX_RESTRICTED:
        return None
    return {to_rdflib(s) for s in seeds}


def _states(
    quads: list[Quad], before: list[str], after: list[str], retracted: set[Quad]
) -> tuple[EmbeddedStore, EmbeddedStore]:
    """The copied quads per state. Graphs outside both lists that are not batches (written through SPARQL or
    the Graph Store Protocol, provenance) belong to both states, as the plain query's union sees them; another
    load's staged graphs to neither."""
    old_graphs, new_graphs = set(before), set(after)
    listed = old_graphs | new_graphs
    old, new = EmbeddedStore(None), EmbeddedStore(None)
    for s, p, o, g in quads:
        graph = g.value
        shared = graph not in listed and not graph.startswith((BATCH_GRAPH_PREFIX, STAGING_PREFIX))
        if graph in old_graphs or shared:
            old.native.add(ox.Quad(s, p, o, STATE))
        if (graph in new_graphs and (s, p, o, g) not in retracted) or shared:
            new.native.add(ox.Quad(s, p, o, STATE))
    return old, new


def apply(store: Store, activity: Activity) -> bool:
    """``after_commit``: update the summary from the load's plan; False when it must be recomputed in full
    (the reason is logged)."""
    from threadline import kpi

    found = _plans.pop(activity.activity_id, None)
    reason = "the load was not planned" if found is None else found.reason
    stored = kpi.stored_partials(store) if reason is None else None
    if found is not None and stored is not None:
        activities, stale, partials = stored
        now = int(text(store.select(kpi.ACTIVITIES).rows[0][0]))
        if stale or activities != found.activities or now != found.activities + 1 or kpi.refresher.busy():
            reason = "another write landed beside the load"
        else:
            outcomes["incremental"] += 1
            return _apply(store, found, partials)
    global last_reason
    outcomes["full"] += 1
    last_reason = reason
    log.info("KPI summary recomputed in full: %s", reason)
    return False


def _apply(store: Store, found: Plan, stored: dict[str, dict[Group, Parts]]) -> bool:
    from threadline import kpi

    updated: dict[str, dict[Group, Parts] | None] = {}
    for name, d in declarations().items():
        if name not in stored:
            updated[name] = None  # not maintainable last time: recomputed in full below
            continue
        try:
            updated[name] = kpi_parts.combine(d, stored[name], found.removed.get(name, {}), found.added.get(name, {}))
        except kpi_parts.Unsure as exc:
            log.info("KPI %s recomputed in full: %s", name, exc)
            updated[name] = None
    kpi.refresh(store, partials=updated)
    return True
