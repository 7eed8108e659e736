"""Audited writes besides loads, token changes and signatures: SPARQL Update, Graph Store writes, and stored
validation evidence. Each runs as ONE update request holding the change, the archive of what it replaces,
and its audit entry, so all three are stored together or not at all (see ``chain``).

SPARQL Update is rewritten so that nothing it deletes is lost (21 CFR 11.10(e): "shall not obscure previously
recorded information"): before each operation that removes statements, the same request copies, reified,
exactly the statements that operation will remove into the archive graph of this audit entry
(``graph/archive/audit-{sequence}``). Per operation:

- ``DELETE DATA``: each listed quad that exists;
- ``DELETE WHERE`` and ``DELETE … INSERT … WHERE``: the DELETE template instantiated over the same WHERE (and
  the same ``WITH``/``USING``) — an ``INSERT`` of reified template triples placed just before it;
- ``DROP``/``CLEAR`` of a graph, and the target of ``COPY``/``MOVE``: the whole graph.

To make that rewrite exact we refuse what it cannot cover: a DELETE template whose graph is a variable
(``GRAPH ?g``), ``DROP``/``CLEAR`` of ``ALL`` or ``NAMED`` graphs, and any write to a system graph (security,
audit, archive, signatures, the store record), which have commands of their own. The templates come from rdflib's SPARQL
parser (a maintained parser beats ours); the WHERE text, ``WITH`` and ``USING`` are cut from the request by
our lexer, so pyoxigraph evaluates the archive's WHERE exactly as it evaluates the operation's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox

from threadline.audit.archive import archive_iri, preserve_update
from threadline.audit.chain import AUDIT_GRAPH, entry_update, head, writer_lock
from threadline.audit.guard import commit
from threadline.errors import QueryError
from threadline.history import ChangeSet
from threadline.namespaces import (
    ARCHIVE_PREFIX,
    AUDIT_GUARD_PREFIX,
    CHANGES_PREFIX,
    DEFAULT_GRAPH,
    GRAPH,
    LEASE_GRAPH,
    RDF,
    STORE_GRAPH,
    TL,
)
from threadline.store import Store, sandbox
from threadline.store.base import STAGING_PREFIX, new_staging_graph
from threadline.store.lexer import Token, tokens
from threadline.store.safety import PARSE_LOCK, check_update

SYSTEM_GRAPHS = (GRAPH + "security", AUDIT_GRAPH, GRAPH + "signatures", STORE_GRAPH, LEASE_GRAPH)
MAX_TEXT_IN_ENTRY = 65_536  # longer update texts are recorded by hash and size only
REPLACE = "\x00replace\x00"  # marks archive text that replaces its operation instead of preceding it


def is_system_graph(graph: str) -> bool:
    return graph in SYSTEM_GRAPHS or graph.startswith((ARCHIVE_PREFIX, AUDIT_GUARD_PREFIX, CHANGES_PREFIX))


@dataclass
class Plan:
    """The rewritten request and what it touches."""

    text: str
    graphs: set[str] = field(default_factory=set)
    archives: bool = False
    named: list[str] = field(default_factory=list)  # the store's named graphs, for DROP/CLEAR ALL|NAMED
    changes: ChangeSet = field(default_factory=ChangeSet)  # what the change set compares (threadline.history)
    touched: set[str] = field(default_factory=set)  # the graphs the operation being read writes


# -- SPARQL Update ------------------------------------------------------------------------------------------


def audited_update(store: Store, text: str, *, actor: str, reason: str | None, base: str | None = None) -> dict:
    """Run a SPARQL Update with its archive and audit entry in one request; returns the entry's ``what``."""
    with writer_lock(store):
        sequence = head(store)[0] + 1
        archive = f"{ARCHIVE_PREFIX}audit-{sequence}"
        plan = rewrite(text, archive, base, named=store.graphs())
        what: dict[str, Any] = {
            "graphs": sorted(plan.graphs),
            "update_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
            "update_bytes": len(text.encode("utf-8")),
            "archive": archive if plan.archives else None,
        }
        if what["update_bytes"] <= MAX_TEXT_IN_ENTRY:
            what["update"] = text
        entry = entry_update(store, action="update", actor=actor, what=what, why=reason)
        prologue = f"BASE <{base}>\n" if base else ""
        check_update(prologue + plan.text)  # the text the engine will run, not only the one the caller sent
        _run_update(store, prologue + plan.text + "\n;\n" + entry, plan.changes)
    return what


