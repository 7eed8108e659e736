"""What the thread states about a record's members, each statement with the source it came from.

A record (``dhr``, ``fai``) is a set of thread objects; ``gather`` reads their own statements in data graphs,
in the same sense as a signature's record hash (``signatures.record_hash``: batch graphs and graphs outside
Threadline's own, never ``tl:sourceRecord`` links) plus the signatures made in Threadline (their own graph, which
is a record's content too: a record is released on the signatures it holds), and for each statement the source
record its subject was mapped from in that graph (``GRAPH ?g { ?s tl:sourceRecord ?rec }``, the lineage every
mapping writes) and the load that committed the graph (the provenance graph). A statement whose graph
names no source record of its subject (written by a SPARQL update into a graph of one's own) is attributed to the
graph itself.

Source records have deterministic IRIs (system, file, map, key: ``mapping.lineage``); batch graphs and load
activities do not (time and a random suffix), so the record's content hash counts the former and not the latter
(``jsonld``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import pyoxigraph as ox

from threadline.namespaces import GRAPH, PROV, PROVENANCE_GRAPH, TL
from threadline.signatures.record_hash import DATA_GRAPH
from threadline.store import Store, text
from threadline.store.params import Bindable

CHUNK = 500
SIGNATURES_GRAPH = GRAPH + "signatures"  # signatures made in Threadline (``threadline.signatures``)

STATEMENTS = (
    "SELECT ?s ?p ?o ?g ?rec WHERE { GRAPH ?g { ?s ?p ?o } "
    f"FILTER(?p != <{TL}sourceRecord> && ({DATA_GRAPH} || ?g = <{SIGNATURES_GRAPH}>)) "
    f"OPTIONAL {{ GRAPH ?g {{ ?s <{TL}sourceRecord> ?rec }} }} }}"
)
SOURCES = (
    "SELECT ?rec ?g ?file ?loc ?key ?system WHERE { GRAPH ?g { ?rec ?any ?x } "
    f"OPTIONAL {{ GRAPH ?g {{ ?rec <{TL}inFile> ?file }} }} OPTIONAL {{ GRAPH ?g {{ ?rec <{TL}locator> ?loc }} }} "
    f"OPTIONAL {{ GRAPH ?g {{ ?rec <{TL}sourceKey> ?key }} }} "
    f"OPTIONAL {{ GRAPH ?g {{ ?rec <{TL}sourceSystem> ?system }} }} }}"
)
LOADS = (  # the provenance graph keeps a load's description after its batch is superseded (ingest.provenance)
    f"SELECT ?g ?act ?started ?system WHERE {{ GRAPH <{PROVENANCE_GRAPH}> {{ ?g <{PROV}wasGeneratedBy> ?act "
    f"OPTIONAL {{ ?act <{PROV}startedAtTime> ?started }} OPTIONAL {{ ?act <{TL}sourceSystem> ?system }} }} }}"
)

Value = ox.NamedNode | ox.Literal | ox.BlankNode


@dataclass(frozen=True)
class Source:
    """Where statements came from: a source record (file, locators, key, system) in a graph, or a graph alone."""

    id: str  # the source record's IRI, or the graph's when it names none
    graphs: tuple[str, ...]
    file: str | None = None
    locators: tuple[str, ...] = ()
    key: str | None = None
    system: str | None = None


@dataclass(frozen=True)
class Load:
    """The load activity that committed a graph (None fields: the graph is not a loaded batch)."""

    graph: str
    activity: str | None = None
    started: str | None = None
    system: str | None = None


@dataclass
class Facts:
    """Each subject's statements: predicate -> value -> the ids of the sources that state it."""

    statements: dict[str, dict[str, dict[Value, set[str]]]] = field(default_factory=dict)
    sources: dict[str, Source] = field(default_factory=dict)
    loads: dict[str, Load] = field(default_factory=dict)

    def values(self, subject: str, predicate: str) -> list[Value]:
        """The values of ``tl:predicate`` (a local name) or a full IRI, sorted for a stable order."""
        iri = predicate if ":" in predicate else TL + predicate
        return sorted(self.statements.get(subject, {}).get(iri, {}), key=str)

    def one(self, subject: str | None, predicate: str) -> str | None:
        """The lexical form of one value (the first in order when several), None when there is none."""
        if subject is None:
            return None
        found = self.values(subject, predicate)
        return found[0].value if found else None

    def iris(self, subject: str | None, predicate: str) -> list[str]:
        if subject is None:
            return []
        return [v.value for v in self.values(subject, predicate) if isinstance(v, ox.NamedNode)]

    def first(self, subject: str | None, predicate: str) -> str | None:
        """The first IRI ``subject`` links to through ``predicate`` (None when there is none)."""
        found = self.iris(subject, predicate)
        return found[0] if found else None

    def has_type(self, subject: str, local: str) -> bool:
        types = self.statements.get(subject, {}).get("http://www.w3.org/1999/02/22-rdf-syntax-ns#type", {})
        return ox.NamedNode(TL + local) in types

    def sources_of(self, *subjects: str | None) -> list[str]:
        """Every source id stating something about ``subjects``."""
        found: set[str] = set()
        for subject in subjects:
            for by_value in self.statements.get(subject or "", {}).values():
                for ids in by_value.values():
                    found |= ids
        return sorted(found)


