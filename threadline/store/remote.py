"""A remote store spoken to over the SPARQL 1.1 Protocol and the Graph Store Protocol.

This is what lets Threadline outgrow one machine: Oxigraph server, Fuseki, GraphDB, Virtuoso and Neptune all
speak these two protocols. Endpoints default to Oxigraph server's layout (``/query``, ``/update``, ``/store``)
and can each be set. One keep-alive HTTP client is reused, since the loopback hop is most of the cost of a
point query. HTTP and parse errors of the layers beneath are translated into Threadline errors here.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import BinaryIO

import httpx
import pyoxigraph as ox

from threadline.errors import QueryError, StoreError, StoreUnavailable
from threadline.store.base import QueryResult, SelectResult, Store

_ACCEPT_QUERY = "application/sparql-results+json, application/n-triples;q=0.9"
_MEDIA = {
    ox.RdfFormat.N_QUADS: "application/n-quads",
    ox.RdfFormat.N_TRIPLES: "application/n-triples",
    ox.RdfFormat.TURTLE: "text/turtle",
    ox.RdfFormat.TRIG: "application/trig",
}


class RemoteStore(Store):
    """A SPARQL 1.1 Protocol + Graph Store Protocol service."""

    def __init__(
        self,
        url: str,
        *,
        query_endpoint: str | None = None,
        update_endpoint: str | None = None,
        graph_endpoint: str | None = None,
        timeout: float = 300.0,
    ) -> None:
        base = url.rstrip("/")
        self.url = base
        self.query_endpoint = query_endpoint or f"{base}/query"
        self.update_endpoint = update_endpoint or f"{base}/update"
        self.graph_endpoint = graph_endpoint or f"{base}/store"
        self._client = httpx.Client(timeout=timeout)
        self.recover()

    def _send(self, method: str, url: str, **kwargs: object) -> httpx.Response:
        try:
            response = self._client.request(method, url, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            raise StoreUnavailable(f"store at {url} did not answer: {exc}") from exc
        return response

    def _query(
        self, sparql: str, default_graphs: list[str] | None = None, named_graphs: list[str] | None = None
    ) -> QueryResult:
        params = [("default-graph-uri", ox.NamedNode(g).value) for g in default_graphs or []]
        if default_graphs == []:
            params = [("default-graph-uri", "urn:threadline:empty")]
        params += [("named-graph-uri", ox.NamedNode(g).value) for g in named_graphs or []]
        if named_graphs == []:
            params.append(("named-graph-uri", "urn:threadline:empty"))
        response = self._send(
            "POST",
            self.query_endpoint,
            params=params or None,
            content=sparql.encode(),
            headers={"Content-Type": "application/sparql-query", "Accept": _ACCEPT_QUERY},
        )
        if response.status_code == 400:
            raise QueryError(f"malformed query: {response.text.strip()}")
        _raise_for(response, "query")
        media = response.headers.get("content-type", "").split(";")[0].strip()
        try:
            if media == "application/sparql-results+json":
                parsed = ox.parse_query_results(response.content, ox.QueryResultsFormat.JSON)
                if isinstance(parsed, ox.QueryBoolean):
                    return bool(parsed)
                names = [v.value for v in parsed.variables]
                return SelectResult(names, [tuple(s[i] for i in range(len(names))) for s in parsed])
            return [q.triple for q in ox.parse(response.content, ox.RdfFormat.N_TRIPLES)]
        except (SyntaxError, ValueError) as exc:
            raise StoreError(f"store sent an unreadable {media or 'untyped'} answer: {exc}") from exc

    def update(self, sparql: str) -> None:
        response = self._send(
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
        response = self._send(
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
        params = {"graph": graph} if graph else None
        media = _MEDIA.get(rdf_format, "application/n-quads")
        if graph is None and rdf_format not in (ox.RdfFormat.N_QUADS, ox.RdfFormat.TRIG):
            raise StoreError("a whole-dataset dump needs a quad format (N-Quads or TriG)")
        try:
            with self._client.stream("GET", self.graph_endpoint, params=params, headers={"Accept": media}) as r:
                _raise_for(r, "graph store GET")
                for chunk in r.iter_bytes():
                    out.write(chunk)
        except httpx.HTTPError as exc:
            raise StoreUnavailable(f"store at {self.graph_endpoint} did not answer: {exc}") from exc

    def backup(self, target: Path) -> Path:
        """An N-Quads dump: the protocols offer nothing better; use the server's own backup for big stores."""
        target.mkdir(parents=True, exist_ok=True)
        out = target / f"threadline-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.nq"
        with out.open("wb") as handle:
            self.dump(handle)
        return out

    def close(self) -> None:
        self._client.close()


def _as_triples(source: Path | bytes, rdf_format: ox.RdfFormat) -> bytes:
    kwargs = {"path": str(source)} if isinstance(source, Path) else {"input": source}
    return ox.serialize((q.triple for q in ox.parse(format=rdf_format, **kwargs)), format=ox.RdfFormat.N_TRIPLES) or b""


def _raise_for(response: httpx.Response, what: str) -> None:
    if response.status_code >= 400:
        if not response.is_closed:
            response.read()
        raise StoreError(f"store refused the {what}: HTTP {response.status_code} {response.text.strip()[:500]}")
