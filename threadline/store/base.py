"""The one store interface every backend implements.

Queries see the union of all named graphs as their default graph (each load lands in a graph of its own,
and users ask about the thread, not about batches); a remote store must be set up the same way
(Oxigraph: `serve --union-default-graph`; Fuseki: `unionDefaultGraph`; GraphDB does it by default).

Threadline runs on an embedded pyoxigraph store, in memory for tests, or on any remote SPARQL 1.1
Protocol + Graph Store Protocol service. Everything above this module (ingest, GraphQL, SHACL, the SPARQL
endpoint) talks only to ``Store``, so a plant that outgrows one machine changes a URL, not code.

Writes that must be atomic but are too large for one SPARQL update are *staged*: the data goes into a
fresh staging graph (fast, not atomic) and one small update then moves it into place (atomic). A crash
between the two leaves only uncommitted graphs, which ``recover()`` deals with when the store is next opened
(every ``open_store`` does): the embedded store hides them at once and removes them in the background
(``threadline.store.recovery``); a remote store drops them before the first query.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import pyoxigraph as ox

from threadline.namespaces import AUDIT_GUARD_PREFIX, LEASE_GRAPH
from threadline.store.params import Bindable, bind
from threadline.store.recovery import ANY_GRAPH, STAGING_PREFIX, UNCOMMITTED

if TYPE_CHECKING:
    from threadline.store.lease import Lease

MECHANICS = (LEASE_GRAPH, AUDIT_GUARD_PREFIX)  # graphs that order writers on a shared store, not data
_BNODE = re.compile(rb"_:[A-Za-z0-9_\-.]+")
_MOD = 1 << 256

Term = ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple
Params = Mapping[str, Bindable | list[Bindable]] | None
_PLAIN = (ox.NamedNode, ox.BlankNode, ox.Literal)  # every term but a quoted triple


def bound(term: Term | None) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    """A cell the query binds to an IRI, a blank node or a literal: the checker's narrowing of ``Term | None``
    (results hold no quoted triples: every query asking for one is ours, and none does)."""
    if isinstance(term, _PLAIN):
        return term
    raise TypeError(f"expected an IRI, a blank node or a literal in the result, got {term!r}")


def text(term: Term | None) -> str:
    """The lexical value of a ``bound`` cell."""
    return bound(term).value


def text_or_none(term: Term | None) -> str | None:
    """``text`` of a cell an ``OPTIONAL`` may leave unbound (None)."""
    return None if term is None else text(term)


@dataclass
class SelectResult:
    """Rows of a SELECT: ``rows[i][j]`` is the term bound to ``variables[j]`` or None."""

    variables: list[str]
    rows: list[tuple[Term | None, ...]]

    def dicts(self) -> list[dict[str, Term]]:
        """Rows as dicts without the unbound variables."""
        return [
            {name: term for name, term in zip(self.variables, row, strict=True) if term is not None}
            for row in self.rows
        ]

    def texts(self) -> list[dict[str, str]]:
        """Rows as dicts of lexical values (``text``) without the unbound variables."""
        return [{name: text(term) for name, term in row.items()} for row in self.dicts()]

    def values(self, variable: str) -> list[str]:
        """The lexical values bound to one variable, skipping unbound rows."""
        index = self.variables.index(variable)
        return [text(cell) for row in self.rows if (cell := row[index]) is not None]

    def __len__(self) -> int:
        return len(self.rows)


QueryResult = SelectResult | bool | list[ox.Triple]


@dataclass
class StoreStats:
    """Size of the store: quads per graph (the default graph is the key ``""``)."""

    graphs: dict[str, int] = field(default_factory=dict)

    @property
    def triples(self) -> int:
        return sum(self.graphs.values())


class Store(ABC):
    """A quad store Threadline can query, update, load, dump and back up."""

    url: str
    # the pattern that matches ?g to each named graph (Virtuoso reads ``GRAPH ?g { }`` as "any IRI")
    any_graph: str = ANY_GRAPH
    # whether the backend runs the SHACL engine's compiled queries (``threadline.shacl.service`` falls back)
    compiles_shapes: bool = True
    # whether an update's WHERE reads the union of all graphs as its default graph (a remote store set up as the
    # module docstring says) rather than the stored default graph (``threadline.history`` tells them apart)
    union_default_in_updates: bool = False

    def writer_lease(self) -> Lease | None:
        """A lease that makes writers in different processes take turns (``threadline.store.lease``), or None when
        one process has the store to itself (the embedded store: RocksDB lets one process open it)."""
        return None

    def require(self, *capabilities: str) -> None:  # noqa: B027 - optional hook
        """Refuse (``EngineLimit``) what the backend is known to answer wrongly; the embedded store can do all."""

    # -- reading -----------------------------------------------------------------------------------
    @abstractmethod
    def _query(
        self, sparql: str, default_graphs: list[str] | None = None, named_graphs: list[str] | None = None
    ) -> QueryResult: ...

    def query(
        self,
        sparql: str,
        params: Params = None,
        *,
        default_graphs: list[str] | None = None,
        named_graphs: list[str] | None = None,
    ) -> QueryResult:
        """Run a query with ``params`` bound as a VALUES block (never formatted into the text).

        ``default_graphs`` replaces the union default graph by the merge of just these graphs — the
        protocol's ``default-graph-uri`` — so a caller can query a chosen state of the thread, e.g. the
        state a staged load would produce, without changing the store. ``named_graphs`` limits what
        ``GRAPH`` patterns can reach (``named-graph-uri``). Measured: an explicit list of 26 graphs made
        queries 12–18x slower than the union in pyoxigraph 0.5, so only narrowed views should use them.
        """
        return self._query(bind(sparql, params), default_graphs, named_graphs)

    def select(self, sparql: str, params: Params = None, **dataset: list[str] | None) -> SelectResult:
        result = self.query(sparql, params, **dataset)
        if not isinstance(result, SelectResult):
            raise TypeError("select() needs a SELECT query")
        return result

    def ask(self, sparql: str, params: Params = None, **dataset: list[str] | None) -> bool:
        result = self.query(sparql, params, **dataset)
        if not isinstance(result, bool):
            raise TypeError("ask() needs an ASK query")
        return result

    # -- writing -----------------------------------------------------------------------------------
    @abstractmethod
    def update(self, sparql: str) -> None:
        """Run a SPARQL 1.1 Update in one transaction."""

    @abstractmethod
    def stage(self, source: Path | bytes, graph: str, rdf_format: ox.RdfFormat = ox.RdfFormat.N_QUADS) -> None:
        """Add triples to ``graph`` as fast as the backend can; not atomic, so use a fresh graph."""

    @abstractmethod
    def load(
        self, source: Path | bytes, graph: str | None = None, rdf_format: ox.RdfFormat = ox.RdfFormat.N_QUADS
    ) -> None:
        """Add data in one transaction: all of it, or nothing. Quads keep their graph unless ``graph``."""

    def replace_graph(
        self, graph: str, source: Path | bytes, rdf_format: ox.RdfFormat = ox.RdfFormat.N_TRIPLES
    ) -> None:
        """Atomically make ``graph`` hold exactly ``source``'s triples."""
        staging = new_staging_graph()
        with self.staging():
            try:
                self.stage(source, staging, rdf_format)
                self.update(f"MOVE SILENT GRAPH <{staging}> TO GRAPH <{_checked(graph)}>")
            except BaseException:
                self.discard([staging])
                raise

    @contextlib.contextmanager
    def staging(self) -> Iterator[None]:
        """Bracket a staged write, from its first ``stage`` to the update that commits or drops it: readers that
        work from snapshots (``threadline.store.snapshots``) take none in between. Nothing to do by default."""
        yield

    def tidy_after_bulk_write(self, quads: int) -> None:  # noqa: B027 - optional hook
        """Called after a large write; backends whose bulk path leaves work for later do it here."""

    def drop_graph(self, graph: str) -> None:
        self.update(f"DROP SILENT GRAPH <{_checked(graph)}>")

    def discard(self, graphs: list[str]) -> None:
        """Throw away staged graphs that will never be committed (a failed load): dropped here; the embedded
        store hides them at once and removes them in the background instead (a drop in one transaction is
        slow and holds the whole delete in memory)."""
        for graph in graphs:
            self.drop_graph(graph)

    def recover(self) -> list[str]:
        """Drop the uncommitted graphs a crash left behind (staging graphs, batch graphs the catalog does not
        list); returns their names. Removal is the remote service's work; the embedded store overrides this."""
        orphans = sorted(self.select(UNCOMMITTED.replace(ANY_GRAPH, self.any_graph, 1)).values("g"))
        for graph in orphans:
            self.drop_graph(graph)
        return orphans

    # -- whole-store operations --------------------------------------------------------------------
    @abstractmethod
    def dump(self, out: BinaryIO, rdf_format: ox.RdfFormat = ox.RdfFormat.N_QUADS, graph: str | None = None) -> None:
        """Serialise the dataset (or one graph) to ``out``."""

    def graphs(self) -> list[str]:
        """The named graphs, but for those that only order writers (``MECHANICS``: lease claims, empty audit guards),
        which an engine that keeps empty graphs (Oxigraph) would otherwise list after every write."""
        found = self.select(f"SELECT DISTINCT ?g WHERE {{ {self.any_graph} }}").values("g")
        return sorted(g for g in found if not g.startswith(MECHANICS))

    def stats(self) -> StoreStats:
        """Quads per named graph (Threadline writes nothing to the default graph, which queries see as the
        union of all graphs, so it cannot be counted apart over the protocol)."""
        counts = self.select("SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g")
        return StoreStats({text(row[0]): int(text(row[1])) for row in counts.rows})

    @abstractmethod
    def backup(self, target: Path) -> Path:
        """Write a consistent copy of the store under ``target``; returns the backup's path."""

    def canonical_nquads(self) -> Iterator[bytes]:
        """The dataset as sorted N-Quads lines: equal stores give equal bytes (blank nodes aside)."""
        import io

        buffer = io.BytesIO()
        self.dump(buffer, ox.RdfFormat.N_QUADS)
        yield from sorted(line for line in buffer.getvalue().splitlines(keepends=True) if line.strip())

    def digest(self) -> str:
        """An order-independent sha256 of the dataset's N-Quads: equal content, equal digest.

        It streams (constant memory, so it also checks a backup of a 1M-unit store): each line's sha256 is
        summed modulo 2**256, a multiset hash that does not care in which order the backend dumps. Blank
        node labels are backend-internal, so they are left out of each line's hash.
        """
        import tempfile

        total = 0
        with tempfile.TemporaryFile() as spool:
            self.dump(spool, ox.RdfFormat.N_QUADS)
            spool.seek(0)
            for line in spool:
                if line.strip():
                    total = (total + int.from_bytes(hashlib.sha256(_BNODE.sub(b"_:", line)).digest())) % _MOD
        return f"{total:064x}"

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources; the default has none."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def new_staging_graph() -> str:
    return f"{STAGING_PREFIX}{uuid.uuid4()}"


def _checked(graph: str) -> str:
    """Validate a graph IRI before it enters an update's text."""
    return ox.NamedNode(graph).value
