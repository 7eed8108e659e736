"""A remote store spoken to over the SPARQL 1.1 Protocol and the Graph Store Protocol.

This is what lets Threadline outgrow one machine: Oxigraph server, Fuseki, GraphDB, Virtuoso and Neptune all
speak these two protocols. Endpoints default to Oxigraph server's layout (``/query``, ``/update``, ``/store``)
and can each be set. One keep-alive HTTP client is reused, since the loopback hop is most of the cost of a
point query. HTTP and parse errors of the layers beneath are translated into Threadline errors here.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import pyoxigraph as ox

from threadline.errors import QueryError, StoreError, StoreUnavailable
from threadline.store import engines
from threadline.store.base import QueryResult, SelectResult, Store
from threadline.store.engines import Engine
from threadline.store.lease import Lease, read_claims
from threadline.store.lexer import tokens
from threadline.store.recovery import ANY_GRAPH, UNCOMMITTED

log = logging.getLogger(__name__)
EMPTY_GRAPH = "urn:threadline:empty"  # names no graph: the dataset of an empty graph list
_ACCEPT_QUERY = "application/sparql-results+json, application/n-triples;q=0.9"
_FORMS = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")
_MEDIA = {
    ox.RdfFormat.N_QUADS: "application/n-quads",
    ox.RdfFormat.N_TRIPLES: "application/n-triples",
    ox.RdfFormat.TURTLE: "text/turtle",
    ox.RdfFormat.TRIG: "application/trig",
}


class RemoteStore(Store):
    """A SPARQL 1.1 Protocol + Graph Store Protocol service."""

    union_default_in_updates = True  # set up with the union as its default graph (``Store``'s docstring)

    def __init__(
        self,
        url: str,
        *,
        query_endpoint: str | None = None,
        update_endpoint: str | None = None,
        graph_endpoint: str | None = None,
        timeout: float = 300.0,
        engine: str = "auto",
        query_method: str = "auto",
        lease_seconds: float = 30.0,
        lease_wait: float = 300.0,
    ) -> None:
        base = url.rstrip("/")
        self.url = base
        self.lease_seconds, self.lease_wait = lease_seconds, lease_wait
        self._client = httpx.Client(timeout=timeout)
        self.engine = Engine(engines.detect(self._client, base) if engine == "auto" else engine)
        query, update, graph = self.engine.endpoints(base)
        self.query_endpoint = query_endpoint or query
        self.update_endpoint = update_endpoint or update
        self.graph_endpoint = graph_endpoint or graph
        self.query_method = query_method
        if self.engine.is_virtuoso:
            self.any_graph = engines.VIRTUOSO_ANY_GRAPH
            self.compiles_shapes = False
            self.engine.check_system_graphs(self.graphs())
        self.recover()

    def require(self, *capabilities: str) -> None:
        self.engine.require(*capabilities)

    def writer_lease(self) -> Lease:
        """Several Threadline processes may share a remote store: their writers take turns through the store."""
        return Lease(self, "writer", seconds=self.lease_seconds, wait=self.lease_wait)

    @contextlib.contextmanager
    def staging(self) -> Iterator[None]:
        """A staged write holds a staging claim (``threadline.store.lease``) until it commits or drops its graphs,
        so that another process opening the store meanwhile does not take them for a crash's leftovers."""
        claim = Lease(self, "staging", seconds=self.lease_seconds, wait=self.lease_wait)
        claim.acquire()
        try:
            yield
        finally:
            claim.release()

    def recover(self) -> list[str]:
        """Drop what a crashed staged write left, unless some process holds a live claim: the graphs may then be
        its staging, and stay until a later open finds the store quiet. (Listed before the claims are read: a
        graph staged after the listing is not dropped, one staged before it comes with a claim already made.)"""
        orphans = sorted(self.select(UNCOMMITTED.replace(ANY_GRAPH, self.any_graph, 1)).values("g"))
        if not orphans:
            return []
        _, _, claims = read_claims(self)
        if claims:
            log.info("left %d uncommitted graph(s) in place: another process holds a claim on the store", len(orphans))
            return []
        for graph in orphans:
            self.drop_graph(graph)
        return orphans

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise StoreUnavailable(f"store at {url} did not answer: {exc}") from exc
        return response

    def _write(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send a write, and send it again while the engine answers that it rolled it back as a deadlock victim
        (Virtuoso: ``SR172 Transaction deadlocked``, SQLSTATE 40001). The engine undid all of it, so sending it
        again is safe; the writer lease orders Threadline's writers, but lease claims and reads from other
        processes still meet a write in Virtuoso's lock manager (CI: one of four simultaneous loads through two
        services was refused this way)."""
        delay = DEADLOCK_BACKOFF
        for attempt in range(2, DEADLOCK_ATTEMPTS + 1):
            response = self._send(method, url, **kwargs)
            if not _deadlocked(response):
                return response
            log.info("the store rolled a write back as a deadlock victim; sending it again (attempt %d)", attempt)
            time.sleep(delay * (1 + random.random()))  # jitter: the other party retries too
            delay *= 2
        return self._send(method, url, **kwargs)

    def send_query(
        self,
        sparql: str,
        default_graphs: list[str] | None,
        named_graphs: list[str] | None,
        accept: str = _ACCEPT_QUERY,
        timeout: float | None = None,
    ) -> httpx.Response:
        """One query over the protocol, by ``query_method``; httpx errors are the caller's to translate (the
        executor turns a time-out into its own error). An empty graph list is an empty dataset, not "no
        list": without any parameter the store would answer from its union default graph."""
        params = [("default-graph-uri", ox.NamedNode(g).value) for g in default_graphs or []]
        if default_graphs == []:
            params = [("default-graph-uri", EMPTY_GRAPH)]
        params += [("named-graph-uri", ox.NamedNode(g).value) for g in named_graphs or []]
        if named_graphs == []:
            params.append(("named-graph-uri", EMPTY_GRAPH))
        text = sparql
        headers = {"Accept": accept}
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}  # else the client's own
        method = self.query_method
        if method == "auto":
            size = len(self.query_endpoint) + len(str(httpx.QueryParams([*params, ("query", text)])))
            method = "get" if size <= engines.SHORT_GET else "form"
        if method == "get":
            return self._client.get(self.query_endpoint, params=[*params, ("query", text)], headers=headers, **extra)
        if method == "form":
            form = httpx.QueryParams([*params, ("query", text)])
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            return self._client.post(self.query_endpoint, content=str(form).encode(), headers=headers, **extra)
        headers["Content-Type"] = "application/sparql-query"
        return self._client.post(
            self.query_endpoint, params=tuple(params) or None, content=text.encode(), headers=headers, **extra
        )

    def read_answer(self, response: httpx.Response) -> QueryResult:
        """An answer as Threadline's values, the engine's quirks undone (``threadline.store.engines``)."""
        self.engine.check_whole(response)
        media = response.headers.get("content-type", "").split(";")[0].strip()
        try:
            if media == "application/sparql-results+json":
                parsed = ox.parse_query_results(response.content, ox.QueryResultsFormat.JSON)
                if isinstance(parsed, ox.QueryBoolean):
                    return bool(parsed)
                names = [v.value for v in parsed.variables]
                rows = [tuple(engines.canonical(s[i]) for i in range(len(names))) for s in parsed]
                asked = engines.ask_value(names, rows) if self.engine.is_virtuoso else None
                return asked if asked is not None else SelectResult(names, rows)
            return self._triples(response.content)
        except (SyntaxError, ValueError) as exc:
            raise StoreError(f"store sent an unreadable {media or 'untyped'} answer: {exc}") from exc

    def _query(
        self, sparql: str, default_graphs: list[str] | None = None, named_graphs: list[str] | None = None
    ) -> QueryResult:
        try:
            response = self.send_query(sparql, default_graphs, named_graphs, _accept_for(sparql))
        except httpx.HTTPError as exc:
            raise StoreUnavailable(f"store at {self.query_endpoint} did not answer: {exc}") from exc
        if response.status_code == 400:
            raise QueryError(f"malformed query: {response.text.strip()}")
        _raise_for(response, "query")
        return self.read_answer(response)

    def update(self, sparql: str) -> None:
        response = self._write(
            "POST",
            self.update_endpoint,
            content=sparql.encode(),
            headers={"Content-Type": "application/sparql-update"},
        )
        if response.status_code == 400:
            raise QueryError(f"malformed update: {response.text.strip()}")
        _raise_for(response, "update")

    def stage(self, source: Path | bytes, graph: str, rdf_format: ox.RdfFormat = ox.RdfFormat.N_QUADS) -> None:
        if rdf_format in (ox.RdfFormat.N_QUADS, ox.RdfFormat.TRIG):
            source, rdf_format = _as_triples(source, rdf_format), ox.RdfFormat.N_TRIPLES
        body = source.read_bytes() if isinstance(source, Path) else source
        response = self._write(
            "POST",
            self.graph_endpoint,
            params={"graph": ox.NamedNode(graph).value},
            content=body,
            headers={"Content-Type": _MEDIA[rdf_format]},
        )
        _raise_for(response, "graph store POST")

    def load(
        self, source: Path | bytes, graph: str | None = None, rdf_format: ox.RdfFormat = ox.RdfFormat.N_QUADS
    ) -> None:
        """One ``INSERT DATA`` request: the only write every SPARQL service runs as one transaction."""
        kwargs = {"path": str(source)} if isinstance(source, Path) else {"input": source}
        target = ox.NamedNode(graph) if graph else None
        blocks: dict[str, list[str]] = {}
        try:
            for quad in ox.parse(format=rdf_format, **kwargs):
                name = target or quad.graph_name
                key = "" if isinstance(name, ox.DefaultGraph) else str(name)
                blocks.setdefault(key, []).append(f"{quad.subject} {quad.predicate} {quad.object} .")
        except SyntaxError as exc:
            raise StoreError(f"invalid RDF: {exc}") from exc
        parts = [
            ("\n".join(lines) if not key else f"GRAPH {key} {{\n" + "\n".join(lines) + "\n}")
            for key, lines in blocks.items()
        ]
        if parts:
            self.update("INSERT DATA {\n" + "\n".join(parts) + "\n}")

    def dump(self, out: BinaryIO, rdf_format: ox.RdfFormat = ox.RdfFormat.N_QUADS, graph: str | None = None) -> None:
        media = _MEDIA.get(rdf_format, "application/n-quads")
        if graph is None and rdf_format not in (ox.RdfFormat.N_QUADS, ox.RdfFormat.TRIG):
            raise StoreError("a whole-dataset dump needs a quad format (N-Quads or TriG)")
        if graph is None and self.engine.is_virtuoso:
            self._dump_by_graph(out, rdf_format)  # its graph store has no whole-dataset GET (406)
            return
        params = {"graph": graph} if graph else None
        try:
            with self._client.stream("GET", self.graph_endpoint, params=params, headers={"Accept": media}) as r:
                _raise_for(r, "graph store GET")
                for chunk in r.iter_bytes():
                    out.write(chunk)
        except httpx.HTTPError as exc:
            raise StoreUnavailable(f"store at {self.graph_endpoint} did not answer: {exc}") from exc

    def _dump_by_graph(self, out: BinaryIO, rdf_format: ox.RdfFormat) -> None:
        """Every named graph in turn (system graphs excluded), each read as N-Triples and written as quads."""
        for name in self.graphs():
            try:
                response = self._client.get(
                    self.graph_endpoint, params={"graph": name}, headers={"Accept": "application/n-triples"}
                )
            except httpx.HTTPError as exc:
                raise StoreUnavailable(f"store at {self.graph_endpoint} did not answer: {exc}") from exc
            _raise_for(response, f"graph store GET of <{name}>")
            graph = ox.NamedNode(name)
            try:
                quads = [ox.Quad(t.subject, t.predicate, t.object, graph) for t in self._triples(response.content)]
            except SyntaxError as exc:
                raise StoreError(f"store sent unreadable N-Triples for <{name}>: {exc}") from exc
            out.write(ox.serialize(quads, format=rdf_format) or b"")

    @staticmethod
    def _triples(content: bytes) -> list[ox.Triple]:
        return [
            ox.Triple(t.subject, t.predicate, engines.canonical(t.object))
            for t in (q.triple for q in ox.parse(content, ox.RdfFormat.N_TRIPLES))
        ]

    def backup(self, target: Path) -> Path:
        """An N-Quads dump: the protocols offer nothing better; use the server's own backup for big stores.
        Written beside the target and renamed when complete, so a failure never leaves a partial file."""
        target.mkdir(parents=True, exist_ok=True)
        out = target / f"threadline-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.nq"
        partial = out.with_name(out.name + ".partial")
        try:
            with partial.open("wb") as handle:
                self.dump(handle)
            partial.replace(out)
        finally:
            partial.unlink(missing_ok=True)
        return out

    def close(self) -> None:
        self._client.close()


