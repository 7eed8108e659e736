"""What the thread gained and lost between two instants, computed from the change sets between them.

The state at an instant is the state after the last change set recorded at or before it, so a window is the change
sets after ``from`` up to ``to`` (``patch.bound`` reads both, as ``GET /changes`` reads ``since`` and ``until``).
Each change set's rows (``rows``: graphs removed whole from their archive, statement-level removals and additions,
graphs added whole as they were at that change) are folded into one *net* set of quads: a quad added and removed
again inside the window is no change, nor is one removed and put back. That set is exact: applied as RDF Patch to
the state at ``from`` it gives the state at ``to`` (of the graphs the caller may read).

Records are what people read: the net quads as statements grouped by subject, a blank node's statements under the
record that links to it. A statement that left one graph the caller may read and entered another is no change for
them (a delta load restating a record moves its unchanged statements into the new batch graph) and is left out.

Memory holds the net quads of the window, never more than ``limit`` of them: past it the diff is refused
(``DiffTooLarge``, 422) rather than cut short; a narrower window or a ``subject`` makes it fit.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from urllib.parse import unquote

import pyoxigraph as ox

from threadline.errors import QueryError
from threadline.history import patch
from threadline.history.changeset import ADDITION, REMOVAL, change_graph, change_iri
from threadline.history.patch import BadBound, Bound
from threadline.namespaces import AUDIT_GRAPH, ID, IDENTIFIERS, RDF, RDFS, TL
from threadline.store import EmbeddedStore, Store, text_or_none

Term = ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple
Quad = tuple[Term, Term, Term, str]
Triple = tuple[Term, Term, Term]
Readable = Callable[[str], bool]
LABEL = RDFS + "label"
TYPE = RDF + "type"
_REIFIED = f"<{RDF}subject> {{s}} ; <{RDF}predicate> {{p}} ; <{RDF}object> {{o}}"


class DiffTooLarge(QueryError):
    """A diff would hold more statements than ``THREADLINE_DIFF_MAX_STATEMENTS``: refused, never cut short."""

    status = 422
    header = "result-too-large"


@dataclass(frozen=True)
class Window:
    """The change sets after change ``start`` up to change ``end`` (the states at ``from`` and at ``to``)."""

    start: int
    end: int
    changes: list[patch.Change]


@dataclass
class Statement:
    """A triple that entered (or left) the graphs named, and no other graph the caller may read left (entered)."""

    subject: Term
    predicate: Term
    object: Term
    graphs: list[str]


@dataclass
class Record:
    """One subject's added and removed statements (its blank nodes' included), with how people name it."""

    subject: Term
    type: str | None = None
    label: str | None = None
    added: list[Statement] = field(default_factory=list)
    removed: list[Statement] = field(default_factory=list)


def window(store: Store, since: str | None, until: str | None) -> Window:
    """The window from ``since`` (required) to ``until`` (default: the last change), each a change id or an
    xsd:dateTime with its zone; ``BadBound`` (400) naming ``from`` or ``to`` when one cannot be answered."""
    if since is None or not since.strip():
        raise BadBound("from", "is required: a change id (N or its IRI) or an xsd:dateTime with its zone")
    if until is not None and not until.strip():
        raise BadBound("to", "is empty: give a change id or an xsd:dateTime with its zone, or leave it out")
    low, high = patch.bound(since, "from"), patch.bound(until, "to")
    last = _last(store)
    start = _resolve(store, low, "from", last)  # type: ignore[arg-type]  # ``since`` is given, so ``low`` is too
    end = last if high is None else _resolve(store, high, "to", last)
    if end < start:
        raise BadBound("to", f"is change {end}, before from (change {start})")
    first = patch.first(store)
    if first is not None and start < first - 1:
        raise BadBound("from", f"is before the store's history, which starts at change {first}")
    return Window(start, end, patch.changes(store, Bound(sequence=start), Bound(sequence=end), None))


def _last(store: Store) -> int:
    rows = store.select(f"SELECT (MAX(?seq) AS ?last) WHERE {{ GRAPH ?c {{ ?cs <{TL}changeSequence> ?seq }} }}").rows
    value = text_or_none(rows[0][0]) if rows else None
    return int(value) if value else 0


def _resolve(store: Store, bound: Bound, name: str, last: int) -> int:
    """The change whose state is the state at ``bound``: the change itself, or the last one at or before a time."""
    if bound.sequence is not None:
        if bound.sequence > last:
            raise BadBound(name, f"there is no change {bound.sequence} yet (the last is {last})")
        return bound.sequence
    rows = store.select(
        f"SELECT (MAX(?seq) AS ?at) WHERE {{ GRAPH ?c {{ ?cs <{TL}changeSequence> ?seq ; <{TL}auditEntry> ?e }} "
        f"GRAPH <{AUDIT_GRAPH}> {{ ?e <{TL}recordedAt> ?time }} {bound.sparql('<=')} }}"
    ).rows
    value = text_or_none(rows[0][0]) if rows else None
    return int(value) if value else 0


# -- the rows of one change set -------------------------------------------------------------------------------


def rows(
    store: Store, sequence: int, subjects: frozenset[str] | None = None
) -> Generator[tuple[bool, Quad], None, None]:
    """(added?, quad) for every quad change set ``sequence`` removed or added. With ``subjects``, only their
    statements and those of the blank nodes they link to (one link deep); every blank node's statement-level rows."""
    node, target = change_iri(sequence), change_graph(sequence)
    removed = store.select(
        f"SELECT ?g ?a WHERE {{ GRAPH <{target}> {{ <{node}> <{TL}removedGraph> ?g . ?g <{TL}archivedIn> ?a }} }}"
    ).rows
    for graph, archive in removed:
        for s, p, o in _archived(store, graph.value, archive.value, subjects):  # type: ignore[union-attr]  # bound
            yield False, (s, p, o, graph.value)  # type: ignore[union-attr]  # bound by the query
    wanted = "" if subjects is None else f"FILTER(isBlank(?s) || ?s IN ({_iris(subjects)}))"
    recorded = (
        f"SELECT ?kind ?s ?p ?o ?g WHERE {{ GRAPH <{target}> {{ ?r a ?kind ; "
        f"{_REIFIED.format(s='?s', p='?p', o='?o')} ; <{TL}graph> ?g }} {wanted} }}"
    )
    for kind, s, p, o, g in patch.stream_rows(store, recorded):
        if kind.value in (ADDITION, REMOVAL):
            yield kind.value == ADDITION, (s, p, o, g.value)
    added = store.select(f"SELECT ?g WHERE {{ GRAPH <{target}> {{ <{node}> <{TL}addedGraph> ?g }} }}").values("g")
    for whole in added:
        for s, p, o in _as_added(store, whole, sequence, subjects):
            yield True, (s, p, o, whole)


