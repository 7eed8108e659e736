"""PROV-O description of one load: who ran it, when, on which files and mappings, with what result.

The description is written in the same update that commits the batch, so a batch is in the thread if and
only if its provenance is; it lives in the provenance graph, which replacing a batch never touches, so the
history of every load stays answerable after its data has been superseded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from threadline.ingest.plan import MappingRun, file_sha256
from threadline.namespaces import ID, PROV, RDF, TL, XSD


@dataclass
class BatchResult:
    """What one mapping run produced."""

    run: MappingRun
    graph: str
    content_hash: str
    records: int = 0
    triples: int = 0
    rejected: int = 0
    seconds: float = 0.0
    skipped: bool = False  # identical to the batch already loaded
    replaces: list[str] = field(default_factory=list)  # dry run: the committed graphs this batch would replace


@dataclass
class Activity:
    """One load: several mapping runs committed together."""

    activity_id: str
    system: str
    agent: str
    started: datetime
    ended: datetime | None = None
    batches: list[BatchResult] = field(default_factory=list)
    reject_file: Path | None = None
    hook_errors: list[Exception] = field(default_factory=list)
    committed_graphs: list[str] = field(default_factory=list)  # the thread's batch graphs before the load
    staged_graphs: list[str] = field(default_factory=list)  # this load's new batch graphs
    superseded_graphs: list[str] = field(default_factory=list)  # batch graphs the commit will drop
    retractions: list[Any] = field(
        default_factory=list
    )  # delta mode: ``ingest.delta.Retraction``s, set before the gate
    dry_run: bool = False  # ``load --dry-run``: staged, gated and dropped; nothing committed
    gate_verdict: str | None = None  # dry run: what the before-commit gate said

    def graphs_before(self) -> list[str]:
        """The thread's data graphs as they were before this load (for ``Store.query(default_graphs=)``)."""
        return list(self.committed_graphs)

    def graphs_after(self) -> list[str]:
        """The thread's data graphs as the commit will leave them. In delta mode, statements the commit
        retracts from earlier batches of upserted subjects are still in this view."""
        dropped = set(self.superseded_graphs)
        return [g for g in self.committed_graphs if g not in dropped] + list(self.staged_graphs)

    @property
    def iri(self) -> str:
        return f"{ID}ingest/{self.activity_id}"

    def triples(self) -> list[str]:
        """N-Triples lines describing the activity, its files and its batches."""
        a = ox.NamedNode(self.iri)
        out: list[_T] = [
            (a, _n(RDF + "type"), _n(TL + "IngestActivity")),
            (a, _n(RDF + "type"), _n(PROV + "Activity")),
            (a, _n(TL + "sourceSystem"), ox.Literal(self.system)),
            (a, _n(PROV + "wasAssociatedWith"), _n(f"{ID}agent/{_slug(self.agent)}")),
            (_n(f"{ID}agent/{_slug(self.agent)}"), _n(RDF + "type"), _n(PROV + "Agent")),
            (_n(f"{ID}agent/{_slug(self.agent)}"), _n(TL + "name"), ox.Literal(self.agent)),
            (a, _n(PROV + "startedAtTime"), _dt(self.started)),
            (a, _n(PROV + "endedAtTime"), _dt(self.ended or self.started)),
            (a, _n(TL + "recordCount"), _int(sum(b.records for b in self.batches))),
            (a, _n(TL + "tripleCount"), _int(sum(b.triples for b in self.batches))),
            (a, _n(TL + "rejectedCount"), _int(sum(b.rejected for b in self.batches))),
        ]
        if self.reject_file is not None:
            out.append((a, _n(TL + "rejectFile"), ox.Literal(str(self.reject_file))))
        for batch in self.batches:
            out.extend(self._batch_triples(a, batch))
        return [f"{s} {p} {o} ." for s, p, o in out]

    def _batch_triples(self, activity: ox.NamedNode, batch: BatchResult) -> list[_T]:
        graph = _n(batch.graph)
        mapping = batch.run.mapping_path
        mapping_node = _n(f"{ID}file/{file_sha256(mapping)}")
        out: list[_T] = [
            (activity, _n(TL + "targetGraph"), graph),
            (graph, _n(PROV + "wasGeneratedBy"), activity),
            (graph, _n(TL + "tripleCount"), _int(batch.triples)),
            (graph, _n(TL + "recordCount"), _int(batch.records)),
            (graph, _n(TL + "rejectedCount"), _int(batch.rejected)),
            (activity, _n(PROV + "used"), mapping_node),
            (mapping_node, _n(RDF + "type"), _n(TL + "MappingFile")),
            (mapping_node, _n(TL + "fileName"), ox.Literal(mapping.name)),
            (mapping_node, _n(TL + "sha256"), ox.Literal(file_sha256(mapping))),
            (mapping_node, _n(TL + "byteSize"), _int(mapping.stat().st_size)),
        ]
        for path in batch.run.sources.values():
            digest = file_sha256(path)
            node = _n(f"{ID}file/{digest}")
            out += [
                (activity, _n(PROV + "used"), node),
                (graph, _n(PROV + "wasDerivedFrom"), node),
                (node, _n(RDF + "type"), _n(TL + "SourceFile")),
                (node, _n(TL + "fileName"), ox.Literal(path.name)),
                (node, _n(TL + "sha256"), ox.Literal(digest)),
                (node, _n(TL + "byteSize"), _int(path.stat().st_size)),
            ]
        return out


_T = tuple[ox.NamedNode, ox.NamedNode, ox.NamedNode | ox.Literal]


def _n(iri: str) -> ox.NamedNode:
    return ox.NamedNode(iri)


def _int(value: int) -> ox.Literal:
    return ox.Literal(str(value), datatype=ox.NamedNode(XSD + "integer"))


def _dt(value: datetime) -> ox.Literal:
    text = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return ox.Literal(text, datatype=ox.NamedNode(XSD + "dateTime"))


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in text) or "unknown"


def now() -> datetime:
    return datetime.now(UTC)
