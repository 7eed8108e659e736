"""The change set of one write, recorded in the write's own update (docs/history.md).

Every committed write appends one audit entry (``threadline.audit.chain``); ``record`` wraps the write's update
text so that the same request also writes change set N into the graph ``graph/changes/N``:

- graph level, by reference: the graphs the write adds whole (a load's new batch graphs: their content is in the
  store already, never copied) and the graphs it drops whole (a snapshot load's superseded batch graphs: their
  content is archived, reified, in ``archive``; the change set names the archive);
- statement level, reified (``rdf:subject/predicate/object`` + ``tl:graph``): every quad the write removes from
  or adds to a graph that stays. Effective changes only: each such graph (or, when the write names them, only
  its affected subjects) is copied into a shadow graph before the write, and after it the two are compared
  (``FILTER NOT EXISTS``, SPARQL 1.1 only), so an INSERT of a quad already there, or a DELETE of one absent,
  records nothing, and a quad deleted then inserted again by one request is no change. The shadow is dropped at
  the end of the same request. A delta load's retractions are recorded from the pattern that deletes them.

Only graphs the patch stream covers are recorded (``namespaces.is_replicated``): the audit entry, archives,
guards and the change graph itself are the history's own bookkeeping. The whole request is one transaction, so
a write and its change set are stored together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pyoxigraph as ox

from threadline.namespaces import (
    CHANGE_PREFIX,
    CHANGES_PREFIX,
    DEFAULT_GRAPH,
    ID,
    RDF,
    STAGING_PREFIX,
    TL,
    XSD,
    is_replicated,
)
from threadline.store.lexer import prologue_end

ADDITION = TL + "Addition"
REMOVAL = TL + "Removal"
SHADOW_CHUNK = 500  # subjects per VALUES block when a shadow copies only the subjects a write names


@dataclass
class ChangeSet:
    """What a write changes, as its caller knows it; ``record`` turns it into update text.

    ``graphs`` maps each graph changed in place to the subjects whose statements may change there, or None when
    any may (the whole graph is shadowed). ``retracted`` holds group patterns binding ``?old ?s ?p ?o`` to quads
    the write deletes (evaluated before it runs)."""

    graphs: dict[str, frozenset[str] | None] = field(default_factory=dict)
    added: list[str] = field(default_factory=list)
    removed: dict[str, str] = field(default_factory=dict)  # graph dropped whole -> its archive graph
    retracted: list[str] = field(default_factory=list)

    def touch(self, graph: str, subjects: Iterable[str] | None = None) -> None:
        """Note that the write changes ``graph`` in place (only ``subjects``' statements, when given)."""
        if subjects is None or self.graphs.get(graph, frozenset()) is None:
            self.graphs[graph] = None
        else:
            self.graphs[graph] = frozenset(self.graphs.get(graph) or ()) | frozenset(subjects)


def change_iri(sequence: int) -> str:
    return f"{CHANGE_PREFIX}{sequence}"


def change_graph(sequence: int) -> str:
    return f"{CHANGES_PREFIX}{sequence}"


def record(text: str, sequence: int, changes: ChangeSet, *, union_default: bool = False) -> str:
    """``text`` (the write's update, its audit entry included) with change set ``sequence`` recorded around it.
    ``union_default``: the store's updates read the union of all graphs as their default graph, so the stored
    default graph is read as what the union holds outside every named graph."""
    inside = _in_union if union_default else _in_stored
    target = ox.NamedNode(change_graph(sequence))
    shadows = {g: (f"{STAGING_PREFIX}shadow-{sequence}-{i}", s) for i, (g, s) in enumerate(_covered(changes))}
    before = [_copy(inside(graph, "?s ?p ?o"), shadow, subjects) for graph, (shadow, subjects) in shadows.items()]
    before += [_retraction(where, target) for where in changes.retracted]
    after: list[str] = []
    for graph, (shadow, subjects) in shadows.items():
        after += _diff(graph, inside(graph, "?s ?p ?o"), shadow, subjects, target)
        after.append(f"DROP SILENT GRAPH <{shadow}>")
    after.append(_header(sequence, changes, target))
    end = prologue_end(text)
    head = text[:end] + ("\n" if end else "") + "".join(part + " ;\n" for part in before)
    return head + text[end:] + "".join(" ;\n" + part for part in after)


def _covered(changes: ChangeSet) -> list[tuple[str, frozenset[str] | None]]:
    return [(g, s) for g, s in sorted(changes.graphs.items()) if is_replicated(g) and s != frozenset()]


def _in_stored(graph: str, pattern: str) -> str:
    return pattern if graph == DEFAULT_GRAPH else f"GRAPH <{graph}> {{ {pattern} }}"


def _in_union(graph: str, pattern: str) -> str:
    if graph != DEFAULT_GRAPH:
        return _in_stored(graph, pattern)
    return f"{pattern} FILTER NOT EXISTS {{ GRAPH ?named {{ {pattern} }} }}"


def _values(subjects: frozenset[str] | None) -> list[str]:
    """VALUES blocks binding ``?s`` to the subjects, chunked; one empty string for "any subject"."""
    if subjects is None:
        return [""]
    ordered = sorted(subjects)
    return [
        "VALUES ?s { " + " ".join(str(ox.NamedNode(s)) for s in ordered[i : i + SHADOW_CHUNK]) + " } "
        for i in range(0, len(ordered), SHADOW_CHUNK)
    ]


def _copy(held: str, shadow: str, subjects: frozenset[str] | None) -> str:
    """``held``: the pattern matching the graph's ``?s ?p ?o``."""
    return " ;\n".join(
        f"INSERT {{ GRAPH <{shadow}> {{ ?s ?p ?o }} }} WHERE {{ {values}{held} }}" for values in _values(subjects)
    )


def _reified(kind: str, graph: str) -> str:
    return (
        f"[] a <{kind}> ; <{RDF}subject> ?s ; <{RDF}predicate> ?p ; <{RDF}object> ?o ; "
        f"<{TL}graph> {graph if graph.startswith('?') else f'<{graph}>'}"
    )


def _diff(graph: str, held: str, shadow: str, subjects: frozenset[str] | None, target: ox.NamedNode) -> list[str]:
    """Removals (in the shadow, gone from the graph), then additions (in the graph, not in the shadow)."""
    removed = (
        f"INSERT {{ GRAPH {target} {{ {_reified(REMOVAL, graph)} }} }} WHERE {{ GRAPH <{shadow}> {{ ?s ?p ?o }} "
        f"FILTER NOT EXISTS {{ {held} }} }}"
    )
    added = [
        f"INSERT {{ GRAPH {target} {{ {_reified(ADDITION, graph)} }} }} WHERE {{ {values}{held} "
        f"FILTER NOT EXISTS {{ GRAPH <{shadow}> {{ ?s ?p ?o }} }} }}"
        for values in _values(subjects)
    ]
    return [removed, *added]


def _retraction(where: str, target: ox.NamedNode) -> str:
    return f"INSERT {{ GRAPH {target} {{ {_reified(REMOVAL, '?old')} }} }} WHERE {{ {where} }}"


def _header(sequence: int, changes: ChangeSet, target: ox.NamedNode) -> str:
    node = ox.NamedNode(change_iri(sequence))
    number = ox.Literal(str(sequence), datatype=ox.NamedNode(XSD + "integer"))
    lines = [
        f"{node} a <{TL}ChangeSet> ; <{TL}changeSequence> {number} ; <{TL}auditEntry> <{ID}audit/{sequence}> .",
    ]
    if sequence > 1:
        lines.append(f"{node} <{TL}previousChange> <{change_iri(sequence - 1)}> .")
    lines += [f"{node} <{TL}addedGraph> {ox.NamedNode(g)} ." for g in changes.added if is_replicated(g)]
    for graph, archive in sorted(changes.removed.items()):
        if is_replicated(graph):
            lines.append(f"{node} <{TL}removedGraph> {ox.NamedNode(graph)} .")
            lines.append(f"{ox.NamedNode(graph)} <{TL}archivedIn> {ox.NamedNode(archive)} .")
    return f"INSERT DATA {{ GRAPH {target} {{\n" + "\n".join(lines) + "\n} }"
