"""Crash recovery that costs nothing up front: a crashed load's leftovers are hidden at once, removed later.

A staged write lands in graphs nobody may see until one small update commits it (``Store`` docstring); a
crash in between leaves those graphs behind. Removing them is what used to make the next open slow: pyoxigraph
0.5 deletes at a few thousand quads a second, and ``DROP GRAPH`` does it in one transaction that holds the
whole delete in memory (measured: 318 s and 1.5 GB before the store opened after a kill in a 10k-unit load;
figures for our code in docs/operations.md, from ``bench/crash_recovery.py``). So recovery is split in two:

1. **recognise and hide** (milliseconds at any size): what is uncommitted is read from the data itself —
   staging graphs (``urn:threadline:staging:``) and batch graphs the catalog does not list — one look at the
   graph list and the catalog. Readers leave those graphs out of their dataset (``EmbeddedStore``; the SPARQL
   workers, which read checkpoints, apply the same rule to each checkpoint they open), so every reader sees
   exactly the committed state from the first query on;
2. **remove in the background**, a chunk of ``CHUNK`` quads at a time, one small transaction per quad (constant
   memory).
   Nothing records progress because nothing needs to: an interrupted cleanup leaves a smaller uncommitted
   graph that the next open recognises and hides the same way.

Hidden graphs cost readers while they exist: the dataset becomes an explicit graph list, which pyoxigraph
answers several times slower than the union default graph. That lasts until the cleanup ends.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Iterable

import pyoxigraph as ox

from threadline.namespaces import BATCH_GRAPH_PREFIX, CATALOG_GRAPH, STAGING_PREFIX, TL

COMPACT_AFTER = 100_000  # removed quads after which the cleanup compacts the store
CHUNK = 2_000  # quads per cleanup transaction: small enough to keep readers and writers unblocked

# Batch graphs are committed by the update that lists them in the catalog; staging graphs never are.
ANY_GRAPH = "GRAPH ?g { }"  # every named graph; an engine that cannot enumerate them so has its own form
UNCOMMITTED = (
    "SELECT DISTINCT ?g WHERE { GRAPH ?g { } "
    f'FILTER(STRSTARTS(STR(?g), "{STAGING_PREFIX}") || (STRSTARTS(STR(?g), "{BATCH_GRAPH_PREFIX}") && '
    f"NOT EXISTS {{ GRAPH <{CATALOG_GRAPH}> {{ ?g a <{TL}BatchGraph> }} }})) }}"
)

log = logging.getLogger(__name__)


def uncommitted(native: ox.Store) -> frozenset[str]:
    """The graphs of ``native`` that no commit made part of the thread."""
    return frozenset(solution[0].value for solution in native.query(UNCOMMITTED))  # type: ignore[union-attr]  # the query binds this cell: never None


STORED_DEFAULT = ""  # how a dataset's graph list names the store's own default graph (not a named graph)


def graph_term(graph: str) -> ox.NamedNode | ox.DefaultGraph:
    """The pyoxigraph term for a graph of a dataset list (``STORED_DEFAULT``: the store's own default graph)."""
    return ox.DefaultGraph() if graph == STORED_DEFAULT else ox.NamedNode(graph)


def dataset(
    native: ox.Store, hidden: frozenset[str], default_graphs: list[str] | None, named_graphs: list[str] | None
) -> dict[str, object]:
    """pyoxigraph's dataset arguments for a query that must not see ``hidden``: the union default graph when
    nothing is hidden, else the explicit list of every other graph (the stored default graph included, as in
    the union)."""
    if not hidden:
        chosen: dict[str, object] = {}
        if default_graphs is None:
            chosen["use_default_graph_as_union"] = True
        else:
            chosen["default_graph"] = [graph_term(g) for g in default_graphs]
        if named_graphs is not None:
            chosen["named_graphs"] = [ox.NamedNode(g) for g in named_graphs]
        return chosen
    visible = [g for g in native.named_graphs() if g.value not in hidden]
    default: list[ox.NamedNode | ox.BlankNode | ox.DefaultGraph] = (
        [*visible, ox.DefaultGraph()]
        if default_graphs is None
        else [graph_term(g) for g in default_graphs if g not in hidden]
    )
    named = visible if named_graphs is None else [ox.NamedNode(g) for g in named_graphs if g not in hidden]
    return {"default_graph": default, "named_graphs": named}


class Cleaner:
    """A daemon thread removing ``graphs`` from ``native`` chunk by chunk; ``on_removed`` is told each graph
    once it is gone (so the store can stop hiding it)."""

    def __init__(
        self,
        native: ox.Store,
        graphs: Iterable[str],
        on_removed: Callable[[str], None],
        chunk: int = CHUNK,
    ) -> None:
        self.native = native
        self.graphs = sorted(graphs)
        self.on_removed = on_removed
        self.chunk = max(1, chunk)
        self.removed_quads = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="threadline-recovery", daemon=True)

    def start(self) -> Cleaner:
        self._thread.start()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the cleanup ends; returns whether it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self) -> None:
        """Stop after the chunk in progress (what is left is recognised and hidden again at the next open)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.native = None  # type: ignore[assignment]  # the store closes when its last reference goes

    def _run(self) -> None:
        try:
            for graph in self.graphs:
                if not self._remove(ox.NamedNode(graph)):
                    return
                self.on_removed(graph)
            if self.removed_quads >= COMPACT_AFTER:
                self.native.optimize()  # deleted quads leave tombstones that slow every scan until compacted
        except Exception as exc:  # a background thread has nobody to raise to: keep hiding, log, retry next open
            self.error = exc
            log.exception("removing a crashed write's leftovers failed; they stay hidden")

    def _remove(self, graph: ox.NamedNode) -> bool:
        while not self._stop.is_set():
            batch = list(itertools.islice(self.native.quads_for_pattern(None, None, None, graph), self.chunk))
            if not batch:
                self.native.remove_graph(graph)  # now empty: the name goes, in a transaction of its own
                return True
            for index, quad in enumerate(batch):  # one transaction per quad: the fastest delete measured
                if not index % 100 and self._stop.is_set():
                    return False
                self.native.remove(quad)
                self.removed_quads += 1
        return False
