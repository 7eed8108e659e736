"""Change sets as RDF Patch (https://afs.github.io/rdf-delta/rdf-patch.html), and the replay a replica runs.

One patch per change set, in sequence order::

    H id <https://w3id.org/threadline/id/change/N> .
    H prev <https://w3id.org/threadline/id/change/N-1> .   (absent on the first change set the store has)
    H time "…"^^xsd:dateTime .  H agent "…" .  H action "…" .  H reason "…" .  H entry <…/id/audit/N> .
    H activity <…> .  H source "batch-key sha256" .                                  (loads)
    TX .
    D s p o g .   … every removal first: graphs removed whole (from their archive), then statement-level
    A s p o g .   … then every addition: statement-level, then graphs added whole
    TC .

The two halves are disjoint (a change set holds effective changes), so all D rows before all A rows replays
exactly. A graph added whole is printed as it was *at that change*: its current content (or, if a later change
removed it whole, that change's archive of it) with what later change sets changed in place undone: for each
quad the first later change touching it decides (it added the quad: absent then; it removed it: present). The
base content is streamed; only the later in-place changes of that graph are held in memory.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, BinaryIO

import pyoxigraph as ox

from threadline.errors import QueryError
from threadline.history.changeset import ADDITION, change_graph, change_iri
from threadline.namespaces import AUDIT_GRAPH, CHANGE_PREFIX, DEFAULT_GRAPH, ID, RDF, TL, XSD
from threadline.store import Store, text_or_none

_INT = re.compile(r"[0-9]{1,18}")
_DATETIME = re.compile(r"-?[0-9]{4,}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})")
_REIFIED = f"<{RDF}subject> ?s ; <{RDF}predicate> ?p ; <{RDF}object> ?o"


class BadBound(QueryError):
    """A ``since`` or ``until`` that is neither a change id nor an xsd:dateTime with its zone (HTTP 400)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field

    def details(self) -> dict[str, str]:
        return {"field": self.field}


@dataclass(frozen=True)
class Bound:
    """A change id (``sequence``) or an instant (``time``, xsd:dateTime with its zone)."""

    sequence: int | None = None
    time: str | None = None

    def sparql(self, op: str) -> str:
        if self.sequence is not None:
            return f"FILTER(?seq {op} {self.sequence})"
        return f'FILTER(?time {op} "{self.time}"^^<{XSD}dateTime>)'


def bound(text: str | None, field: str) -> Bound | None:
    """``text`` as a bound: ``N``, the change's IRI, or an xsd:dateTime with its zone; BadBound otherwise."""
    if text is None:
        return None
    text = text.strip()
    number = text.removeprefix(CHANGE_PREFIX).removeprefix("<" + CHANGE_PREFIX).removesuffix(">")
    if _INT.fullmatch(number):
        return Bound(sequence=int(number))
    stamp = text.upper()  # RFC 3339 lets a date-time write its "T" and "Z" in lower case
    if not _DATETIME.fullmatch(stamp):
        raise BadBound(
            field, f"{text!r} is neither a change id (N or <{CHANGE_PREFIX}N>) nor an xsd:dateTime with its zone"
        )
    try:
        datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadBound(field, f"{text!r} is not a valid date and time: {exc}") from exc
    return Bound(time=stamp)


@dataclass(frozen=True)
class Change:
    """One change set and the audit entry it belongs to."""

    sequence: int
    time: str
    actor: str
    action: str
    what: dict
    reason: str | None


def changes(store: Store, since: Bound | None, until: Bound | None, limit: int | None) -> list[Change]:
    """The change sets after ``since`` up to ``until`` (inclusive), oldest first, at most ``limit``."""
    filters = (since.sparql(">") if since else "") + (until.sparql("<=") if until else "")
    rows = store.select(
        f"SELECT ?seq ?time ?actor ?action ?what ?why WHERE {{ GRAPH ?c {{ ?cs a <{TL}ChangeSet> ; "
        f"<{TL}changeSequence> ?seq ; <{TL}auditEntry> ?e }} GRAPH <{AUDIT_GRAPH}> {{ ?e <{TL}recordedAt> ?time ; "
        f"<{TL}actor> ?actor ; <{TL}auditAction> ?action ; <{TL}changeDetail> ?what "
        f"OPTIONAL {{ ?e <{TL}reason> ?why }} }} {filters} }} ORDER BY ?seq"
        + (f" LIMIT {limit}" if limit is not None else "")
    ).rows
    return [
        Change(int(s.value), t.value, a.value, c.value, json.loads(w.value), y.value if y is not None else None)  # type: ignore[union-attr]  # the query binds every cell but ?why
        for s, t, a, c, w, y in rows
    ]


