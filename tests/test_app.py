"""The real ASGI app over HTTP (uvicorn on loopback): health, version, stats and authorised ingest."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.test_loader import GOOD, MAPPING
from threadline.config import Settings
from threadline.namespaces import LEASE_GRAPH, STORE_GRAPH, TL
from threadline.store import STAGING_PREFIX, open_store
from threadline.web.app import create_app

TOKEN = "s3cret-token"


@pytest.fixture
def live(tmp_path: Path, e2e_store_url: str, serve_app):  # type: ignore[no-untyped-def]
    pack = tmp_path / "ingest" / "mes"
    pack.mkdir(parents=True)
    (pack / "units.rml.ttl").write_text(MAPPING)
    settings = Settings(
        store=e2e_store_url, ingest_dir=tmp_path / "ingest", write_token=TOKEN, var_dir=tmp_path / "var"
    )
    store = open_store(e2e_store_url, settings)
    server = serve_app(create_app(settings, store=store))
    server.store = store
    return server


@pytest.mark.e2e
def test_health_version_and_home(live) -> None:  # type: ignore[no-untyped-def]
    health = httpx.get(f"{live.url}/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    version = httpx.get(f"{live.url}/version").json()
    assert version["threadline"] and version["pyoxigraph"].startswith("0.5")
    home = httpx.get(f"{live.url}/")
    assert "Threadline" in home.text and 'href="/ontology"' in home.text


@pytest.mark.e2e
def test_ingest_needs_the_write_token(live) -> None:  # type: ignore[no-untyped-def]
    files = {"files": ("units.csv", GOOD.encode(), "text/csv")}
    anonymous = httpx.post(f"{live.url}/ingest/mes", files=files)
    assert anonymous.status_code == 401
    wrong = httpx.post(f"{live.url}/ingest/mes", files=files, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert set(live.store.stats().graphs) <= {STORE_GRAPH}  # nothing but the store's version record


@pytest.mark.e2e
def test_ingest_loads_and_reports(live) -> None:  # type: ignore[no-untyped-def]
    response = httpx.post(
        f"{live.url}/ingest/mes",
        files={"files": ("units.csv", GOOD.encode(), "text/csv")},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["batches"][0]["records"] == 2 and body["batches"][0]["status"] == "loaded"
    serials = live.store.select(f"SELECT ?s WHERE {{ ?u <{TL}serialNumber> ?s }} ORDER BY ?s").values("s")
    assert serials == ["SN-1", "SN-2"]
    stats = httpx.get(f"{live.url}/stats").json()  # anonymous: a reader, while no API token exists
    everything = live.store.stats().graphs
    assert "https://w3id.org/threadline/graph/audit" in everything
    assert "https://w3id.org/threadline/graph/audit" not in stats["graphs"], "readers must not see the audit trail"
    assert STORE_GRAPH in everything and STORE_GRAPH not in stats["graphs"], "nor the store's version record"
    # the KPI refresh the load started may be staging meanwhile (a staging graph; on a remote store, its claim in the
    # admin-only lease graph): in flight, and no reader's business
    in_flight = (STAGING_PREFIX, LEASE_GRAPH)
    hidden = ("/graph/audit", "/graph/changes/")  # compliance reads the audit trail and the change sets
    readable = {g: n for g, n in everything.items() if not any(h in g for h in hidden) and g != STORE_GRAPH}
    assert stats["graphs"] == {g: n for g, n in readable.items() if not g.startswith(in_flight)}


@pytest.mark.e2e
def test_bad_upload_is_a_422_naming_the_fault_and_store_unchanged(live) -> None:  # type: ignore[no-untyped-def]
    before = live.store.digest()
    bad = "serial,status,completed,drawing\nSN-1,completed,2024-13-45,urn:d\n"
    response = httpx.post(
        f"{live.url}/ingest/mes",
        files={"files": ("units.csv", bad.encode(), "text/csv")},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 422
    body = response.json()
    assert body["file"] == "units.csv" and body["locator"] == "row 2" and body["field"] == "completed"
    assert live.store.digest() == before


def test_writes_are_refused_without_a_configured_token(tmp_path: Path, serve_app) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(store="memory:", ingest_dir=tmp_path, var_dir=tmp_path / "var")
    server = serve_app(create_app(settings))
    response = httpx.post(f"{server.url}/ingest/mes", files={"files": ("units.csv", b"x", "text/csv")})
    assert response.status_code == 401
    assert "integrator" in response.json()["error"]
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_ontology_is_served_as_turtle_and_html(tmp_path: Path, serve_app) -> None:  # type: ignore[no-untyped-def]
    import pyoxigraph as ox

    server = serve_app(create_app(Settings(store="memory:", var_dir=tmp_path)))
    turtle = httpx.get(f"{server.url}/ontology", headers={"Accept": "text/turtle"})
    assert turtle.headers["content-type"].startswith("text/turtle")
    graph = ox.Dataset(ox.parse(turtle.content, ox.RdfFormat.TURTLE))
    unit = ox.NamedNode(TL + "SerializedUnit")
    owl_class = ox.NamedNode("http://www.w3.org/2002/07/owl#Class")
    assert ox.Quad(unit, ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"), owl_class) in graph
    assert httpx.get(f"{server.url}/ontology.ttl").content == turtle.content
    page = httpx.get(f"{server.url}/ontology", headers={"Accept": "text/html"})
    assert page.headers["content-type"].startswith("text/html")
    assert "SerializedUnit" in page.text and "<svg" in page.text