def _iris(subjects: Iterable[str]) -> str:
    return ", ".join(str(ox.NamedNode(s)) for s in sorted(subjects))


def _about(subjects: frozenset[str] | None, triple: Callable[[str, str, str, str], str]) -> str:
    """A group pattern binding ``?s ?p ?o`` to the statements of ``subjects`` and of their blank nodes;
    ``triple(s, p, o, name)`` writes one statement's pattern (``name``: a variable free for its own use)."""
    if subjects is None:
        return triple("?s", "?p", "?o", "?st")
    values = " ".join(str(ox.NamedNode(s)) for s in sorted(subjects))
    return (
        f"{{ VALUES ?s {{ {values} }} {triple('?s', '?p', '?o', '?st')} }} UNION "
        f"{{ VALUES ?owner {{ {values} }} {triple('?owner', '?via', '?s', '?link')} FILTER(isBlank(?s)) "
        f"{triple('?s', '?p', '?o', '?st')} }}"
    )


def _archived(store: Store, graph: str, archive: str, subjects: frozenset[str] | None) -> Iterator[tuple]:
    if subjects is None:
        yield from patch.archived(store, graph, archive)
        return

    def reified(s: str, p: str, o: str, name: str) -> str:
        return (
            f"{name} {_REIFIED.format(s=s, p=p, o=o)} FILTER NOT EXISTS {{ {name} <{TL}archivedFromGraph> ?from "
            f"FILTER(?from != <{graph}>) }}"
        )

    yield from patch.stream_rows(
        store, f"SELECT ?s ?p ?o WHERE {{ GRAPH <{archive}> {{ {_about(subjects, reified)} }} }}"
    )