def first(store: Store) -> int | None:
    """The sequence of the oldest change set: history starts there (a store from before change sets, or migrated)."""
    rows = store.select(f"SELECT (MIN(?seq) AS ?first) WHERE {{ GRAPH ?c {{ ?cs <{TL}changeSequence> ?seq }} }}").rows
    value = text_or_none(rows[0][0]) if rows else None
    return int(value) if value is not None else None


def write(store: Store, selected: Iterable[Change], out: BinaryIO | IO[bytes]) -> int:
    """Write the patches of ``selected`` to ``out``; returns how many."""
    start = first(store)
    count = 0
    for change in selected:
        out.write(b"".join(_headers(change, start)))
        out.write(b"TX .\n")
        for quad in removals(store, change.sequence):
            out.write(_row(b"D", quad))
        out.writelines(additions(store, change.sequence))
        out.write(b"TC .\n")
        count += 1
    return count


def _headers(change: Change, start: int | None) -> Iterator[bytes]:
    def h(key: str, term: object) -> bytes:
        return f"H {key} {term} .\n".encode()

    yield h("id", ox.NamedNode(change_iri(change.sequence)))
    if start is not None and change.sequence > start:
        yield h("prev", ox.NamedNode(change_iri(change.sequence - 1)))
    yield h("time", ox.Literal(change.time, datatype=ox.NamedNode(XSD + "dateTime")))
    yield h("agent", ox.Literal(change.actor))
    yield h("action", ox.Literal(change.action))
    if change.reason:
        yield h("reason", ox.Literal(change.reason))
    yield h("entry", ox.NamedNode(f"{ID}audit/{change.sequence}"))
    if isinstance(change.what.get("activity"), str):
        yield h("activity", ox.NamedNode(change.what["activity"]))
    for key, digest in sorted((change.what.get("batches") or {}).items()):
        yield h("source", ox.Literal(f"{key} sha256:{digest}"))


Quad = tuple[ox.NamedNode | ox.BlankNode | ox.Triple, ox.NamedNode, object, str]


def _row(kind: bytes, quad: Quad) -> bytes:
    s, p, o, g = quad
    graph = "" if g == DEFAULT_GRAPH else f" {ox.NamedNode(g)}"
    return kind + f" {s} {p} {o}{graph} .\n".encode()


def stream_rows(store: Store, query: str) -> Iterator[tuple]:
    """A SELECT's rows, streamed from an embedded store (an archive may hold millions); a remote store's answer
    is read whole (the protocol's result document)."""
    from threadline.store import EmbeddedStore

    if isinstance(store, EmbeddedStore):
        solutions = store.native.query(query)
        assert isinstance(solutions, ox.QuerySolutions)
        width = len(solutions.variables)
        for solution in solutions:
            yield tuple(solution[i] for i in range(width))
        return
    yield from store.select(query).rows


def removals(store: Store, sequence: int) -> Iterator[Quad]:
    """The D rows: graphs removed whole (their archive), then statement-level removals."""
    node, target = change_iri(sequence), change_graph(sequence)
    removed = store.select(
        f"SELECT ?g ?a WHERE {{ GRAPH <{target}> {{ <{node}> <{TL}removedGraph> ?g . ?g <{TL}archivedIn> ?a }} }} "
        "ORDER BY ?g"
    ).rows
    for graph, archive in removed:
        for s, p, o in archived(store, graph.value, archive.value):  # type: ignore[union-attr]  # bound by the query
            yield s, p, o, graph.value  # type: ignore[union-attr]  # bound by the query
    yield from _recorded(store, sequence, added=False)


def additions(store: Store, sequence: int) -> Iterator[bytes]:
    """The A rows: statement-level additions, then graphs added whole, as they were at this change."""
    for quad in _recorded(store, sequence, added=True):
        yield _row(b"A", quad)
    node, target = change_iri(sequence), change_graph(sequence)
    added = store.select(f"SELECT ?g WHERE {{ GRAPH <{target}> {{ <{node}> <{TL}addedGraph> ?g }} }} ORDER BY ?g")
    for graph in added.values("g"):
        removed_at, decided = later_changes(store, graph, sequence)
        if removed_at is None and not decided:  # the graph as it is now: its dump's lines, rewritten as rows
            yield from _dumped_rows(store, graph)
            continue
        for s, p, o in as_of(store, graph, sequence, (removed_at, decided)):
            yield _row(b"A", (s, p, o, graph))


