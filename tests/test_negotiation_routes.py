"""Content negotiation on the live app: /ontology, /queries/{name}, /graphql and the SPARQL endpoint's page all
decide by q-value (``sparql.negotiation.best``), never by a substring of ``Accept``; 406 when nothing offered is
acceptable, 400 for an unknown ``format``."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import httpx
import pytest

from threadline.config import Settings
from threadline.sparql import negotiation as neg
from threadline.web.app import create_app

TOKEN = "negotiation-test-token"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    from tests.conftest import LiveServer

    tmp = tmp_path_factory.mktemp("negotiation")
    settings = Settings(store="memory:", var_dir=tmp / "var", write_token=TOKEN, anonymous_read="off")
    server = LiveServer(create_app(settings))
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            yield http
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "text/turtle"),
        ("*/*", "text/turtle"),
        (BROWSER, "text/html"),
        ("text/html;q=0.4, text/turtle;q=0.9", "text/turtle"),
        ("text/turtle;q=0.5, text/html", "text/html"),
        ("text/html;q=0, */*", "text/turtle"),
        ("text/*;q=0.5, text/html;q=0", "text/turtle"),
        ("text/html;q=0", 406),
        ("application/json", 406),
    ],
)
def test_ontology_by_q_value(client: httpx.Client, accept: str | None, expected: str | int) -> None:
    response = client.get("/ontology", headers={"Accept": accept or ""})
    if isinstance(expected, int):
        assert response.status_code == expected, response.text
        assert "text/turtle" in response.json()["error"]
        return
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == expected
    if expected == "text/html":
        assert response.text.lstrip().lower().startswith("<!doctype html")
    else:
        assert "owl:Ontology" in response.text


def test_ontology_format_parameter(client: httpx.Client) -> None:
    html = client.get("/ontology", params={"format": "html"}, headers={"Accept": "text/turtle"})
    assert html.status_code == 200 and html.text.lstrip().lower().startswith("<!doctype html")
    ttl = client.get("/ontology", params={"format": "ttl"}, headers={"Accept": "text/html"})
    assert ttl.status_code == 200 and "owl:Ontology" in ttl.text
    bad = client.get("/ontology", params={"format": "pdf"})
    assert bad.status_code == 400 and "pdf" in bad.json()["error"]


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "json"),
        ("application/json, text/csv;q=0.5", "json"),
        ("text/csv, application/json;q=0.5", "csv"),
        ("text/csv;q=0, */*", "json"),
        ("text/*", "csv"),
        ("text/html", 406),
        ("text/csv;q=0", 406),
    ],
)
def test_named_query_by_q_value(client: httpx.Client, accept: str | None, expected: str | int) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": accept or ""}
    response = client.get("/queries/ncr-pareto", headers=headers)
    if isinstance(expected, int):
        assert response.status_code == expected, response.text
        assert "application/json" in response.json()["error"]
        return
    assert response.status_code == 200, response.text
    if expected == "json":
        body = response.json()
        assert body["query"] == "ncr-pareto" and body["rows"] == [] and body["variables"]
    else:
        assert response.headers["content-type"].startswith("text/csv")
        header = next(csv.reader(io.StringIO(response.text)))
        assert (
            header
            and header == client.get("/queries/ncr-pareto", headers={**headers, "Accept": ""}).json()["variables"]
        )


def test_named_query_format_parameter(client: httpx.Client) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    as_csv = client.get("/queries/ncr-pareto", params={"format": "csv"}, headers={**auth, "Accept": "application/json"})
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    bad = client.get("/queries/ncr-pareto", params={"format": "xml"}, headers=auth)
    assert bad.status_code == 400 and "xml" in bad.json()["error"]


def test_graphql_query_with_html_accept_still_needs_a_token(client: httpx.Client) -> None:
    """The explorer page needs no token; a query does, whatever the client puts in ``Accept``."""
    query = {"query": "{ __typename }"}
    for accept in (BROWSER, "text/html", "text/html;q=0, application/json"):
        response = client.get("/graphql", params=query, headers={"Accept": accept})
        assert response.status_code == 401, (accept, response.status_code, response.text[:200])
    page = client.get("/graphql", headers={"Accept": BROWSER})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    refused_page = client.get("/graphql", headers={"Accept": "text/html;q=0, application/json"})
    assert refused_page.status_code != 200 or "graphiql" not in refused_page.text.lower()
    authorised = client.get(
        "/graphql", params=query, headers={"Accept": "application/json", "Authorization": f"Bearer {TOKEN}"}
    )
    assert authorised.status_code == 200 and authorised.json()["data"] == {"__typename": "Query"}


def test_sparql_page_only_when_html_is_preferred(client: httpx.Client) -> None:
    page = client.get("/sparql", headers={"Accept": BROWSER})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    described = client.get("/sparql", headers={"Accept": "text/html;q=0.1, text/turtle"})
    assert described.status_code == 200 and described.headers["content-type"].startswith("text/turtle")
    assert "sd:Service" in described.text or "service-description" in described.text


def test_best_prefers_the_most_specific_range() -> None:
    assert neg.best("text/*;q=0.9, text/html;q=0", ["text/html", "text/turtle"]) == "text/turtle"
    assert neg.best("", ["a/b", "c/d"]) == "a/b"
    with pytest.raises(neg.NotAcceptable):
        neg.best("image/png", ["a/b"])
