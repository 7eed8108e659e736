"""Undo one change set, and the bookkeeping of its audit entry, on a private pyoxigraph store (an as-of state being
built by ``threadline.history.asof``; every later change set is undone already).

Data: the change's statement-level additions are removed and its removals put back (the very terms, blank nodes
included: the change graph holds them); graphs it added whole are dropped (they hold what it added, later
changes being undone), graphs it removed whole are restored from their archive.

Bookkeeping: the audit entry and the change graph go, and so does what the write archived. An archive named for
the entry (``archive/audit-M``) is dropped whole. The archive of a graph (``audit.archive_iri``) accumulates over
many writes, with nothing saying which write added which reified node; nodes of equal content are
interchangeable, so this takes out one node per statement the write archived: a delta load's retractions (its
removals, ``tl:archivedFromGraph``), and for a write archiving a graph whole (a snapshot load's superseded graph,
``DROP``/``CLEAR``/``COPY``/``MOVE``, Graph Store ``PUT``/``DELETE``) the graph's statements just before the
write — which is the graph as this undo leaves it. Exact for one archiving operation per graph per request; a
request that writes a graph and then archives it whole would leave the statements it wrote in the archive.
Tokens, which change sets do not carry, are undone from the audit entry (it names the token).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pyoxigraph as ox

from threadline.errors import StoreError
from threadline.history.changeset import ADDITION, REMOVAL, change_graph, change_iri
from threadline.namespaces import (
    ARCHIVE_PREFIX,
    AUDIT_GRAPH,
    DEFAULT_GRAPH,
    ID,
    RDF,
    SECURITY_GRAPH,
    TL,
    XSD,
    archive_iri,
)

CHUNK = 50_000  # quads inserted per call while undoing
TOKEN_PREFIX = ID + "token/"
_SUBJECT, _PREDICATE, _OBJECT = (ox.NamedNode(RDF + n) for n in ("subject", "predicate", "object"))
_FROM_GRAPH = ox.NamedNode(TL + "archivedFromGraph")
_MARKER = ox.NamedNode(TL + "archivedGraph")
_BOOLEAN = ox.NamedNode(XSD + "boolean")

Graph = ox.NamedNode | ox.DefaultGraph


def graph_term(graph: str) -> Graph:
    return ox.DefaultGraph() if graph == DEFAULT_GRAPH else ox.NamedNode(graph)


def value(term: object) -> str:
    """A term's lexical value (an RDF-star triple, which has none, as its N-Triples text)."""
    return str(term) if isinstance(term, ox.Triple) else str(getattr(term, "value", term))


def entry_node(sequence: int) -> ox.NamedNode:
    return ox.NamedNode(f"{ID}audit/{sequence}")


def undo(db: ox.Store, sequence: int, first: Callable[[], dict[str, int]]) -> None:
    """Undo change set ``sequence`` and its bookkeeping in ``db``; ``first`` gives ``first_archivals(db)`` (asked
    only when the change archived a graph whole: it parses every update kept in the audit trail)."""
    audit = ox.NamedNode(AUDIT_GRAPH)
    fields = {q.predicate.value: value(q.object) for q in db.quads_for_pattern(entry_node(sequence), None, None, audit)}
    action, what = fields.get(TL + "auditAction"), json.loads(fields.get(TL + "changeDetail") or "{}")
    touched: set[str] = set()
    removed = _undo_statements(db, sequence, touched)
    _undo_graphs(db, sequence, touched)
    if action == "upsert":  # its retractions, archived into the archives of the batch graphs it loaded
        pending = _count((graph, *statement) for graph, statements in removed.items() for statement in statements)
        for archive in (what.get("archives") or {}).values():
            _unarchive(db, archive, pending, touched)
    whole = archived_whole(action, what)
    if whole is None:
        raise CannotUndo(
            f"change {sequence} is a SPARQL Update too long to be kept in its audit entry: what it archived is not "
            "known, so the state before it cannot be rebuilt exactly"
        )
    for graph in whole if action != "load" else ():  # a load's superseded graphs: restored with the data
        _unarchive(db, archive_iri(graph), _count((None, *t) for t in _triples(db, graph)), touched)
    for graph in whole:
        if first().get(graph, 0) >= sequence:  # archived for the first time by this write: no marker before it
            archive = ox.NamedNode(archive_iri(graph))
            for marker in list(db.quads_for_pattern(archive, _MARKER, None, archive)):
                db.remove(marker)
    if action in ("token-create", "token-revoke"):
        _undo_token(db, action, str(what.get("token")))
    for quad in list(db.quads_for_pattern(entry_node(sequence), None, None, audit)):
        db.remove(quad)
    db.remove_graph(ox.NamedNode(change_graph(sequence)))
    own = ox.NamedNode(f"{ARCHIVE_PREFIX}audit-{sequence}")
    if db.contains_named_graph(own):
        db.remove_graph(own)
    for graph in touched:  # a graph this undo emptied did not exist before the change (change sets add by quads)
        node = ox.NamedNode(graph)
        if graph != DEFAULT_GRAPH and next(iter(db.quads_for_pattern(None, None, None, node)), None) is None:
            db.remove_graph(node)


