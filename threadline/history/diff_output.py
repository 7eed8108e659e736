"""A diff written out: JSON and a table (its records, for people), Turtle (the same statements reified, as a change
set holds them) and RDF Patch (its net quads, exact: what a replica at ``from`` applies to reach ``to``)."""

from __future__ import annotations

from typing import Any

import pyoxigraph as ox

from threadline.history.changeset import ADDITION, REMOVAL, change_iri
from threadline.history.diff import Diff, Quad, Record, Statement, Term
from threadline.namespaces import DEFAULT_GRAPH, RDF, TL

JSON = "application/json"
TURTLE = "text/turtle"
PATCH = "application/rdf-patch"
MEDIA_TYPES = [JSON, TURTLE, PATCH]  # offered in this order: JSON for a client without a preference


def term(value: Term) -> dict[str, str]:
    """A term as SPARQL 1.1 Query Results JSON writes one."""
    if isinstance(value, ox.NamedNode):
        return {"type": "uri", "value": value.value}
    if isinstance(value, ox.BlankNode):
        return {"type": "bnode", "value": value.value}
    if isinstance(value, ox.Literal):
        out = {"type": "literal", "value": value.value}
        if value.language:
            out["xml:lang"] = value.language
        elif value.datatype.value != "http://www.w3.org/2001/XMLSchema#string":
            out["datatype"] = value.datatype.value
        return out
    return {"type": "triple", "value": str(value)}


def _statement(statement: Statement, owner: Term) -> dict[str, Any]:
    out: dict[str, Any] = {"predicate": statement.predicate.value, "object": term(statement.object)}  # type: ignore[union-attr]  # a predicate is a named node
    if statement.subject != owner:
        out["subject"] = term(statement.subject)  # a blank node of the record
    return out | {"graphs": statement.graphs}


def _record(record: Record) -> dict[str, Any]:
    return {
        "subject": term(record.subject),
        "type": record.type,
        "label": record.label,
        "added": [_statement(s, record.subject) for s in record.added],
        "removed": [_statement(s, record.subject) for s in record.removed],
    }


def as_json(found: Diff) -> dict[str, Any]:
    start, end = found.window.start, found.window.end
    return {
        "from": {"change": start, "iri": change_iri(start) if start else None},
        "to": {"change": end, "iri": change_iri(end) if end else None},
        "changes": [c.sequence for c in found.window.changes],
        "added": sum(len(r.added) for r in found.records),
        "removed": sum(len(r.removed) for r in found.records),
        "records": [_record(r) for r in found.records],
    }


def _row(kind: str, quad: Quad) -> str:
    s, p, o, g = quad
    return f"{kind} {s} {p} {o}{'' if g == DEFAULT_GRAPH else f' {ox.NamedNode(g)}'} .\n"


def as_patch(found: Diff) -> bytes:
    """One patch: every D row, then every A row (the two sets are disjoint)."""
    start, end = found.window.start, found.window.end
    head = [
        f"H from {ox.NamedNode(change_iri(start))} .\n" if start else "",
        f"H to {ox.NamedNode(change_iri(end))} .\n",
    ]
    ordered = sorted(found.held.items(), key=lambda item: (item[1], str(item[0])))
    body = [_row("A" if added else "D", quad) for quad, added in ordered]
    return ("".join(head) + "TX .\n" + "".join(body) + "TC .\n").encode()


def as_turtle(found: Diff) -> bytes:
    """Each statement reified as a change set holds it: ``a tl:Addition|tl:Removal``, one ``tl:graph`` per graph."""
    triples: list[ox.Triple] = []
    for record in found.records:
        for kind, listed in ((ADDITION, record.added), (REMOVAL, record.removed)):
            for statement in listed:
                node = ox.BlankNode()
                triples += [
                    ox.Triple(node, ox.NamedNode(RDF + "type"), ox.NamedNode(kind)),
                    ox.Triple(node, ox.NamedNode(RDF + "subject"), statement.subject),
                    ox.Triple(node, ox.NamedNode(RDF + "predicate"), statement.predicate),
                    ox.Triple(node, ox.NamedNode(RDF + "object"), statement.object),
                    ox.Triple(node, ox.NamedNode(TL + "record"), record.subject),
                ]
                triples += [ox.Triple(node, ox.NamedNode(TL + "graph"), ox.NamedNode(g)) for g in statement.graphs]
    prefixes = {"rdf": RDF, "tl": TL}
    return ox.serialize(triples, format=ox.RdfFormat.TURTLE, prefixes=prefixes) or b""


def _short(value: Term) -> str:
    if isinstance(value, ox.NamedNode):
        return value.value.rsplit("#", 1)[-1] if value.value.startswith(TL) else str(value)
    return str(value)


def as_table(found: Diff) -> str:
    """For people at a terminal: each record's name, then ``+``/``-`` lines."""
    start, end = found.window.start, found.window.end
    count = len(found.window.changes)
    lines = [f"from change {start} to change {end}: {count} change set(s), {len(found.records)} record(s) changed"]
    for record in found.records:
        kind = _short(ox.NamedNode(record.type)) if record.type else "-"
        lines.append(f"{record.label or '-'} ({kind}) {record.subject}")
        for mark, listed in (("-", record.removed), ("+", record.added)):
            for statement in listed:
                via = f"{statement.subject} " if statement.subject != record.subject else ""
                lines.append(f"  {mark} {via}{_short(statement.predicate)} {_short(statement.object)}")
    return "\n".join(lines) + "\n"