def gather(store: Store, subjects: Iterable[str], facts: Facts | None = None) -> Facts:
    """Add the statements of ``subjects`` (and their sources and loads) to ``facts``; one query per chunk."""
    facts = facts or Facts()
    keys = sorted(set(subjects) - set(facts.statements))
    graphs: set[str] = set()
    records: set[str] = set()
    for start in range(0, len(keys), CHUNK):
        nodes: list[Bindable] = [ox.NamedNode(k) for k in keys[start : start + CHUNK]]
        for s, p, o, g, rec in store.select(STATEMENTS, {"s": nodes}).rows:
            value = o if isinstance(o, ox.NamedNode | ox.Literal | ox.BlankNode) else None
            if value is None:
                continue
            source = text(rec) if rec is not None else text(g)
            facts.statements.setdefault(text(s), {}).setdefault(text(p), defaultdict(set))[value].add(source)
            graphs.add(text(g))
            if rec is not None:
                records.add(text(rec))
            else:
                facts.sources.setdefault(text(g), Source(text(g), (text(g),)))
        for key in keys[start : start + CHUNK]:
            facts.statements.setdefault(key, {})
    _sources(store, sorted(records - set(facts.sources)), facts)
    _loads(store, sorted(graphs - set(facts.loads)), facts)
    return facts


def _sources(store: Store, records: list[str], facts: Facts) -> None:
    for start in range(0, len(records), CHUNK):
        nodes: list[Bindable] = [ox.NamedNode(r) for r in records[start : start + CHUNK]]
        found: dict[str, dict[str, set[str]]] = {}
        for row in store.select(SOURCES, {"rec": nodes}).texts():
            entry = found.setdefault(row["rec"], defaultdict(set))
            for name in ("g", "file", "loc", "key", "system"):
                if name in row:
                    entry[name].add(row[name])
        for rec, entry in found.items():
            facts.sources[rec] = Source(
                rec,
                tuple(sorted(entry["g"])),
                _first(entry["file"]),
                tuple(sorted(entry["loc"])),
                _first(entry["key"]),
                _first(entry["system"]),
            )


def _loads(store: Store, graphs: list[str], facts: Facts) -> None:
    for start in range(0, len(graphs), CHUNK):
        nodes: list[Bindable] = [ox.NamedNode(g) for g in graphs[start : start + CHUNK]]
        for row in store.select(LOADS, {"g": nodes}).texts():
            facts.loads[row["g"]] = Load(row["g"], row.get("act"), row.get("started"), row.get("system"))
        for graph in graphs[start : start + CHUNK]:
            facts.loads.setdefault(graph, Load(graph))


def _first(values: set[str]) -> str | None:
    return min(values) if values else None