def _run_update(store: Store, text: str, changes: ChangeSet) -> None:
    """Caller text runs on a thread with no network when the engine is in this process (``threadline.store.sandbox``);
    a remote store's engine is the remote server's, and reaching it needs the network."""
    from threadline.store import EmbeddedStore

    if isinstance(store, EmbeddedStore):
        commit(store, text, run=lambda guarded: sandbox.confined(store.update, guarded), changes=changes)
    else:
        commit(store, text, changes=changes)


def rewrite(text: str, archive: str, base: str | None = None, named: list[str] | None = None) -> Plan:
    """The request with archive operations inserted; raises QueryError for what cannot be audited exactly."""
    from rdflib.plugins.sparql.algebra import translateUpdate
    from rdflib.plugins.sparql.parser import parseUpdate

    try:
        with PARSE_LOCK:  # rdflib's grammar is not thread-safe: a KPI footprint parsed beside it broke this parse
            operations = list(translateUpdate(parseUpdate(text), base=base).algebra)
    except Exception as exc:  # pyparsing and rdflib raise many kinds; nothing has run yet
        lineno, column = getattr(exc, "lineno", None), getattr(exc, "col", None)
        raise QueryError(
            f"malformed update, or syntax the audit trail's parser (rdflib) cannot read: {exc}",
            position=f"line {lineno}, column {column}" if lineno and column else None,
        ) from exc
    segments = _segments(text)
    if len(segments) != len(operations):
        raise QueryError("the update could not be split into its operations for the audit trail")
    plan = Plan("", named=named or [])
    head, parts = "", []
    for operation, (start, end, found) in zip(operations, segments, strict=True):
        # pyoxigraph takes PREFIX/BASE only at the head of the request (they then hold for every operation),
        # so the prologue stays in front and the archive operations go after it
        declared = len(_prologue(found))
        body = found[declared:]
        body_start = body[0].start if body else end
        head += text[start:body_start]
        before = set(plan.graphs)
        plan.touched = set()
        archived = _archive_for(operation, text, body, archive, plan)
        _note_changes(operation, plan, before)
        if archived and archived.startswith(REPLACE):
            parts.append(archived.removeprefix(REPLACE))
            plan.archives = True
            continue
        if archived:
            parts.append(archived)
            plan.archives = True
        parts.append(text[body_start:end])
    plan.text = head + "\n;\n".join(parts)
    return plan


def _note_changes(operation: Any, plan: Plan, before: set[str]) -> None:
    """What the change set compares for one operation: the subjects of ``INSERT DATA``/``DELETE DATA`` (a blank
    node subject: the whole graph), every statement of the graphs any other operation writes."""
    from rdflib.term import URIRef

    touched = plan.touched | (plan.graphs - before)
    if operation.name not in ("InsertData", "DeleteData"):
        for graph in touched:
            plan.changes.touch(graph)
        return
    by_graph: dict[str, set[str] | None] = {}
    for graph, triple in [(DEFAULT_GRAPH, t) for t in operation.get("triples") or []] + [
        (str(g), t) for g, triples in (operation.get("quads") or {}).items() for t in triples
    ]:
        known = by_graph.setdefault(graph, set())
        if known is not None and isinstance(triple[0], URIRef):
            known.add(str(triple[0]))
        else:
            by_graph[graph] = None
    for graph, subjects in by_graph.items():
        plan.changes.touch(graph, subjects)


