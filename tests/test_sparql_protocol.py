"""The W3C SPARQL 1.1 Protocol and Graph Store Protocol suites, replayed over HTTP against the live app.

Manifests are read in place from ``../shared/conformance/w3c-sparql11-protocol``; each request's path is moved
from the suite's ``/sparql/`` and ``/gsp`` to our ``/sparql`` and ``/store`` on the test server, and every
request carries the write token (the suite tests a writable endpoint). Without the token every update must
get 403 instead: that read-only behaviour is checked by ``test_updates_refused_without_token``.

Inapplicable (listed by name, with the reason):
- http-rdf-update/*: the 18 tests are ``dawg:Deprecated`` and prose only (superseded by graph-store-protocol).
The service-description manifest carries names only; its three checks are written out below.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import pyoxigraph as ox
import pytest
from rdflib import RDF, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.compare import graph_diff, isomorphic, to_isomorphic

from tests.conftest import LiveServer, conformance_dir
from threadline.config import Settings
from threadline.store import Store, open_store
from threadline.web.app import create_app

MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
HT = Namespace("http://www.w3.org/2011/http#")
CNT = Namespace("http://www.w3.org/2011/content#")
UT = Namespace("http://www.w3.org/2009/sparql/tests/test-update#")
RDFS = Namespace("http://www.w3.org/2000/01/rdf-schema#")
TOKEN = "suite-token"
STATUS = {"OK": {200}, "Created": {201}, "NoContent": {204}, "NotFound": {404}}
SUITE = "w3c-sparql11-protocol"
REMOTE = os.environ.get("THREADLINE_TEST_STORE") == "remote"
# On the embedded stores every protocol and graph-store test applies. Behind a remote store the updates that
# carry using-graph-uri cannot run: `oxigraph serve --union-default-graph` (the set-up Threadline needs)
# refuses any update with USING, which is how a dataset reaches it.
_USING = "remote store: `oxigraph serve --union-default-graph` refuses updates with USING (using-graph-uri)"
# and a remote store's default graph cannot be named in the explicit dataset non-admin readers query, so writes
# to /store?default are refused there (docs/sparql.md, "The dataset a query runs on")
_DEFAULT = "remote store: PUT /store?default is refused (its default graph would be visible to admins only)"
INAPPLICABLE: dict[str, str] = (
    {
        name: _USING
        for name in (
            "update_dataset_default_graph",
            "update_dataset_default_graphs",
            "update_dataset_named_graphs",
            "update_dataset_full",
        )
    }
    | {"put_get_default": _DEFAULT}
    if REMOTE
    else {}
)


def _suite_dir() -> Path | None:
    path = conformance_dir() / SUITE
    return path if path.is_dir() else None


def _load(manifest: Path) -> Graph:
    graph = Graph()
    graph.parse(manifest, format="turtle", publicID=manifest.as_uri())
    return graph


def _cases() -> list[Any]:
    root = _suite_dir()
    if root is None:
        return [pytest.param(None, id="suite-missing")]
    cases = []
    for manifest in (
        root / "protocol" / "manifest.ttl",
        *sorted((root / "graph-store-protocol").glob("manifest-*.ttl")),
    ):
        graph = _load(manifest)
        for entries in graph.objects(None, MF.entries):
            for test in Collection(graph, entries):
                name = str(test).rsplit("#", 1)[-1]
                marks = [pytest.mark.skip(reason=INAPPLICABLE[name])] if name in INAPPLICABLE else []
                cases.append(pytest.param((graph, test, manifest), id=f"{manifest.parent.name}/{name}", marks=marks))
    return cases


class Settings_(Settings):
    sparql_timeout: float = 20.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[tuple[str, Store]]:
    url = request.getfixturevalue("oxigraph_server").url if REMOTE else str(tmp_path_factory.mktemp("w3c") / "store")
    store = open_store(url)
    settings = Settings_(write_token=TOKEN, store=url)
    app = create_app(settings, store=store)
    live = LiveServer(app)
    yield live.url, store
    live.stop()
    store.close()


def _items(graph: Graph, node: Any) -> list[Any]:
    return list(Collection(graph, node)) if node is not None else []


def _expected_status(graph: Graph, response_node: Any) -> set[int]:
    codes: set[int] = set()
    for status in graph.objects(response_node, MF.expectedStatus):
        name = str(status).rsplit("#", 1)[-1]
        if name.startswith("StatusCode"):
            hundred = int(name[len("StatusCode")])
            codes |= set(range(hundred * 100, hundred * 100 + 100))
        else:
            codes |= STATUS[name]
    return codes


def _path(path: str) -> str:
    """The suite's request path on our server: ``/sparql/?…`` → ``/sparql?…``, ``/gsp…`` → ``/store…``."""
    if path.startswith("/sparql/"):
        return "/sparql" + path[len("/sparql/") :]
    return "/store" + path[len("/gsp") :]


def _boolean(response: httpx.Response) -> bool:
    media = response.headers["content-type"].split(";")[0]
    if "json" in media:
        return bool(json.loads(response.text)["boolean"])
    root = ElementTree.fromstring(response.content)
    element = root.find("{http://www.w3.org/2005/sparql-results#}boolean")
    assert element is not None, response.text
    return element.text == "true"


