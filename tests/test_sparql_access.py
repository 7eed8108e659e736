"""Roles and graph scopes at /sparql, /store and /queries: a token sees only its graphs, a query's own FROM /
FROM NAMED picks its dataset but cannot widen the view (a graph outside it reads as empty), the security graph
(token hashes) is for admins only, the stored default graph reads the same for every unscoped caller, and
writes need the right role."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pyoxigraph as ox
import pytest

from tests.conftest import LiveServer
from threadline.auth import SECURITY_GRAPH
from threadline.auth.tokens import create_token
from threadline.config import Settings
from threadline.store import open_store
from threadline.web.app import create_app

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
    live = LiveServer(app)
    yield {"url": live.url, "reader": reader, "erp": erp_only, "loader": loader}
    live.stop()
    store.close()


def says(service: dict[str, Any], token: str | None, query: str, **params: str) -> list[str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    # generous: the first query on the on-disk store starts the worker processes, slow on a busy machine
    response = httpx.get(f"{service['url']}/sparql", params={"query": query, **params}, headers=headers, timeout=60)
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
    assert says(service, service["erp"], widen) == []
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
    assert update.status_code == 403 and "admin" in update.json()["error"]


COUNT = "SELECT (COUNT(*) AS ?o) {from} WHERE {{ ?s ?p ?x }}"


def count(service: dict[str, Any], token: str | None, dataset: str, **params: str) -> int:
    (value,) = says(service, token, COUNT.format(**{"from": dataset}), **params)
    return int(value)


@pytest.mark.parametrize("who", ["admin", "reader", "erp"])
def test_a_querys_from_picks_the_default_graph(service: dict[str, Any], who: str) -> None:
    token = ADMIN if who == "admin" else service[who]
    assert says(service, token, f"SELECT ?o FROM <{ERP}> WHERE {{ ?s <http://e/says> ?o }}") == ["erp"]
    assert count(service, token, "FROM <https://example.org/graph/missing>") == 0
    # relative IRIs resolve against the endpoint, prefixed names through the prologue
    assert count(service, token, "FROM <graph/erp>") == 0
    prefixed = "PREFIX g: <https://example.org/graph/> SELECT ?o FROM g:erp WHERE { ?s <http://e/says> ?o }"
    assert says(service, token, prefixed) == ["erp"]


@pytest.mark.parametrize("who", ["admin", "reader"])
def test_from_named_alone_gives_an_empty_default_graph(service: dict[str, Any], who: str) -> None:
    token = ADMIN if who == "admin" else service[who]
    either = "WHERE { { GRAPH ?g { ?s <http://e/says> ?o } } UNION { ?s <http://e/says> ?o } }"
    query = f"SELECT ?o FROM NAMED <{MES}> {either}"
    assert says(service, token, query) == ["mes"]
    both = f"SELECT ?o FROM <{ERP}> FROM NAMED <{MES}> {either}"
    assert says(service, token, both) == ["erp", "mes"]
    # FROM alone: no named graphs
    assert says(service, token, f"SELECT ?o FROM <{ERP}> WHERE {{ GRAPH ?g {{ ?s <http://e/says> ?o }} }}") == []


def test_the_protocol_dataset_overrides_the_querys(service: dict[str, Any]) -> None:
    query = f"SELECT ?o FROM <{ERP}> WHERE {{ ?s <http://e/says> ?o }}"
    assert says(service, ADMIN, query, **{"default-graph-uri": MES}) == ["mes"]
    assert says(service, service["reader"], query, **{"default-graph-uri": MES}) == ["mes"]


def test_a_scoped_reader_cannot_read_outside_its_view_with_from(service: dict[str, Any]) -> None:
    erp = service["erp"]
    assert count(service, erp, f"FROM <{MES}>") == 0
    assert count(service, erp, f"FROM <{SECURITY_GRAPH}>") == 0
    assert count(service, service["reader"], f"FROM <{SECURITY_GRAPH}>") == 0
    assert count(service, ADMIN, f"FROM <{SECURITY_GRAPH}>") > 0
    assert says(service, erp, f"SELECT ?o FROM <{ERP}> FROM <{MES}> WHERE {{ ?s <http://e/says> ?o }}") == ["erp"]
    named = f"SELECT ?o FROM NAMED <{MES}> FROM NAMED <{ERP}> WHERE {{ GRAPH ?g {{ ?s <http://e/says> ?o }} }}"
    assert says(service, erp, named) == ["erp"]


def test_a_from_keyword_in_strings_or_iris_is_no_dataset_clause(service: dict[str, Any]) -> None:
    query = 'SELECT ?o WHERE { ?s <http://e/says> ?o FILTER(?o != "FROM <x>") } # FROM <y>'
    assert says(service, ADMIN, query) == ["erp", "mes"]


def test_an_unreadable_from_is_a_400(service: dict[str, Any]) -> None:
    response = httpx.get(f"{service['url']}/sparql", params={"query": "SELECT * FROM WHERE { ?s ?p ?o }"})
    assert response.status_code in (400, 401)
    response = httpx.get(
        f"{service['url']}/sparql",
        params={"query": "SELECT * FROM WHERE { ?s ?p ?o }"},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert response.status_code == 400 and response.json()["error"]


def test_the_stored_default_graph_reads_the_same_for_unscoped_callers(service: dict[str, Any]) -> None:
    """PUT /store?default used to be accepted and then invisible to every query but an admin's."""
    body = b'<http://e/d> <http://e/inDefault> "stored default" .'
    put = httpx.put(
        f"{service['url']}/store?default",
        content=body,
        headers={
            "Content-Type": "application/n-triples",
            "Authorization": f"Bearer {ADMIN}",
            "X-Threadline-Reason": "t",
        },
    )
    assert put.status_code in (201, 204), put.text
    try:
        query = "SELECT ?o WHERE { ?s <http://e/inDefault> ?o }"
        assert says(service, ADMIN, query) == ["stored default"]
        assert says(service, service["reader"], query) == ["stored default"]
        # a scoped token may not read the default graph over /store either
        assert says(service, service["erp"], query) == []
        gsp = httpx.get(f"{service['url']}/store?default", headers={"Authorization": f"Bearer {service['erp']}"})
        assert gsp.status_code == 403
    finally:
        delete = httpx.delete(
            f"{service['url']}/store?default",
            headers={"Authorization": f"Bearer {ADMIN}", "X-Threadline-Reason": "t"},
        )
        assert delete.status_code == 204, delete.text


