"""Validation over HTTP on the live app: POST /validate (profile or uploaded shapes), GET /reports, the stored
evidence graph and its PROV, bad input, and the load gate's rejection through POST /ingest."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from rdflib import RDF, Literal, Namespace, URIRef

from tests.shacl_demo import REPO, build_demo, store_from
from threadline import features
from threadline.config import Settings
from threadline.shacl.report import _slug, data_state, load_stored_report
from threadline.store import Store
from threadline.web.app import create_app

TOKEN = "validation-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PROV = Namespace("http://www.w3.org/ns/prov#")
TL = Namespace("https://w3id.org/threadline/ontology#")
SH = Namespace("http://www.w3.org/ns/shacl#")
SUPPLIER_SHAPES = """@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix tl: <https://w3id.org/threadline/ontology#> .
@prefix ex: <http://example.org/plant#> .
ex:ApprovedSupplier a sh:NodeShape ; sh:targetClass tl:Supplier ;
  sh:property [ sh:path tl:approvalStatus ; sh:in ( "approved" ) ; sh:severity sh:Warning ;
                sh:message "Supplier is not fully approved." ] .
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    return build_demo(tmp_path_factory.mktemp("http-demo"), units=40)


@pytest.fixture
def store(demo: tuple[Path, dict]) -> Store:
    return store_from(demo[0])


@pytest.fixture
def client(store: Store, serve_app, tmp_path: Path) -> Iterator[httpx.Client]:  # type: ignore[no-untyped-def]
    settings = Settings(store="memory:", var_dir=tmp_path / "var", write_token=TOKEN)
    server = serve_app(create_app(settings, store=store))
    with httpx.Client(base_url=server.url, timeout=120) as http:
        yield http


def test_validate_profile_and_latest_reports(client: httpx.Client, demo: tuple[Path, dict]) -> None:
    manifest = demo[1]
    first = client.post("/validate", params={"profile": "core"}, headers=AUTH)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["profile"] == "core" and body["conforms"] is False
    assert sorted(r["focus"] for r in body["results"]) == sorted(g["focus"] for g in manifest["gaps"])
    assert first.headers["X-Result-Count"] == str(len(manifest["gaps"]))
    assert all(r["clause"] and r["fix_hint"] and r["identifier"] for r in body["results"])
    _link_queries_are_valid_graphql([r["link"] for r in body["results"]])
    second = client.post("/validate", params={"profile": "core", "format": "csv"}, headers=AUTH)
    assert second.status_code == 200 and second.text.startswith("severity,focus,identifier")
    third = client.post("/validate", params={"profile": "cfr820"}, headers=AUTH)
    assert third.status_code == 200
    reports = client.get("/reports").json()["reports"]
    assert [r["profile"] for r in reports] == ["cfr820", "core"]
    latest = {r["profile"]: r for r in reports}
    assert latest["core"]["graph"] == second.headers["X-Report-Graph"]
    assert latest["cfr820"]["graph"] == third.headers["X-Report-Graph"]
    assert latest["core"]["results"] == len(manifest["gaps"]) and latest["core"]["conforms"] is False
    page = client.get(latest["core"]["view"])
    assert page.status_code == 200 and "Threadline validation report" in page.text
    gap = manifest["gaps"][0]["focus"]
    assert gap in page.text


def test_validate_uploaded_shapes(client: httpx.Client, store: Store) -> None:
    response = client.post("/validate", files={"shapes": ("suppliers.ttl", SUPPLIER_SHAPES, "text/turtle")})
    assert response.status_code == 200, response.text
    body = response.json()
    expected = store.select(
        "SELECT DISTINCT ?s WHERE { ?s a <https://w3id.org/threadline/ontology#Supplier> ; "
        '<https://w3id.org/threadline/ontology#approvalStatus> ?a FILTER(?a != "approved") }'
    ).values("s")
    assert expected, "the demo plant has conditional or disqualified suppliers"
    assert sorted(r["focus"] for r in body["results"]) == sorted(expected)
    assert {r["severity"] for r in body["results"]} == {"Warning"}
    assert {r["message"] for r in body["results"]} == {"Supplier is not fully approved."}
    assert "X-Report-Graph" not in response.headers  # no write token: validated, not stored
    turtle = client.post(
        "/validate",
        params={"format": "turtle", "engine": "pyshacl"},
        files={"shapes": ("suppliers.ttl", SUPPLIER_SHAPES, "text/turtle")},
    )
    assert turtle.status_code == 200 and "sh:ValidationReport" in turtle.text