def _reified(db: ox.Store, sequence: int, kind: str) -> Iterator[ox.Quad]:
    solutions = db.query(
        f"SELECT ?s ?p ?o ?g WHERE {{ GRAPH <{change_graph(sequence)}> {{ ?r a <{kind}> ; <{RDF}subject> ?s ; "
        f"<{RDF}predicate> ?p ; <{RDF}object> ?o ; <{TL}graph> ?g }} }}"
    )
    assert isinstance(solutions, ox.QuerySolutions)
    for s, p, o, g in solutions:
        yield ox.Quad(s, p, o, graph_term(value(g)))


def _name(graph: object) -> str:
    return graph.value if isinstance(graph, ox.NamedNode) else DEFAULT_GRAPH


def _undo_statements(db: ox.Store, sequence: int, touched: set[str]) -> dict[str, list[tuple]]:
    """Remove the change's statement-level additions, put back its removals; returns the removals by graph."""
    for quad in list(_reified(db, sequence, ADDITION)):
        db.remove(quad)
        touched.add(_name(quad.graph_name))
    removed: dict[str, list[tuple]] = {}
    for chunk in _chunks(_reified(db, sequence, REMOVAL)):
        db.extend(chunk)
        for quad in chunk:
            removed.setdefault(_name(quad.graph_name), []).append((quad.subject, quad.predicate, quad.object))
    return removed


def _chunks(quads: Iterator[ox.Quad]) -> Iterator[list[ox.Quad]]:
    chunk: list[ox.Quad] = []
    for quad in quads:
        chunk.append(quad)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _undo_graphs(db: ox.Store, sequence: int, touched: set[str]) -> None:
    """Drop the graphs the change added whole; restore those it removed whole from their archive, and take the
    archive's copy back out."""
    node, target = ox.NamedNode(change_iri(sequence)), ox.NamedNode(change_graph(sequence))
    for quad in list(db.quads_for_pattern(node, ox.NamedNode(TL + "addedGraph"), None, target)):
        db.remove_graph(quad.object)  # type: ignore[arg-type]  # the change set names graphs by IRI
    archived_in = ox.NamedNode(TL + "archivedIn")
    for quad in list(db.quads_for_pattern(node, ox.NamedNode(TL + "removedGraph"), None, target)):
        graph = quad.object
        for place in list(db.quads_for_pattern(graph, archived_in, None, target)):  # type: ignore[arg-type]  # IRI
            archive: ox.NamedNode = place.object  # type: ignore[assignment]  # the change set names archives by IRI
            statements = [_content(db, st, archive) for st in _whole_nodes(db, archive)]
            db.extend([ox.Quad(s, p, o, graph) for s, p, o in statements])  # type: ignore[arg-type]  # an IRI
            _unarchive(db, value(place.object), _count((None, *t) for t in statements), touched)


def _whole_nodes(db: ox.Store, archive: ox.NamedNode) -> list[Any]:
    """The reified statements of an archive that a whole-graph archival made (no ``tl:archivedFromGraph``)."""
    nodes = {q.subject for q in db.quads_for_pattern(None, _SUBJECT, None, archive)}
    return [n for n in nodes if next(iter(db.quads_for_pattern(n, _FROM_GRAPH, None, archive)), None) is None]


def _content(db: ox.Store, node: Any, archive: ox.NamedNode) -> tuple:
    found = []
    for predicate in (_SUBJECT, _PREDICATE, _OBJECT):
        quad = next(iter(db.quads_for_pattern(node, predicate, None, archive)), None)
        if quad is None:
            raise StoreError(f"the archive {archive.value} holds an incomplete reified statement")
        found.append(quad.object)
    return tuple(found)


def _count(keys: Iterable[tuple]) -> dict[tuple, int]:
    counted: dict[tuple, int] = {}
    for key in keys:
        counted[key] = counted.get(key, 0) + 1
    return counted