def _dumped_rows(store: Store, graph: str) -> Iterator[bytes]:
    suffix = f" {ox.NamedNode(graph)} .\n".encode()
    with tempfile.TemporaryFile() as spool:
        store.dump(spool, ox.RdfFormat.N_TRIPLES, graph=graph)
        spool.seek(0)
        for line in spool:
            triple = line.rstrip()
            if triple:
                yield b"A " + triple.removesuffix(b".").rstrip() + suffix


def _recorded(store: Store, sequence: int, *, added: bool) -> Iterator[Quad]:
    kind = ADDITION if added else TL + "Removal"
    query = (
        f"SELECT ?s ?p ?o ?g WHERE {{ GRAPH <{change_graph(sequence)}> {{ ?r a <{kind}> ; {_REIFIED} ; "
        f"<{TL}graph> ?g }} }}"
    )
    for s, p, o, g in stream_rows(store, query):
        yield s, p, o, g.value


def archived(store: Store, graph: str, archive: str) -> Iterator[tuple]:
    """The statements of ``graph`` an archive holds (an archive may also hold statements a delta load retracted
    from other graphs: those name their graph)."""
    yield from stream_rows(
        store,
        f"SELECT ?s ?p ?o WHERE {{ GRAPH <{archive}> {{ ?st {_REIFIED} FILTER NOT EXISTS {{ "
        f"?st <{TL}archivedFromGraph> ?from FILTER(?from != <{graph}>) }} }} }}",
    )


def later_changes(store: Store, graph: str, sequence: int) -> tuple[int | None, dict[tuple, bool]]:
    """After change ``sequence``: the change that removed ``graph`` whole (None: none did), and for each quad that
    a change set before it changed in place, whether it was present just after ``sequence`` (the first later
    change touching it decides: it added the quad, so absent then; it removed it, so present)."""
    gone = store.select(
        f"SELECT ?seq WHERE {{ GRAPH ?c {{ ?cs <{TL}removedGraph> <{graph}> ; <{TL}changeSequence> ?seq }} "
        f"FILTER(?seq > {sequence}) }} ORDER BY ?seq LIMIT 1"
    ).values("seq")
    removed_at = int(gone[0]) if gone else None
    upper = f" && ?seq < {removed_at}" if removed_at is not None else ""
    later = store.select(
        f"SELECT ?seq ?kind ?s ?p ?o WHERE {{ GRAPH ?c {{ ?r <{TL}graph> <{graph}> ; a ?kind ; {_REIFIED} . "
        f"?cs <{TL}changeSequence> ?seq }} FILTER(?seq > {sequence}{upper}) }}"
    ).rows
    decided: dict[tuple, bool] = {}
    for _, kind, s, p, o in sorted(later, key=lambda row: -int(row[0].value)):  # type: ignore[union-attr]  # bound
        decided[(s, p, o)] = kind.value != ADDITION  # type: ignore[union-attr]  # bound by the query
    return removed_at, decided


def as_of(
    store: Store, graph: str, sequence: int, later: tuple[int | None, dict[tuple, bool]] | None = None
) -> Iterator[tuple]:
    """The triples ``graph`` held just after change ``sequence``, streamed (see the module docstring)."""
    removed_at, decided = later or later_changes(store, graph, sequence)
    if removed_at is not None:
        archive = store.select(
            f"SELECT ?a WHERE {{ GRAPH <{change_graph(removed_at)}> {{ <{graph}> <{TL}archivedIn> ?a }} }}"
        ).values("a")
        base: Iterable[tuple] = archived(store, graph, archive[0])
    else:
        base = current(store, graph)
    for triple in base:
        if triple not in decided:
            yield triple
    yield from (triple for triple, present in decided.items() if present)


def current(store: Store, graph: str) -> Iterator[tuple]:
    with tempfile.TemporaryFile() as spool:
        store.dump(spool, ox.RdfFormat.N_TRIPLES, graph=graph)
        spool.seek(0)
        for triple in ox.parse(spool, ox.RdfFormat.N_TRIPLES):
            yield triple.subject, triple.predicate, triple.object
