"""A record's history: every change set that changed it, with its time, agent, reason and old/new values.

For a batch of records at once (GraphQL asks for a whole nesting level): one query finds the change sets that may
touch any of them — a statement-level row about one, a graph removed whole whose archive holds one, a graph added
whole that held one (now, in its archive, or before a later change removed it in place) — then each of those change
sets is read once for all the records it may touch (``values.values``). A change set that only moved a record's
statements between graphs (a delta load restating it unchanged) changed nothing and is left out. Store calls grow
with the change sets found, never with the number of records.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pyoxigraph as ox

from threadline.history import patch
from threadline.history.diff import Readable, net
from threadline.history.patch import Bound
from threadline.history.values import PropertyChange, by_property
from threadline.namespaces import RDF, TL
from threadline.store import Store

LIMIT = 100_000  # statements one change set may touch, of the records asked for, before it is refused


@dataclass
class Entry:
    """One change set that changed the record: the audit entry's facts and the record's properties it changed."""

    change: patch.Change
    values: list[PropertyChange] = field(default_factory=list)


def candidates(store: Store, iris: Iterable[str]) -> dict[int, set[str]]:
    """Change sequence -> the records it may touch (a superset: ``history`` drops those it did not change)."""
    keys = " ".join(str(ox.NamedNode(i)) for i in sorted(set(iris)))
    if not keys:
        return {}
    held = f"<{RDF}subject> ?key"
    answer = store.select(
        f"SELECT DISTINCT ?seq ?key WHERE {{ VALUES ?key {{ {keys} }} "
        f"{{ GRAPH ?c {{ ?r {held} . ?cs <{TL}changeSequence> ?seq }} }} "
        f"UNION {{ GRAPH ?c {{ ?cs <{TL}removedGraph> ?g ; <{TL}changeSequence> ?seq . ?g <{TL}archivedIn> ?a }} "
        f"GRAPH ?a {{ ?st {held} }} }} "
        f"UNION {{ GRAPH ?c {{ ?cs <{TL}addedGraph> ?g ; <{TL}changeSequence> ?seq }} "
        f"{{ GRAPH ?g {{ ?key ?p ?o }} }} UNION {{ GRAPH ?d {{ ?r {held} ; <{TL}graph> ?g }} }} "
        f"UNION {{ GRAPH ?d {{ ?g <{TL}archivedIn> ?a }} GRAPH ?a {{ ?st {held} }} }} }} }}"
    )
    found: dict[int, set[str]] = {}
    for seq, key in answer.rows:
        found.setdefault(int(seq.value), set()).add(key.value)  # type: ignore[union-attr]  # bound by the query
    return found


def history(store: Store, iris: Iterable[str], readable: Readable = lambda graph: True) -> dict[str, list[Entry]]:
    """Each record's changes, oldest first (records no change set changed map to an empty list)."""
    wanted = sorted(set(iris))
    out: dict[str, list[Entry]] = {iri: [] for iri in wanted}
    found = candidates(store, wanted)
    if not found:
        return out
    low, high = min(found) - 1, max(found)
    facts = {c.sequence: c for c in patch.changes(store, Bound(sequence=low), Bound(sequence=high), None)}
    for sequence in sorted(found):
        if sequence not in facts:
            continue
        subjects = frozenset(found[sequence])
        held = net(store, [sequence], subjects=subjects, readable=readable, limit=LIMIT)  # past it: DiffTooLarge
        for item in by_property(sequence, held, subjects):
            iri = item.subject.value  # type: ignore[union-attr]  # ``values`` keeps named subjects only
            entries = out[iri]
            if not entries or entries[-1].change.sequence != sequence:
                entries.append(Entry(facts[sequence]))
            entries[-1].values.append(item)
    return out