def _prologue(found: list[Token]) -> list[Token]:
    """The PREFIX/BASE declaration tokens at the head of an operation."""
    out: list[Token] = []
    index = 0
    while index < len(found) and found[index].keyword in ("PREFIX", "BASE"):
        width = 3 if found[index].keyword == "PREFIX" else 2
        out += found[index : index + width]
        index += width
    return out


def _segments(text: str) -> list[tuple[int, int, list[Token]]]:
    """(start, end, tokens) of each operation: the request split at top-level ``;``, empty tails dropped."""
    found = tokens(text)
    segments: list[Any] = []
    current: list[Any] = []
    depth, start = 0, 0
    for token in found:
        if token.text in ("{", "["):
            depth += 1
        elif token.text in ("}", "]"):
            depth -= 1
        elif token.text == ";" and depth == 0:
            if current:
                segments.append((start, token.start, current))
            current, start = [], token.start + 1
            continue
        current.append(token)
    if current:
        segments.append((start, len(text), current))
    return segments


def _archive_for(operation: Any, text: str, found: list[Token], archive: str, plan: Plan) -> str | None:
    name = operation.name
    if name == "Create":  # no statements (its ``get`` of template keys answers with the key's name)
        _check_target(str(operation.graphiri), plan)
        return None
    if name in ("InsertData", "Load"):
        for graph in _quad_graphs(operation):
            _check_target(graph, plan)
        return None
    if name in ("Drop", "Clear"):
        target = operation.graphiri
        if target in ("ALL", "NAMED"):
            return _every_graph(name.upper(), operation, target == "ALL", plan)
        graph = DEFAULT_GRAPH if target == "DEFAULT" else str(target)
        _check_target(graph, plan)
        return _preserve_graph(graph)
    if name in ("Add", "Copy", "Move"):
        source, target = (DEFAULT_GRAPH if g == "DEFAULT" else str(g) for g in operation.graph)
        _check_target(target, plan)
        if name == "Move":
            _check_target(source, plan)
        return None if name == "Add" else _preserve_graph(target)
    if name == "DeleteData":
        return _archive_data(operation, archive, plan)
    if name == "DeleteWhere":
        return _archive_where(operation, None, text, found, archive, plan)
    if name == "Modify":
        for graph in _quad_graphs(operation.insert, operation.withClause) if operation.insert else []:
            _check_target(graph, plan)
        if operation.delete is None:
            return None
        return _archive_where(operation.delete, operation.withClause, text, found, archive, plan)
    raise QueryError(f"the update operation {name} cannot be audited")


def _every_graph(verb: str, operation: Any, with_default: bool, plan: Plan) -> str:
    """``DROP/CLEAR ALL|NAMED`` as the same verb on each data graph, each archived first: the system graphs (the
    audit trail among them) are not the admin's data and stay. Returned as a replacement of the operation."""
    silent = " SILENT" if operation.get("silent") else ""
    graphs = [g for g in plan.named if not is_system_graph(g) and not g.startswith(STAGING_PREFIX)]
    parts = []
    for graph in graphs:
        plan.graphs.add(graph)
        plan.touched.add(graph)
        parts += [_preserve_graph(graph), f"{verb}{silent} GRAPH <{graph}>"]
    if with_default:
        plan.graphs.add(DEFAULT_GRAPH)
        plan.touched.add(DEFAULT_GRAPH)
        parts += [_preserve_graph(DEFAULT_GRAPH), f"{verb}{silent} DEFAULT"]
    return REPLACE + "\n;\n".join(parts or ["INSERT DATA { }"])  # no data graph: nothing to do


def _quad_graphs(clause: Any, with_graph: Any = None) -> list[str]:
    from rdflib.term import Variable

    graphs = []
    if clause.get("triples"):
        graphs.append(str(with_graph) if with_graph is not None else DEFAULT_GRAPH)
    for graph in clause.get("quads") or {}:
        if isinstance(graph, Variable):
            raise QueryError(
                f"an INSERT template naming its graph by a variable (GRAPH ?{graph}) is refused: the change set "
                "must know which graphs an update changes; name the graph"
            )
        graphs.append(str(graph))
    return graphs


