"""A read-only view of a store limited to the graphs one caller may read.

Every read path (GraphQL, named queries, SPARQL) hands a scoped token's holder this view instead of the store,
so the token's graph scope holds whatever the query text says: the default graph becomes the merge of the
visible graphs and ``GRAPH`` patterns reach only those (the protocol's ``default-graph-uri`` and
``named-graph-uri``). Explicit graph lists are much slower than the union in pyoxigraph, so callers that may
read every data graph keep the union.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import pyoxigraph as ox

from threadline.errors import StoreError
from threadline.store.base import QueryResult, Store


class ScopedStore(Store):
    """``store`` seen through ``graphs``; writes are refused."""

    def __init__(self, store: Store, graphs: list[str]) -> None:
        self.inner = store
        self.visible = list(graphs)
        self.url = store.url

    def _query(
        self, sparql: str, default_graphs: list[str] | None = None, named_graphs: list[str] | None = None
    ) -> QueryResult:
        allowed = set(self.visible)
        default = [g for g in default_graphs if g in allowed] if default_graphs is not None else self.visible
        named = [g for g in named_graphs if g in allowed] if named_graphs is not None else self.visible
        return self.inner._query(sparql, default, named)

    def graphs(self) -> list[str]:
        return sorted(self.visible)

    def update(self, sparql: str) -> None:
        raise StoreError("this view of the store is read-only")

    def stage(self, source: Path | bytes, graph: str, rdf_format: ox.RdfFormat = ox.RdfFormat.N_QUADS) -> None:
        raise StoreError("this view of the store is read-only")

    def load(
        self, source: Path | bytes, graph: str | None = None, rdf_format: ox.RdfFormat = ox.RdfFormat.N_QUADS
    ) -> None:
        raise StoreError("this view of the store is read-only")

    def dump(self, out: BinaryIO, rdf_format: ox.RdfFormat = ox.RdfFormat.N_QUADS, graph: str | None = None) -> None:
        if graph is not None and graph not in self.visible:
            raise StoreError(f"graph {graph} is outside this view")
        graphs = [graph] if graph else self.visible
        for name in graphs:
            self.inner.dump(out, rdf_format if graph else ox.RdfFormat.N_QUADS, name)

    def backup(self, target: Path) -> Path:
        raise StoreError("a scoped view cannot be backed up")


def view_for(store: Store, principal: object, *, thread_vocabulary_only: bool = False) -> Store:
    """The store as ``principal`` may read it: itself when every graph is visible, else a ScopedStore.

    ``thread_vocabulary_only``: the caller's queries are compiled by Threadline (GraphQL) and can match only
    statements of the thread — subjects that are thread objects, predicates and classes of the thread
    vocabulary. The system graphs (tokens, audit trail, archives) hold only system subjects and system
    vocabulary (``tests/test_system_graph_isolation.py`` checks both, and that GraphQL answers the same either
    way), so a caller whose only hidden graphs are system graphs — any unscoped token — keeps the union
    default graph, 2–12x faster than an explicit graph list in pyoxigraph. Scoped tokens always get the list.
    """
    if thread_vocabulary_only and not principal.scopes:  # type: ignore[attr-defined]  # a Principal, typed loosely to keep the store layer free of auth
        return store
    graphs = store.graphs()
    visible = principal.visible_graphs(graphs)  # type: ignore[attr-defined]  # a Principal, typed loosely to keep the store layer free of auth
    return store if len(visible) == len(graphs) else ScopedStore(store, visible)
