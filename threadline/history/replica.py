"""The replica's side of the RDF Patch stream: apply it to a pyoxigraph store, and the digest that shows a replica
holds what its source replicates (``namespaces.is_replicated``, docs/history.md)."""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Iterable

import pyoxigraph as ox

from threadline.namespaces import is_replicated
from threadline.store import Store

_BNODE = re.compile(rb"_:[A-Za-z0-9_\-.]+")
_MOD = 1 << 256


def apply(replica: ox.Store, lines: Iterable[bytes]) -> int:
    """Apply RDF Patch rows to a pyoxigraph store in order; returns the number of transactions committed. Rows are
    applied in runs of one kind (a change's D rows, then its A rows), so a page of patches is streamed, not held."""
    run: list[bytes] = []
    kind = b""
    committed = 0

    def flush() -> None:
        if run:
            quads = ox.parse(b"".join(run), ox.RdfFormat.N_QUADS)
            if kind == b"A":
                replica.extend(quads)
            else:
                for quad in quads:
                    replica.remove(quad)
            run.clear()

    for line in lines:
        row = line.strip()
        head = row[:2]
        if head in (b"A ", b"D "):
            if head[:1] != kind or len(run) >= 50_000:
                flush()
                kind = head[:1]
            run.append(row[2:] + b"\n")
        elif row.startswith(b"TC"):
            flush()
            committed += 1
        elif row and not row.startswith((b"H ", b"TX", b"PA", b"PD", b"#")):
            raise ValueError(f"not an RDF Patch row: {row[:80]!r}")
    flush()
    return committed


def digest(store: Store) -> str:
    """Order-independent sha256 of the replicated part of a store (``namespaces.is_replicated`` and the default
    graph), blank node labels aside, as ``Store.digest`` computes it: equal on a source and on its replica. Each
    replicated graph is dumped on its own and hashed line by line (no parse: a digest of every commit in a test)."""
    total = 0
    for graph in store.graphs():
        if is_replicated(graph):
            total = (total + _graph_sum(store, graph)) % _MOD
    return f"{(total + _default_sum(store)) % _MOD:064x}"


def _line_sum(lines: Iterable[bytes], graph: bytes) -> int:
    total = 0
    for line in lines:
        triple = line.rstrip()
        if triple:
            canonical = _BNODE.sub(b"_:", triple.removesuffix(b".").rstrip()) + graph
            total += int.from_bytes(hashlib.sha256(canonical).digest())
    return total


def _graph_sum(store: Store, graph: str) -> int:
    with tempfile.TemporaryFile() as spool:
        store.dump(spool, ox.RdfFormat.N_TRIPLES, graph=graph)
        spool.seek(0)
        return _line_sum(spool, f" {ox.NamedNode(graph)}".encode())


def _default_sum(store: Store) -> int:
    """The stored default graph's lines: read directly from an embedded store; from a dump of the whole dataset
    otherwise (the protocol names no default graph apart from the union)."""
    from threadline.store import EmbeddedStore

    if isinstance(store, EmbeddedStore):
        triples = store.native.quads_for_pattern(None, None, None, ox.DefaultGraph())
        return _line_sum((f"{q.subject} {q.predicate} {q.object} .".encode() for q in triples), b"")
    with tempfile.TemporaryFile() as spool:
        store.dump(spool, ox.RdfFormat.N_QUADS)
        spool.seek(0)
        quads = ox.parse(spool, ox.RdfFormat.N_QUADS)
        default = (
            f"{q.subject} {q.predicate} {q.object} .".encode() for q in quads if q.graph_name == ox.DefaultGraph()
        )
        return _line_sum(default, b"")