def test_evidence_graph_has_prov(client: httpx.Client, store: Store) -> None:
    response = client.post("/validate", params={"profile": "core"}, headers=AUTH)
    assert response.status_code == 200
    graph = load_stored_report(store, response.headers["X-Report-Graph"])
    report = next(graph.subjects(PROV.wasGeneratedBy, None))
    run = graph.value(report, PROV.wasGeneratedBy)
    assert (report, RDF.type, TL.ValidationReport) in graph and (run, RDF.type, PROV.Activity) in graph
    assert graph.value(report, PROV.generatedAtTime).datatype == URIRef("http://www.w3.org/2001/XMLSchema#dateTime")
    agent = "https://w3id.org/threadline/id/agent/" + _slug("token:bootstrap (THREADLINE_WRITE_TOKEN)")
    assert graph.value(run, PROV.wasAssociatedWith) == URIRef(agent)  # the caller's token, not a claimed name
    assert graph.value(run, TL.profile) == Literal("core")
    files = {
        str(graph.value(f, TL.fileName)): str(graph.value(f, TL.sha256))
        for f in graph.objects(run, PROV.used)
        if graph.value(f, TL.fileName) is not None
    }
    assert files == {"core.ttl": hashlib.sha256((REPO / "shapes" / "core.ttl").read_bytes()).hexdigest()}
    state, batches = data_state(store)
    assert graph.value(run, TL.dataState) == Literal(state)
    used = {str(o) for o in graph.objects(run, PROV.used)}
    assert {b for b, _ in batches} <= used
    assert len(list(graph.objects(None, SH.focusNode))) == int(response.headers["X-Result-Count"])
    # the evidence was recorded in the audit trail, in the same update that stored it
    from threadline import audit
    from threadline.audit.verify import read_entries

    entries = [found[0] for found in read_entries(store).values() if found[0]["action"] == "validation-evidence"]
    mine = [e for e in entries if response.headers["X-Report-Graph"] in e["what"]]
    assert len(mine) == 1 and mine[0]["actor"] == "token:bootstrap (THREADLINE_WRITE_TOKEN)"
    assert '"profile":"core"' in mine[0]["what"] and audit.verify(store).intact


def test_bad_input(client: httpx.Client, tmp_path: Path) -> None:
    unknown = client.post("/validate", params={"profile": "nope"})
    assert unknown.status_code == 400
    assert "unknown validation profile 'nope'" in unknown.json()["error"]
    assert "core" in unknown.json()["error"]
    broken = SUPPLIER_SHAPES.replace('sh:in ( "approved" ) ;', 'sh:in ( "approved" ;; ]')
    malformed = client.post("/validate", files={"shapes": ("bad.ttl", broken, "text/turtle")})
    assert malformed.status_code == 400
    error = malformed.json()["error"]
    assert error.startswith("bad.ttl: syntax error at line 5"), error
    assert "threadline-shapes-" not in error
    assert client.post("/validate", params={"format": "pdf"}).status_code == 422
    assert client.post("/validate", params={"engine": "jena"}).status_code == 422
    refused = client.post("/validate", params={"store_report": "true"})  # anonymous reader: may not store
    assert refused.status_code == 403 and "compliance" in refused.text
    both = client.post(
        "/validate", params={"profile": "core"}, files={"shapes": ("s.ttl", SUPPLIER_SHAPES, "text/turtle")}
    )
    assert both.status_code == 422


def test_gate_rejects_http_ingest(store: Store, demo: tuple[Path, dict], serve_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    exports = demo[0].parent
    settings = Settings(
        store="memory:", var_dir=tmp_path / "var", write_token=TOKEN, validation_gate={"core": "reject"}
    )
    try:
        server = serve_app(create_app(settings, store=store))
        before = store.digest()
        folder = tmp_path / "mes"
        shutil.copytree(exports / "mes", folder)
        ops = (folder / "operations.jsonl").read_text().replace('"operator": "E', '"operator": null, "x": "E', 1)
        (folder / "operations.jsonl").write_text(ops)
        files = [("files", (p.name, p.read_bytes())) for p in sorted(folder.iterdir())]
        response = httpx.post(f"{server.url}/ingest/mes", files=files, headers=AUTH, timeout=120)
    finally:
        features.uninstall()
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert "mes load rejected by the 'core' validation gate" in error
    assert "The operation record names no operator." in error
    assert store.digest() == before


def _link_queries_are_valid_graphql(links: list[str]) -> None:
    """Each result links to its object in the GraphQL explorer with a query our schema accepts."""
    from urllib.parse import parse_qs, urlsplit

    from graphql import build_schema, parse, validate

    schema = build_schema((REPO / "graphql" / "schema.graphql").read_text(encoding="utf-8"))
    for link in links:
        parts = urlsplit(link)
        assert parts.path == "/graphql"
        query = parse_qs(parts.query)["query"][0]
        assert validate(schema, parse(query)) == [], query


def test_scoped_token_validates_only_its_graphs(client: httpx.Client, store: Store) -> None:
    from threadline.auth import create_token
    from threadline.shacl.engine import NativeEngine
    from threadline.shacl.shapes import load_profile

    _, secret = create_token(store, "reader", scopes=["https://w3id.org/threadline/graph/batch/qms/*"], actor="test")
    response = client.post("/validate", params={"profile": "core"}, headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200, response.text
    assert "X-Report-Graph" not in response.headers  # a reader validates, it does not store evidence
    qms = [g for g in store.graphs() if g.startswith("https://w3id.org/threadline/graph/batch/qms/")]
    expected = NativeEngine(store, load_profile(REPO / "shapes", "core"), default_graphs=qms).validate()
    everything = NativeEngine(store, load_profile(REPO / "shapes", "core")).validate()
    found = sorted(r["focus"] for r in response.json()["results"])
    assert found == sorted(str(r.focus) for r in expected.results)
    assert found != sorted(str(r.focus) for r in everything.results)  # the scope made a difference