def test_the_cli_honours_from(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from threadline.cli import main

    url = str(tmp_path / "store")
    store = open_store(url)
    store.load(b'<http://e/po> <http://e/says> "erp" .', ERP, ox.RdfFormat.N_TRIPLES)
    store.load(b'<http://e/op> <http://e/says> "mes" .', MES, ox.RdfFormat.N_TRIPLES)
    store.close()
    runner = CliRunner()

    def run(query: str) -> list[str]:
        result = runner.invoke(main, ["query", "--store", url, "--format", "json", "--sparql", query])
        assert result.exit_code == 0, result.output
        import json

        return sorted(str(row["o"]) for row in json.loads(result.output)["rows"])

    assert run("SELECT ?o WHERE { ?s <http://e/says> ?o }") == ["erp", "mes"]
    assert run(f"SELECT ?o FROM <{ERP}> WHERE {{ ?s <http://e/says> ?o }}") == ["erp"]
    assert run("SELECT ?o FROM <https://example.org/graph/missing> WHERE { ?s <http://e/says> ?o }") == []
    assert run(f"SELECT ?o FROM NAMED <{MES}> WHERE {{ GRAPH ?g {{ ?s <http://e/says> ?o }} }}") == ["mes"]


def test_a_remote_stores_default_graph_refuses_graph_store_writes(oxigraph_server: Any) -> None:
    """Behind a remote store the stored default graph cannot be put in a reader's dataset: refused, not hidden."""
    store = open_store(oxigraph_server.url)
    settings = Settings(store=oxigraph_server.url, write_token=ADMIN)
    app = create_app(settings, store=store)
    live = LiveServer(app)
    try:
        headers = {
            "Content-Type": "application/n-triples",
            "Authorization": f"Bearer {ADMIN}",
            "X-Threadline-Reason": "t",
        }
        body = b'<http://e/remote> <http://e/inDefault> "x" .'
        for method in ("PUT", "POST"):
            response = httpx.request(method, f"{live.url}/store?default", content=body, headers=headers)
            assert response.status_code == 400 and "?graph=" in response.json()["error"], response.text
        assert not store.ask("ASK { <http://e/remote> ?p ?o }")
        named = httpx.put(f"{live.url}/store", params={"graph": ERP + "/remote"}, content=body, headers=headers)
        assert named.status_code == 201, named.text
    finally:
        live.stop()
        store.update(f"DROP SILENT GRAPH <{ERP}/remote>")
        store.close()