def _check_target(graph: str, plan: Plan) -> None:
    plan.touched.add(graph)
    if is_system_graph(graph):
        raise QueryError(
            f"updates may not write the system graph <{graph}> (tokens, audit trail, archive and signatures "
            "change only through their own commands, which record them)"
        )
    plan.graphs.add(graph)


def _templates(clause: Any, with_graph: Any) -> list[tuple[str, tuple[Any, Any, Any]]]:
    """(graph, triple) for each template triple; refuses variable graphs."""
    from rdflib.term import Variable

    found = [(str(with_graph) if with_graph is not None else DEFAULT_GRAPH, t) for t in clause.get("triples") or []]
    for graph, triples in (clause.get("quads") or {}).items():
        if isinstance(graph, Variable):
            raise QueryError(
                f"a DELETE template naming its graph by a variable (GRAPH ?{graph}) is refused: the audit trail "
                "must know which graphs an update changes; name the graph"
            )
        found += [(str(graph), t) for t in triples]
    return found


def _reified(graph: str, triple: tuple[Any, Any, Any]) -> str:
    s, p, o = (term.n3() for term in triple)
    source = "" if graph == DEFAULT_GRAPH else f" ; <{TL}archivedFromGraph> <{graph}>"
    return f"[] a <{RDF}Statement> ; <{RDF}subject> {s} ; <{RDF}predicate> {p} ; <{RDF}object> {o}{source} ."


def _archive_data(operation: Any, archive: str, plan: Plan) -> str | None:
    parts = []
    for graph, triple in _templates(operation, None):
        _check_target(graph, plan)
        pattern = " ".join(term.n3() for term in triple) + " ."
        where = pattern if graph == DEFAULT_GRAPH else f"GRAPH <{graph}> {{ {pattern} }}"
        parts.append(f"INSERT {{ GRAPH <{archive}> {{ {_reified(graph, triple)} }} }} WHERE {{ {where} }}")
    return "\n;\n".join(parts) or None


def _archive_where(clause: Any, with_graph: Any, text: str, found: list[Token], archive: str, plan: Plan) -> str:
    templates = _templates(clause, with_graph)
    for graph, _ in templates:
        _check_target(graph, plan)
    insert = f"INSERT {{ GRAPH <{archive}> {{ " + " ".join(_reified(g, t) for g, t in templates) + " } }"
    delete = next(i for i, t in enumerate(found) if t.keyword == "DELETE")
    if delete + 1 < len(found) and found[delete + 1].keyword == "WHERE":  # DELETE WHERE { pattern }
        opening = delete + 2
        pattern = text[found[opening].start : _end(found, opening)]
        return f"{text[found[0].start : found[delete].start]}{insert} WHERE {pattern}"
    end_of_delete = _close(found, delete + 1)
    rest = end_of_delete + 1
    if rest < len(found) and found[rest].keyword == "INSERT":
        rest = _close(found, rest + 1) + 1
    tail = text[found[rest].start : _end(found, len(found) - 1, whole=True)]
    return f"{text[found[0].start : found[delete].start]}{insert} {tail}"


def _close(found: list[Token], opening: int) -> int:
    """Index of the ``}`` matching the ``{`` at ``opening``."""
    if found[opening].text != "{":
        raise QueryError("the update could not be analysed for the audit trail: expected '{'")
    depth = 0
    for index in range(opening, len(found)):
        if found[index].text == "{":
            depth += 1
        elif found[index].text == "}":
            depth -= 1
            if not depth:
                return index
    raise QueryError("the update could not be analysed for the audit trail: unbalanced braces")


def _end(found: list[Token], index: int, *, whole: bool = False) -> int:
    closing = len(found) - 1 if whole else _close(found, index)
    return found[closing].start + len(found[closing].text)


