"""Real SPARQL clients against the live endpoint, unchanged and with their default settings.

SPARQLWrapper asks for XML and adds ``format``/``output``/``results`` parameters; rdflib's SPARQLStore asks for
XML; sparql-dataframe asks for CSV and reads it with pandas. Each test asserts the data that came back.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyoxigraph as ox
import pytest

from tests.conftest import LiveServer
from threadline.config import Settings
from threadline.store import open_store
from threadline.web.app import create_app

TL = "https://w3id.org/threadline/ontology#"
UNIT = "https://w3id.org/threadline/id/unit/"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
DATA = f"""
<{UNIT}SN-1> <{RDF_TYPE}> <{TL}SerializedUnit> .
<{UNIT}SN-1> <{TL}serialNumber> "SN-1" .
<{UNIT}SN-1> <{TL}reworked> "true"^^<http://www.w3.org/2001/XMLSchema#boolean> .
<{UNIT}SN-2> <{RDF_TYPE}> <{TL}SerializedUnit> .
<{UNIT}SN-2> <{TL}serialNumber> "SN-2, \\"quoted\\"" .
""".encode()
SELECT = """PREFIX tl: <https://w3id.org/threadline/ontology#>
SELECT ?unit ?serial WHERE { ?unit a tl:SerializedUnit ; tl:serialNumber ?serial } ORDER BY ?serial"""


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = str(tmp_path_factory.mktemp("clients") / "store")
    store = open_store(url)
    store.load(DATA, "https://w3id.org/threadline/graph/test", ox.RdfFormat.N_TRIPLES)
    settings = Settings(store=url)
    app = create_app(settings, store=store)
    live = LiveServer(app)
    yield live.url + "/sparql"
    live.stop()
    store.close()


def test_sparqlwrapper_defaults(endpoint: str) -> None:
    from SPARQLWrapper import SPARQLWrapper

    client = SPARQLWrapper(endpoint)
    client.setQuery(SELECT)
    result = client.query()
    assert result.response.headers["content-type"].startswith("application/sparql-results+xml")
    document = result.convert()  # an xml.dom document, SPARQLWrapper's default
    literals = [node.firstChild.data for node in document.getElementsByTagName("literal")]
    assert literals == ["SN-1", 'SN-2, "quoted"']


def test_sparqlwrapper_json_and_construct(endpoint: str) -> None:
    from SPARQLWrapper import JSON, TURTLE, SPARQLWrapper

    client = SPARQLWrapper(endpoint)
    client.setQuery(SELECT)
    client.setReturnFormat(JSON)
    rows = client.query().convert()["results"]["bindings"]
    assert [row["serial"]["value"] for row in rows] == ["SN-1", 'SN-2, "quoted"']
    client.setQuery("CONSTRUCT WHERE { ?s <https://w3id.org/threadline/ontology#reworked> ?o }")
    client.setReturnFormat(TURTLE)
    turtle = client.query().convert()
    assert b"unit/SN-1" in turtle


def test_sparqlwrapper_default_construct_is_rdfxml(endpoint: str) -> None:
    from SPARQLWrapper import SPARQLWrapper

    client = SPARQLWrapper(endpoint)
    client.setQuery("CONSTRUCT WHERE { ?s <https://w3id.org/threadline/ontology#reworked> ?o }")
    graph = client.query().convert()  # rdflib Graph parsed from RDF/XML
    assert len(graph) == 1


def test_rdflib_sparqlstore_defaults(endpoint: str) -> None:
    from rdflib import Graph, Literal, URIRef
    from rdflib.plugins.stores.sparqlstore import SPARQLStore

    graph = Graph(store=SPARQLStore(endpoint))
    rows = list(graph.query(SELECT))
    assert [(str(r.unit), str(r.serial)) for r in rows] == [
        ("https://w3id.org/threadline/id/unit/SN-1", "SN-1"),
        ("https://w3id.org/threadline/id/unit/SN-2", 'SN-2, "quoted"'),
    ]
    assert graph.query("ASK { ?s ?p ?o }").askAnswer is True
    reworked = URIRef("https://w3id.org/threadline/ontology#reworked")
    assert list(graph.objects(None, reworked)) == [Literal(True)]


def test_sparql_dataframe_defaults(endpoint: str) -> None:
    import sparql_dataframe

    frame = sparql_dataframe.get(endpoint, SELECT)
    assert list(frame.columns) == ["unit", "serial"]
    assert frame["serial"].tolist() == ["SN-1", 'SN-2, "quoted"']
