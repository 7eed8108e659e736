"""Old and new values: for one change set, each property it changed, as (subject, predicate, old, new) — what a
change replaced (EU GMP Annex 11 §9), derived from the change set rather than stored in the audit entry, so the hash
chain of existing stores is untouched.

Of the thread's data graphs only (``namespaces.is_data_graph``): a load's catalog and provenance statements are
Threadline's bookkeeping, which the audit entry's ``what`` already states. A property changed where the change set
removed a value of that subject and predicate, or added one in place:
removed and added values of one subject and predicate, in one change set, are its old and new values. Statements
a change moved between graphs (a delta load restating a record in its new batch graph) are no change. A load that
only adds new records replaces nothing, and lists nothing: its statements are in ``GET /diff``.

Cost: the change set's removals and statement-level additions are read first (at most ``limit`` rows), then what
it added whole is read only for the subjects found. A change touching more than ``limit`` statements (a snapshot
reload of a large batch) is not listed here: ``values`` returns None and callers point to ``threadline diff``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

import pyoxigraph as ox

from threadline.history import patch
from threadline.history.changeset import change_graph, change_iri
from threadline.history.diff import DiffTooLarge, Quad, Readable, Term, net, statements
from threadline.namespaces import BATCH_GRAPH_PREFIX, GRAPH, RDF, TL, is_data_graph
from threadline.store import Store

DEFAULT_LIMIT = 10_000


@dataclass
class PropertyChange:
    """What one change did to one property of one record."""

    sequence: int
    subject: Term
    predicate: Term
    old: list[Term] = field(default_factory=list)
    new: list[Term] = field(default_factory=list)


def touched_subjects(store: Store, sequence: int, limit: int) -> set[str] | None:
    """The IRIs whose statements change set ``sequence`` removed, or added in place; None past ``limit`` rows."""
    node, target = change_iri(sequence), change_graph(sequence)
    found: set[str] = set()
    count = 0
    removed = store.select(
        f"SELECT ?g ?a WHERE {{ GRAPH <{target}> {{ <{node}> <{TL}removedGraph> ?g . ?g <{TL}archivedIn> ?a }} }}"
    ).rows
    streams: list[Iterable[tuple]] = [
        patch.archived(store, g.value, a.value)  # type: ignore[union-attr]  # bound by the query
        for g, a in removed
        if is_data_graph(g.value)  # type: ignore[union-attr]  # bound by the query
    ]
    data = f"FILTER(!STRSTARTS(STR(?g), {json.dumps(GRAPH)}) || STRSTARTS(STR(?g), {json.dumps(BATCH_GRAPH_PREFIX)}))"
    streams.append(
        patch.stream_rows(
            store, f"SELECT ?s WHERE {{ GRAPH <{target}> {{ ?r <{RDF}subject> ?s ; <{TL}graph> ?g }} {data} }}"
        )
    )
    for stream in streams:
        for row in stream:
            count += 1
            if count > limit:
                for pending in streams:
                    getattr(pending, "close", lambda: None)()  # an open result must not outlive this call
                return None
            if isinstance(row[0], ox.NamedNode):
                found.add(row[0].value)
    return found


def values(
    store: Store,
    sequence: int,
    *,
    subjects: frozenset[str] | None = None,
    readable: Readable = lambda graph: True,
    limit: int = DEFAULT_LIMIT,
) -> list[PropertyChange] | None:
    """The properties change set ``sequence`` changed (of ``subjects`` only, when given), ordered; None when it
    touched more than ``limit`` statements."""
    if subjects is None:
        touched = touched_subjects(store, sequence, limit)
        if touched is None:
            return None
        subjects = frozenset(touched)
    if not subjects:
        return []
    try:
        held = net(
            store, [sequence], subjects=subjects, readable=lambda g: is_data_graph(g) and readable(g), limit=limit
        )
    except DiffTooLarge:
        return None
    return by_property(sequence, held, subjects)


def by_property(sequence: int, held: dict[Quad, bool], subjects: frozenset[str]) -> list[PropertyChange]:
    """Net statements (``diff.net``) as old/new values per subject and predicate, of ``subjects`` only."""
    added, removed = statements(held)
    found: dict[tuple[str, str], PropertyChange] = {}
    for side, listed in (("new", added), ("old", removed)):
        for st in listed:
            if getattr(st.subject, "value", None) not in subjects:
                continue
            key = (str(st.subject), str(st.predicate))
            getattr(found.setdefault(key, PropertyChange(sequence, st.subject, st.predicate)), side).append(st.object)
    for item in found.values():
        item.old.sort(key=str)
        item.new.sort(key=str)
    return [found[key] for key in sorted(found)]


def text(item: PropertyChange) -> str:
    """``<s> <p>: old, … → new, …`` in N-Triples terms (``∅``: no value), exact for the CSV export."""
    old = ", ".join(str(t) for t in item.old) or "∅"
    new = ", ".join(str(t) for t in item.new) or "∅"
    return f"{item.subject} {item.predicate}: {old} → {new}"