def _preserve_graph(graph: str) -> str:
    if graph == DEFAULT_GRAPH:
        target = archive_iri(DEFAULT_GRAPH)
        return (
            f"INSERT {{ GRAPH <{target}> {{ [] a <{RDF}Statement> ; <{RDF}subject> ?s ; <{RDF}predicate> ?p ; "
            f"<{RDF}object> ?o }} }} WHERE {{ ?s ?p ?o }}"
        )
    return preserve_update(None, [graph])  # type: ignore[arg-type]  # the store is not read


# -- Graph Store Protocol and validation evidence ----------------------------------------------------------


def replace_graph(
    store: Store,
    graph: str,
    data: bytes,
    fmt: ox.RdfFormat,
    *,
    action: str,
    actor: str,
    what: dict[str, Any],
    why: str | None,
    preserve: bool = True,
) -> None:
    """Make ``graph`` hold exactly ``data``: stage it, then one update archives the old graph (``preserve``),
    moves the new one in and appends the audit entry."""
    staging = new_staging_graph()
    with store.staging():
        try:
            store.stage(data, staging, fmt)
            with writer_lock(store):
                details = {"graphs": [graph], "sha256_after": hashlib.sha256(data).hexdigest(), **what}
                if preserve:
                    details["archive"] = archive_iri(graph)
                entry = entry_update(store, action=action, actor=actor, what=details, why=why)
                keep = preserve_update(store, [graph]) + " ;\n" if preserve else ""
                commit(store, f"{keep}MOVE SILENT GRAPH <{staging}> TO GRAPH <{graph}> ;\n{entry}")
        except BaseException:
            store.drop_graph(staging)
            raise


def add_to_graph(store: Store, graph: str, data: bytes, fmt: ox.RdfFormat, *, actor: str) -> None:
    """Graph Store POST: add statements (nothing is replaced, so nothing to archive)."""
    staging = new_staging_graph()
    with store.staging():
        try:
            store.stage(data, staging, fmt)
            with writer_lock(store):
                what = {"graphs": [graph], "sha256_added": hashlib.sha256(data).hexdigest()}
                entry = entry_update(store, action="insert", actor=actor, what=what, why=None)
                move = f"ADD SILENT GRAPH <{staging}> TO GRAPH <{graph}> ;\nDROP SILENT GRAPH <{staging}>"
                commit(store, f"{move} ;\n{entry}")
        except BaseException:
            store.drop_graph(staging)
            raise


def delete_graph(store: Store, graph: str, *, actor: str, reason: str | None) -> None:
    """Graph Store DELETE of a named graph: archive, drop and record in one update."""
    with writer_lock(store):
        what = {"graphs": [graph], "archive": archive_iri(graph)}
        entry = entry_update(store, action="delete", actor=actor, what=what, why=reason)
        commit(store, f"{preserve_update(store, [graph])} ;\nDROP GRAPH <{graph}> ;\n{entry}")


def default_graph_write(store: Store, triples: bytes | None, *, replace: bool, actor: str, reason: str | None) -> None:
    """Graph Store writes to the stored default graph (rare: Threadline's own data lives in named graphs), as
    one update: archive and clear it when replacing or deleting, insert ``triples`` when given."""
    action = "insert" if not replace else ("update" if triples is not None else "delete")
    parts = []
    if replace:
        parts += [_preserve_graph(DEFAULT_GRAPH), "DROP SILENT DEFAULT"]
    if triples:
        parts.append("INSERT DATA {\n" + triples.decode("utf-8") + "\n}")
    with writer_lock(store):
        what: dict[str, Any] = {"graphs": [DEFAULT_GRAPH]}
        if replace:
            what["archive"] = archive_iri(DEFAULT_GRAPH)
        if triples is not None:
            what["sha256_after" if replace else "sha256_added"] = hashlib.sha256(triples).hexdigest()
        entry = entry_update(store, action=action, actor=actor, what=what, why=reason)
        commit(store, " ;\n".join([*parts, entry]))