def _accept_for(sparql: str) -> str:
    """The one answer format to ask for: an engine may send a CONSTRUCT as a results table, or a SELECT as
    RDF, when offered both (Virtuoso prefers JSON for everything)."""
    form = next((t.keyword for t in tokens(sparql) if t.keyword in _FORMS), None)
    return "application/n-triples" if form in ("CONSTRUCT", "DESCRIBE") else "application/sparql-results+json"


def _as_triples(source: Path | bytes, rdf_format: ox.RdfFormat) -> bytes:
    kwargs = {"path": str(source)} if isinstance(source, Path) else {"input": source}
    return ox.serialize((q.triple for q in ox.parse(format=rdf_format, **kwargs)), format=ox.RdfFormat.N_TRIPLES) or b""


DEADLOCK_ATTEMPTS = 6  # with the backoff doubling from DEADLOCK_BACKOFF: about 3 s of waiting at most
DEADLOCK_BACKOFF = 0.05


def _deadlocked(response: httpx.Response) -> bool:
    """Whether the engine refused a write because it chose it as a deadlock victim (and rolled it back)."""
    if response.status_code < 500:
        return False
    text = response.text
    return "SR172" in text or "40001" in text or "deadlock" in text.lower()


def _raise_for(response: httpx.Response, what: str) -> None:
    if response.status_code >= 400:
        if not response.is_closed:
            response.read()
        raise StoreError(f"store refused the {what}: HTTP {response.status_code} {response.text.strip()[:500]}")