def _as_added(store: Store, graph: str, sequence: int, subjects: frozenset[str] | None) -> Iterator[tuple]:
    """What ``graph``, added whole by change ``sequence``, held then (of ``subjects``, when given)."""
    if subjects is None:
        yield from patch.as_of(store, graph, sequence)
        return
    removed_at, decided = patch.later_changes(store, graph, sequence)
    if removed_at is None:
        pattern = _about(subjects, lambda s, p, o, _: f"{s} {p} {o} .")
        base: Iterable[tuple] = patch.stream_rows(store, f"SELECT ?s ?p ?o WHERE {{ GRAPH <{graph}> {{ {pattern} }} }}")
    else:
        archive = store.select(
            f"SELECT ?a WHERE {{ GRAPH <{change_graph(removed_at)}> {{ <{graph}> <{TL}archivedIn> ?a }} }}"
        ).values("a")
        base = _archived(store, graph, archive[0], subjects)
    for triple in base:
        if triple not in decided:
            yield triple
    for triple, present in decided.items():
        if present and (isinstance(triple[0], ox.BlankNode) or getattr(triple[0], "value", None) in subjects):
            yield triple


# -- net change over a window ----------------------------------------------------------------------------------


def net(
    store: Store,
    sequences: Iterable[int],
    *,
    subjects: frozenset[str] | None = None,
    readable: Readable = lambda graph: True,
    limit: int | None = None,
) -> dict[Quad, bool]:
    """Quad -> True (added) / False (removed) over the change sets ``sequences``, in order, of the graphs
    ``readable`` allows."""
    held: dict[Quad, bool] = {}
    for sequence in sequences:
        with closing(rows(store, sequence, subjects)) as found:  # an open result must not outlive a refusal
            for added, quad in found:
                if not readable(quad[3]):
                    continue
                if quad in held:
                    if held[quad] != added:
                        del held[quad]  # added then removed, or removed then put back: no change
                    continue
                held[quad] = added
                if limit is not None and len(held) > limit:
                    raise DiffTooLarge(
                        f"the diff holds more than {limit} statements: give a narrower window or a subject "
                        "(the limit is THREADLINE_DIFF_MAX_STATEMENTS)"
                    )
    return held


def statements(held: dict[Quad, bool]) -> tuple[list[Statement], list[Statement]]:
    """(added, removed) triples: a triple that entered some graph and left another is left out (moved)."""
    graphs: dict[Triple, tuple[list[str], list[str]]] = {}
    for (s, p, o, g), added in held.items():
        graphs.setdefault((s, p, o), ([], []))[0 if added else 1].append(g)
    added_out: list[Statement] = []
    removed_out: list[Statement] = []
    for (s, p, o), (into, out_of) in graphs.items():
        if into and not out_of:
            added_out.append(Statement(s, p, o, sorted(into)))
        elif out_of and not into:
            removed_out.append(Statement(s, p, o, sorted(out_of)))
    return added_out, removed_out


def records(
    store: Store,
    held: dict[Quad, bool],
    subjects: frozenset[str] | None = None,
    graphs: list[str] | None = None,
) -> list[Record]:
    """The net statements by record (a blank node's under the record linking to it), each record named as the
    pages name it; only ``subjects``' records when given. ``graphs``: the graphs to look names up in (None: all)."""
    added, removed = statements(held)
    owner = _owners(store, [*added, *removed])
    found: dict[Term, Record] = {}
    for side, listed in (("added", added), ("removed", removed)):
        for statement in listed:
            key = owner(statement.subject)
            if subjects is not None and getattr(key, "value", None) not in subjects:
                continue
            getattr(found.setdefault(key, Record(key)), side).append(statement)
    _name(store, found, graphs)
    for record in found.values():
        record.added.sort(key=_order)
        record.removed.sort(key=_order)
    return sorted(found.values(), key=lambda r: (isinstance(r.subject, ox.BlankNode), str(r.subject)))


def _order(statement: Statement) -> tuple[str, str, str]:
    return str(statement.subject), str(statement.predicate), str(statement.object)


