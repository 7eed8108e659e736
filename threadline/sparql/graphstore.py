"""SPARQL 1.1 Graph Store HTTP Protocol operations on a Threadline store.

Graphs are named with ``?graph=IRI``, ``?default``, or directly by a URL under the endpoint (the graph IRI is
then the request URL). Reading goes through the ``Store`` interface; replacing a named graph uses the store's
atomic ``replace_graph``. The default graph needs the backend itself (queries see the union of all graphs as
their default graph, so the *stored* default graph cannot be named through a query). On an embedded store it
is part of every unscoped reader's default graph; on a remote store writes to it are refused (see
``_check_default_writable``).
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pyoxigraph as ox

from threadline.audit import writes
from threadline.errors import QueryError, StoreError
from threadline.sparql import negotiation as neg
from threadline.store import EmbeddedStore, RemoteStore, Store
from threadline.store.params import iri

GRAPH_TYPES = [neg.TURTLE, neg.NTRIPLES, neg.JSONLD, neg.RDFXML, "application/n-quads", "application/trig"]


class GraphNotFound(StoreError):
    """The graph named by the request does not exist (HTTP 404)."""

    status = 404
    public = True


@dataclass(frozen=True)
class Target:
    graph: str | None  # None: the default graph

    @property
    def label(self) -> str:
        return "the default graph" if self.graph is None else f"graph <{self.graph}>"


def body_format(content_type: str | None) -> ox.RdfFormat:
    media = (content_type or "").split(";")[0].strip().lower()
    fmt = ox.RdfFormat.from_media_type(media) if media else None
    if fmt is None or fmt.supports_datasets:
        raise QueryError(
            f"cannot read a graph sent as {media or 'an untyped body'}: use one of {', '.join(GRAPH_TYPES[:4])}"
        )
    return fmt


def exists(store: Store, target: Target) -> bool:
    if target.graph is None:
        return True
    if isinstance(store, EmbeddedStore):  # a crash's uncommitted leftovers (being removed) do not exist
        return target.graph not in store.hidden and store.native.contains_named_graph(iri(target.graph))
    return store.ask(f"ASK {{ {store.any_graph} }}", {"g": iri(target.graph)})


def read(store: Store, target: Target, media: str) -> bytes:
    if not exists(store, target):
        raise GraphNotFound(f"{target.label} does not exist")
    fmt = neg.GRAPH_FORMATS[media]
    if isinstance(store, EmbeddedStore):
        buffer = io.BytesIO()
        source = ox.DefaultGraph() if target.graph is None else iri(target.graph)
        prefixes: dict[str, Any] = {"prefixes": neg.TURTLE_PREFIXES} if fmt == ox.RdfFormat.TURTLE else {}
        store.native.dump(buffer, fmt, from_graph=source, **prefixes)
        return buffer.getvalue()
    if isinstance(store, RemoteStore):
        params = {"default": ""} if target.graph is None else {"graph": target.graph}
        response = httpx.get(store.graph_endpoint, params=params, headers={"Accept": neg.NTRIPLES}, timeout=300)
        if response.status_code == 404:
            raise GraphNotFound(f"{target.label} does not exist")
        if response.status_code >= 400:
            raise StoreError(f"store refused the graph read: HTTP {response.status_code}")
        triples = [q.triple for q in ox.parse(response.content, ox.RdfFormat.N_TRIPLES)]
        return neg.serialize_graph(triples, media)
    raise StoreError(f"graph store reads are not supported on a {type(store).__name__}")


def replace(store: Store, target: Target, data: bytes, fmt: ox.RdfFormat, *, actor: str, reason: str | None) -> bool:
    """PUT: make the graph hold exactly ``data``, archiving what it held; returns whether it was created."""
    _check_default_writable(store, target)
    created = not exists(store, target)
    _validate(data, fmt)
    if target.graph is not None:
        writes.replace_graph(
            store, target.graph, data, fmt, action="update", actor=actor, what={"via": "graph store PUT"}, why=reason
        )
    else:
        writes.default_graph_write(store, _ntriples(data, fmt), replace=True, actor=actor, reason=reason)
    return created


def merge(store: Store, target: Target, data: bytes, fmt: ox.RdfFormat, *, actor: str) -> bool:
    """POST: add ``data`` to the graph; returns whether the graph was created."""
    _check_default_writable(store, target)
    created = not exists(store, target)
    _validate(data, fmt)
    if target.graph is not None:
        writes.add_to_graph(store, target.graph, data, fmt, actor=actor)
    else:
        writes.default_graph_write(store, _ntriples(data, fmt), replace=False, actor=actor, reason=None)
    return created


def delete(store: Store, target: Target, *, actor: str, reason: str | None) -> None:
    if not exists(store, target):
        raise GraphNotFound(f"{target.label} does not exist")
    if target.graph is None:
        writes.default_graph_write(store, None, replace=True, actor=actor, reason=reason)
    else:
        writes.delete_graph(store, iri(target.graph).value, actor=actor, reason=reason)


def _check_default_writable(store: Store, target: Target) -> None:
    """Refuse data for a remote store's default graph: readers short of admin query an explicit list of graphs
    there (``access.dataset``), and the protocol cannot name the stored default graph in such a list, so the
    data would be accepted and then seen by admins only. An embedded store's default graph is in every
    unscoped reader's view (``dataset.STORED_DEFAULT``)."""
    if target.graph is None and isinstance(store, RemoteStore):
        raise QueryError(
            "this server's store is remote, where the default graph is visible to admins only: "
            "put the data in a named graph (?graph=IRI) instead of ?default"
        )


def new_graph_iri(endpoint: str) -> str:
    return f"{endpoint.rstrip('/')}/{uuid.uuid4()}"


def _validate(data: bytes, fmt: ox.RdfFormat) -> None:
    """Parse before writing, so a bad body is a 400 naming the line, and nothing is written."""
    try:
        for _ in ox.parse(data, fmt):
            pass
    except SyntaxError as exc:
        raise QueryError(f"the request body is not valid {fmt.name}: {exc}") from exc


def _ntriples(data: bytes, fmt: ox.RdfFormat) -> bytes:
    """The body as N-Triples, the form an ``INSERT DATA`` can carry."""
    return ox.serialize((q.triple for q in ox.parse(data, fmt)), format=ox.RdfFormat.N_TRIPLES) or b""