@pytest.mark.e2e
@pytest.mark.parametrize("case", _cases())
def test_w3c(case: Any, server: tuple[str, Store]) -> None:
    if case is None:
        pytest.skip(f"conformance set {SUITE!r} not found under {conformance_dir()} (set THREADLINE_CONFORMANCE_DIR)")
    graph, test, _manifest = case
    base, store = server
    store.update("DROP SILENT ALL")
    for data in graph.objects(test, UT.graphData):
        source = Path(str(graph.value(data, UT.graph)).removeprefix("file://"))
        store.load(source, str(graph.value(data, RDFS.label)), ox.RdfFormat.N_TRIPLES)
    action = graph.value(test, MF.action)
    location: str | None = None
    with httpx.Client(base_url=base, timeout=30) as client:
        for step, req in enumerate(_items(graph, graph.value(action, HT.requests)), 1):
            method = str(graph.value(req, HT.methodName))
            path = _path(str(graph.value(req, HT.absolutePath)))
            headers = {"Authorization": f"Bearer {TOKEN}", "X-Threadline-Reason": "W3C protocol test"}
            for header in _items(graph, graph.value(req, HT.headers)):
                headers[str(graph.value(header, HT.fieldName))] = str(graph.value(header, HT.fieldValue))
            body_node = graph.value(req, HT.body)
            content = None
            if body_node is not None:
                encoding = str(graph.value(body_node, CNT.characterEncoding) or "UTF-8")
                content = str(graph.value(body_node, CNT.chars)).encode(encoding.lower().replace("utf-16", "utf-16-le"))
            if location:
                path = path.replace("$LOCATION$", location)
                content = content.replace(b"$LOCATION$", location.encode()) if content else content
            response = client.request(method, path, headers=headers, content=content)
            where = f"{test} request {step}: {method} {path} -> {response.status_code} {response.text[:400]}"
            expected = graph.value(req, HT.resp)
            codes = _expected_status(graph, expected)
            if codes:
                assert response.status_code in codes, where
            if graph.value(expected, MF.expectedLocation) is not None:
                location = response.headers["location"]
            fmt = graph.value(expected, MF.expectedFormat)
            if fmt is not None:
                media = response.headers["content-type"].split(";")[0].strip()
                allowed = {
                    "boolean": {"application/sparql-results+json", "application/sparql-results+xml"},
                    "tabular": {
                        "application/sparql-results+json",
                        "application/sparql-results+xml",
                        "text/csv",
                        "text/tab-separated-values",
                    },
                    "RDF": {"text/turtle", "application/n-triples", "application/rdf+xml"},
                }[str(fmt)]
                assert media in allowed, where
            boolean = graph.value(expected, MF.expectedBoolean)
            if boolean is not None:
                assert _boolean(response) is bool(Literal(boolean).toPython()), where
            for header in _items(graph, graph.value(expected, HT.headers)):
                name, value = str(graph.value(header, HT.fieldName)), str(graph.value(header, HT.fieldValue))
                assert response.headers.get(name, "").replace(" ", "").lower() == value.replace(" ", "").lower(), where
            body = graph.value(expected, HT.body)
            if body is not None:
                want = Graph().parse(data=str(graph.value(body, CNT.chars)), format="turtle")
                got = Graph().parse(data=response.text, format="turtle")
                if not isomorphic(want, got):
                    _, missing, extra = graph_diff(to_isomorphic(want), to_isomorphic(got))
                    pytest.fail(
                        f"{where}\nmissing:\n{missing.serialize(format='nt')}\nextra:\n{extra.serialize(format='nt')}"
                    )


UPDATE_TESTS = ["update_post_form", "update_post_direct", "update_base_uri", "update_dataset_full"]


@pytest.mark.parametrize("name", UPDATE_TESTS)
def test_updates_refused_without_token(name: str, server: tuple[str, Store]) -> None:
    """The endpoint is read-only for callers without the token: the suite's updates get 403, nothing changes."""
    root = _suite_dir()
    if root is None:
        pytest.skip(f"conformance set {SUITE!r} not found")
    graph = _load(root / "protocol" / "manifest.ttl")
    test = URIRef("http://www.w3.org/2009/sparql/docs/tests/data-sparql11/protocol/manifest#" + name)
    req = _items(graph, graph.value(graph.value(test, MF.action), HT.requests))[0]
    base, store = server
    store.update("DROP SILENT ALL")
    store.load(b"<http://e/s> <http://e/p> <http://e/o> .", "http://e/g", ox.RdfFormat.N_TRIPLES)
    before = store.digest()
    headers = {
        str(graph.value(h, HT.fieldName)): str(graph.value(h, HT.fieldValue))
        for h in _items(graph, graph.value(req, HT.headers))
    }
    body = str(graph.value(graph.value(req, HT.body), CNT.chars)).encode()
    for auth, status in (({}, 403), ({"Authorization": "Bearer wrong-token"}, 401)):
        response = httpx.post(
            base + _path(str(graph.value(req, HT.absolutePath))), headers=headers | auth, content=body
        )
        assert response.status_code == status, response.text
        assert "token" in response.json()["error"]
    assert store.digest() == before


def test_service_description(server: tuple[str, Store]) -> None:
    """service-description/{returns-rdf, has-endpoint-triple, conforms-to-schema}."""
    base, _ = server
    response = httpx.get(base + "/sparql", headers={"Accept": "text/turtle"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/turtle")
    sd = Namespace("http://www.w3.org/ns/sparql-service-description#")
    graph = Graph().parse(data=response.text, format="turtle")
    services = list(graph.subjects(RDF.type, sd.Service))
    assert len(services) == 1
    assert (services[0], sd.endpoint, URIRef(base + "/sparql")) in graph
    assert (services[0], sd.supportedLanguage, sd.SPARQL11Query) in graph
