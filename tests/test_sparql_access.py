"""Roles and graph scopes at /sparql, /store and /queries: a token sees only its graphs, FROM cannot widen
the view, the security graph (token hashes) is for admins only, and writes need the right role."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pyoxigraph as ox
import pytest

from tests.conftest import LiveServer
from threadline.app import create_app
from threadline.auth import SECURITY_GRAPH
from threadline.auth.tokens import create_token
from threadline.config import Settings
from threadline.sparql import register
from threadline.store import open_store

ERP = "https://example.org/graph/erp"  # not a batch graph: recovery would drop a batch without provenance
MES = "https://example.org/graph/mes"
ADMIN = "access-admin-token"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    url = str(tmp_path_factory.mktemp("access") / "store")
    store = open_store(url)
    store.load(b'<http://e/po> <http://e/says> "erp" .', ERP, ox.RdfFormat.N_TRIPLES)
    store.load(b'<http://e/op> <http://e/says> "mes" .', MES, ox.RdfFormat.N_TRIPLES)
    _, reader = create_token(store, "reader", description="all data", actor="test")
    _, erp_only = create_token(store, "reader", scopes=[ERP], description="erp only", actor="test")
    _, loader = create_token(store, "integrator", scopes=[ERP], description="erp loader", actor="test")
    settings = Settings(store=url, write_token=ADMIN)
    app = create_app(settings, store=store)
    register(app, settings)
    live = LiveServer(app)
    yield {"url": live.url, "reader": reader, "erp": erp_only, "loader": loader}
    live.stop()
    store.close()


def says(service: dict[str, Any], token: str | None, query: str, **params: str) -> list[str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(f"{service['url']}/sparql", params={"query": query, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return sorted(b["o"]["value"] for b in response.json()["results"]["bindings"])


def test_anonymous_reading_stops_once_tokens_exist(service: dict[str, Any]) -> None:
    response = httpx.get(f"{service['url']}/sparql", params={"query": "ASK {}"})
    assert response.status_code == 401


def test_a_scoped_token_sees_only_its_graphs(service: dict[str, Any]) -> None:
    query = "SELECT ?o WHERE { ?s <http://e/says> ?o }"
    assert says(service, service["reader"], query) == ["erp", "mes"]
    assert says(service, service["erp"], query) == ["erp"]
    widen = (
        f"SELECT ?o FROM <{MES}> FROM NAMED <{MES}> "
        "WHERE { { ?s <http://e/says> ?o } UNION { GRAPH ?g { ?s ?p ?o } } }"
    )
    assert says(service, service["erp"], widen) == ["erp", "erp"]
    assert says(service, service["erp"], query, **{"default-graph-uri": MES}) == []


def test_the_security_graph_is_for_admins(service: dict[str, Any]) -> None:
    query = f"SELECT ?o WHERE {{ GRAPH <{SECURITY_GRAPH}> {{ ?s ?p ?o }} }}"
    assert says(service, service["reader"], query) == []
    assert says(service, ADMIN, query) != []
    gsp = httpx.get(
        f"{service['url']}/store",
        params={"graph": SECURITY_GRAPH},
        headers={"Authorization": f"Bearer {service['reader']}"},
    )
    assert gsp.status_code == 403


def test_named_queries_respect_scopes(service: dict[str, Any]) -> None:
    response = httpx.get(f"{service['url']}/queries/scrap-rate", headers={"Authorization": f"Bearer {service['erp']}"})
    assert response.status_code == 200 and response.headers["x-threadline-source"] == "query"


def test_writes_need_role_and_scope(service: dict[str, Any]) -> None:
    url, body = f"{service['url']}/store", b"<http://e/a> <http://e/b> <http://e/c> ."
    turtle = {"Content-Type": "text/turtle"}
    reader = httpx.put(
        url, params={"graph": ERP}, content=body, headers=turtle | {"Authorization": f"Bearer {service['reader']}"}
    )
    assert reader.status_code == 403
    outside = httpx.put(
        url, params={"graph": MES}, content=body, headers=turtle | {"Authorization": f"Bearer {service['loader']}"}
    )
    assert outside.status_code == 403
    inside = httpx.post(
        url, params={"graph": ERP}, content=body, headers=turtle | {"Authorization": f"Bearer {service['loader']}"}
    )
    assert inside.status_code == 204
    update = httpx.post(
        f"{service['url']}/sparql",
        data={"update": "CLEAR ALL"},
        headers={"Authorization": f"Bearer {service['loader']}"},
    )
    assert update.status_code == 403 and "admin" in update.json()["detail"]