def _unarchive(db: ox.Store, archive: str, pending: dict[tuple, int], touched: set[str]) -> None:
    """Take reified nodes out of ``archive``, one per count in ``pending``, keyed ``(source, s, p, o)``: ``source``
    is the node's ``tl:archivedFromGraph`` (a delta load's retractions, a DELETE's statements) or None (a graph
    archived whole). Consumes ``pending``."""
    place = ox.NamedNode(archive)
    if not any(pending.values()) or not db.contains_named_graph(place):
        return
    for quad in list(db.quads_for_pattern(None, _SUBJECT, None, place)):
        node = quad.subject
        origin = next(iter(db.quads_for_pattern(node, _FROM_GRAPH, None, place)), None)
        key = (value(origin.object) if origin else None, *_content(db, node, place))
        if pending.get(key):
            pending[key] -= 1
            for part in list(db.quads_for_pattern(node, None, None, place)):
                db.remove(part)
    touched.add(archive)


def _triples(db: ox.Store, graph: str) -> Iterator[tuple]:
    for quad in db.quads_for_pattern(None, None, None, graph_term(graph)):
        yield quad.subject, quad.predicate, quad.object


class CannotUndo(Exception):
    """A change whose bookkeeping cannot be undone exactly (``threadline.history.asof`` refuses the instant)."""


def archived_whole(action: str | None, what: dict[str, Any]) -> list[str] | None:
    """The graphs an audit entry's write archived whole into their ``archive_iri``; None when the entry does not
    say (a SPARQL Update too long to be kept in its entry)."""
    archive = what.get("archive")
    if action == "load":
        return list(what.get("superseded") or [])
    if action in ("update", "delete") and "update_sha256" not in what:
        # Graph Store PUT/DELETE, a default-graph replacement: the entry names the archive of its one graph
        return list(what.get("graphs") or []) if isinstance(archive, str) and "/archive/audit-" not in archive else []
    if action != "update":
        return []
    text = what.get("update")
    return _update_targets(text, list(what.get("graphs") or [])) if isinstance(text, str) else None


def first_archivals(db: ox.Store) -> dict[str, int]:
    """For each graph, the first audit entry that archived it whole: its archive's ``tl:archivedGraph`` marker
    exists from that entry on."""
    solutions = db.query(
        f"SELECT ?seq ?action ?what WHERE {{ GRAPH <{AUDIT_GRAPH}> {{ ?e <{TL}auditSequence> ?seq ; "
        f"<{TL}auditAction> ?action ; <{TL}changeDetail> ?what }} }} ORDER BY DESC(?seq)"
    )
    assert isinstance(solutions, ox.QuerySolutions)
    rows = [tuple(solution) for solution in solutions]
    del solutions  # parsing may leave this frame in a reference cycle: the solutions must not wait for the collector
    first: dict[str, int] = {}
    for seq, action, what in rows:
        for graph in archived_whole(value(action), json.loads(value(what))) or []:
            first[graph] = int(value(seq))
    return first


def _update_targets(text: str, graphs: list[str]) -> list[str]:
    """The graphs a SPARQL Update archives whole (``audit.writes``): the target of ``DROP``, ``CLEAR``, ``COPY`` and
    ``MOVE``; for ``DROP``/``CLEAR ALL|NAMED`` every graph the entry lists."""
    from rdflib.plugins.sparql.algebra import translateUpdate
    from rdflib.plugins.sparql.parser import parseUpdate

    from threadline.store.safety import PARSE_LOCK

    with PARSE_LOCK:
        operations = list(translateUpdate(parseUpdate(text)).algebra)
    targets: list[str] = []
    for operation in operations:
        if operation.name in ("Drop", "Clear"):
            target = operation.graphiri
            if target in ("ALL", "NAMED"):
                targets += [g for g in graphs if target == "ALL" or g != DEFAULT_GRAPH]
            else:
                targets.append(DEFAULT_GRAPH if target == "DEFAULT" else str(target))
        elif operation.name in ("Copy", "Move"):
            target = operation.graph[1]
            targets.append(DEFAULT_GRAPH if target == "DEFAULT" else str(target))
    return list(dict.fromkeys(targets))


def _undo_token(db: ox.Store, action: str, token_id: str) -> None:
    """Change sets do not carry the security graph (credentials are not replicated): the audit entry names the
    token, which is enough to undo its creation or its revocation."""
    security, node = ox.NamedNode(SECURITY_GRAPH), ox.NamedNode(TOKEN_PREFIX + token_id)
    if action == "token-create":
        for quad in list(db.quads_for_pattern(node, None, None, security)):
            db.remove(quad)
        return
    for name in ("revoked", "revokedAt", "revokedBy", "revocationReason"):
        for quad in list(db.quads_for_pattern(node, ox.NamedNode(TL + name), None, security)):
            db.remove(quad)
    db.add(ox.Quad(node, ox.NamedNode(TL + "revoked"), ox.Literal("false", datatype=_BOOLEAN), security))