def _owners(store: Store, listed: list[Statement]) -> Callable[[Term], Term]:
    """subject -> the record it belongs to: itself, or for a blank node the subject linking to it (from the diff's
    own statements, else from the store as it is now), followed up to a named node."""
    links = {st.object: st.subject for st in listed if isinstance(st.object, ox.BlankNode)}

    def owner(subject: Term) -> Term:
        seen: set[Term] = set()
        while isinstance(subject, ox.BlankNode) and subject not in seen:
            seen.add(subject)
            parent = links.get(subject)
            if parent is None and isinstance(store, EmbeddedStore):
                parent = next((q.subject for q in store.native.quads_for_pattern(None, None, subject)), None)
            if parent is None:
                break
            subject = parent
        return subject

    return owner


def _name(store: Store, found: dict[Term, Record], graphs: list[str] | None) -> None:
    """Type and label of each record: from the store as it is now, else from the diff's own statements (a record
    deleted in the window, or since). Label: rdfs:label, else the first identifier (``namespaces.IDENTIFIERS``),
    else the IRI's key."""
    rank = {LABEL: -1} | {TL + local: i for i, local in enumerate(IDENTIFIERS)}
    named = [r for r in found.values() if isinstance(r.subject, ox.NamedNode)]
    facts: dict[Term, list[tuple[Term, Term]]] = {}
    for start in range(0, len(named), 500):
        chunk = named[start : start + 500]
        values = " ".join(str(r.subject) for r in chunk)
        props = ", ".join(f"<{p}>" for p in [TYPE, *rank])
        answer = store.select(
            f"SELECT ?s ?p ?o WHERE {{ VALUES ?s {{ {values} }} ?s ?p ?o FILTER(?p IN ({props})) }}",
            default_graphs=graphs,
        )
        for s, p, o in answer.rows:
            facts.setdefault(s, []).append((p, o))  # type: ignore[arg-type]  # bound by the query
    for record in named:
        known = facts.get(record.subject) or [
            (st.predicate, st.object) for st in [*record.removed, *record.added] if st.subject == record.subject
        ]
        pairs = [(text_or_none(p) or "", o) for p, o in known]
        types = sorted(o.value for p, o in pairs if p == TYPE and isinstance(o, ox.NamedNode))
        record.type = next((t for t in types if t.startswith(TL)), types[0] if types else None)
        labels = sorted((rank[p], o.value) for p, o in pairs if p in rank and isinstance(o, ox.Literal))
        record.label = labels[0][1] if labels else _key(text_or_none(record.subject) or "")


def _key(iri: str) -> str | None:
    """``…/id/op/OP-7`` -> ``OP-7``: the key the IRI was minted from, as the reports name a record without an
    identifier (revisions, operations, BOM lines)."""
    _, found, rest = iri.partition(ID)
    return unquote(rest.partition("/")[2] or rest) if found else None


@dataclass
class Diff:
    """A window's net quads (exact) and their records (what people read)."""

    window: Window
    held: dict[Quad, bool]
    records: list[Record]


def subject_of(text: str | None) -> frozenset[str] | None:
    """The ``subject`` parameter: an absolute IRI (``<…>`` allowed), or BadBound naming ``subject``."""
    if text is None:
        return None
    iri = text.strip().removeprefix("<").removesuffix(">")
    try:
        ox.NamedNode(iri)
    except ValueError:
        iri = ""
    if ":" not in iri:
        raise BadBound("subject", f"{text!r} is not an absolute IRI")
    return frozenset({iri})


def diff(
    store: Store,
    since: str | None,
    until: str | None,
    *,
    subject: str | None = None,
    readable: Readable = lambda graph: True,
    graphs: list[str] | None = None,
    limit: int | None = None,
) -> Diff:
    """The net change from ``since`` to ``until`` of the graphs ``readable`` allows (``graphs``: the same graphs
    as a list, to name records by; None: every graph), of ``subject``'s record only when given."""
    subjects = subject_of(subject)
    found = window(store, since, until)
    held = net(store, [c.sequence for c in found.changes], subjects=subjects, readable=readable, limit=limit)
    return Diff(found, held, records(store, held, subjects, graphs))
