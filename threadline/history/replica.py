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
    graph), blank node labels aside, as ``Store.digest`` computes it: equal on a source and on its replica."""
    total = 0
    with tempfile.TemporaryFile() as spool:
        store.dump(spool, ox.RdfFormat.N_QUADS)
        spool.seek(0)
        for quad in ox.parse(spool, ox.RdfFormat.N_QUADS):
            graph = quad.graph_name
            if isinstance(graph, ox.NamedNode) and not is_replicated(graph.value):
                continue
            line = _BNODE.sub(b"_:", str(quad).encode("utf-8"))
            total = (total + int.from_bytes(hashlib.sha256(line).digest())) % _MOD
    return f"{total:064x}"
