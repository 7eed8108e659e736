"""Readers scoped to some data graphs get the KPI summary exactly when it is their plain answer: every graph holding
a quad the indicator can match must be one they may read, and the summary fresh. Real on-disk demo store, real
worker processes, real tokens, the real app over HTTP; every answer compared with the plain query run as the same
reader over /sparql."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyoxigraph as ox
import pytest

from tests.conftest import LiveServer, load_demo
from threadline import features, kpi, queries
from threadline.auth.tokens import create_token
from threadline.config import Settings
from threadline.kpi import footprint
from threadline.namespaces import BATCH_GRAPH_PREFIX, GRAPH, TL
from threadline.store import open_store
from threadline.store.params import bind
from threadline.web.app import create_app

ADMIN = "scoped-summary-admin"
# what each indicator's patterns read, as written in queries/NAME.rq (the oracle for ``footprint.predicates``)
PREDICATES = {
    "fpy-by-revision": {"onUnit", "operationResult", "builtTo", "revisionOf", "partNumber", "revisionLabel"},
    "fpy-by-work-centre": {"onUnit", "executesStep", "operationResult", "atWorkCenter", "equipmentId", "name"},
    "oee-by-work-unit": {"onEquipment", "executesStep", "startedAt", "endedAt", "operationResult", "equipmentId"},
    "scrap-rate": {"unitStatus", "ofPart", "partNumber"},
}
SCOPES = {
    "plm": [f"{BATCH_GRAPH_PREFIX}plm/*"],
    "erp": [f"{BATCH_GRAPH_PREFIX}erp/*"],
    "mes": [f"{BATCH_GRAPH_PREFIX}mes/*"],
    "qms": [f"{BATCH_GRAPH_PREFIX}qms/*"],
    "mes+plm": [f"{BATCH_GRAPH_PREFIX}mes/*", f"{BATCH_GRAPH_PREFIX}plm/*"],
    "batches": [f"{BATCH_GRAPH_PREFIX}*"],
    "batches+provenance": [f"{BATCH_GRAPH_PREFIX}*", f"{GRAPH}provenance"],
    "no graph": ["https://example.org/graph/none/*"],  # an empty view: the summary is never its answer
}


@pytest.fixture(scope="module")
def service(demo_exports: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    path = tmp_path_factory.mktemp("scoped-summary") / "store"
    store = open_store(str(path))
    kpi.install()  # the demo's loads leave a fresh summary behind, as a service has after its loads
    try:
        load_demo(store, demo_exports)
    finally:
        kpi.uninstall()
    assert kpi.fresh(store)
    tokens = {name: create_token(store, "reader", scopes=s, actor="test")[1] for name, s in SCOPES.items()}
    app = create_app(Settings(store=str(path), write_token=ADMIN, sparql_timeout=600), store=store)
    live = LiveServer(app)
    yield {"url": live.url, "store": store, "tokens": tokens, "exports": demo_exports}
    live.stop()
    features.uninstall()
    store.close()


def _named(service: dict[str, Any], token: str, name: str) -> tuple[str, list[dict[str, Any]]]:
    response = httpx.get(f"{service['url']}/queries/{name}", headers={"Authorization": f"Bearer {token}"}, timeout=900)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["source"] == response.headers["x-threadline-source"]
    return body["source"], body["rows"]


def _plain(service: dict[str, Any], token: str, name: str) -> list[dict[str, Any]]:
    """The indicator's own SPARQL as the reader may run it: over exactly the graphs it may read."""
    query = queries.get(name)
    response = httpx.post(
        f"{service['url']}/sparql",
        data={"query": bind(query.text, query.bindings({}))},
        headers={"Authorization": f"Bearer {token}", "Accept": "application/sparql-results+json"},
        timeout=900,
    )
    assert response.status_code == 200, response.text
    return queries.rows_from_sparql_json(response.content)[1]


def _admin_select(service: dict[str, Any], text: str) -> list[dict[str, Any]]:
    response = httpx.post(
        f"{service['url']}/sparql",
        data={"query": text},
        headers={"Authorization": f"Bearer {ADMIN}", "Accept": "application/sparql-results+json"},
        timeout=300,
    )
    assert response.status_code == 200, response.text
    return queries.rows_from_sparql_json(response.content)[1]


def _footprints(service: dict[str, Any]) -> dict[str, set[str]]:
    """Per indicator, the graphs holding a quad of one of its predicates, from every graph's predicates."""
    used: dict[str, set[str]] = {}
    for row in _admin_select(service, "SELECT DISTINCT ?g ?p WHERE { GRAPH ?g { ?s ?p ?o } }"):
        used.setdefault(row["g"], set()).add(row["p"])
    stray = service["store"].native.quads_for_pattern(None, None, None, ox.DefaultGraph())
    assert next(iter(stray), None) is None, "the demo writes nothing to the stored default graph"
    return {
        name: {g for g, found in used.items() if found & {TL + p for p in wanted}}
        for name, wanted in PREDICATES.items()
    }


def _visible(service: dict[str, Any], scopes: list[str]) -> set[str]:
    graphs = {row["g"] for row in _admin_select(service, "SELECT DISTINCT ?g WHERE { GRAPH ?g { } }")}
    return {g for g in graphs if any(g.startswith(s[:-1]) if s.endswith("*") else g == s for s in scopes)}


def test_the_predicates_of_the_shipped_indicators() -> None:
    found = {q.name: footprint.predicates(q.text) for q in kpi.materialised_queries()}
    assert found == {name: {TL + p for p in wanted} for name, wanted in PREDICATES.items()}


@pytest.mark.parametrize(
    "pattern",
    [
        "?a ?p ?b",  # any predicate
        "?a :p* ?b",  # a zero-length step matches every node of the graph
        "?a :p? ?b",
        "?a !:p ?b",  # a negated set matches every other predicate
        "GRAPH ?g { ?a :p ?b }",  # reads the graph names themselves
        "?a :p ?b FILTER NOT EXISTS { ?b ?q ?c }",
        "?a :p ?b BIND (EXISTS { ?a !(:q) ?c } AS ?e)",
        "{ SELECT ?a WHERE { ?a ?q ?b } }",
        "?a :p ?b BIND (NOW() AS ?t)",  # two runs of the query differ
        "?a :p ?b BIND (RAND() AS ?r)",
    ],
)
def test_what_may_read_beyond_its_predicates_gets_no_footprint(pattern: str) -> None:
    assert footprint.predicates(f"PREFIX : <http://x/> SELECT * WHERE {{ {pattern} }}") is None
    assert footprint.predicates("PREFIX : <http://x/> SELECT * WHERE { ?a :p+/^:q|:r ?b }") == {
        "http://x/p",
        "http://x/q",
        "http://x/r",
    }


@pytest.mark.parametrize(
    "text",
    [
        "PREFIX : <http://x/> SELECT * FROM <http://g> WHERE { ?a :p ?b }",
        "PREFIX : <http://x/> SELECT * WHERE { ?a :p ?b } LIMIT 1",
        "PREFIX : <http://x/> SELECT (SAMPLE(?a) AS ?s) WHERE { ?a :p ?b }",
        "PREFIX : <http://x/> SELECT (GROUP_CONCAT(?a) AS ?s) WHERE { ?a :p ?b }",
        "PREFIX : <http://x/> ASK { ?a :p ?b }",
        "not sparql at all {",
    ],
)
def test_dataset_clauses_slices_and_arbitrary_picks_get_no_footprint(text: str) -> None:
    assert footprint.predicates(text) is None


@pytest.mark.parametrize("scope", list(SCOPES))
def test_a_scoped_reader_gets_its_plain_answer_and_the_summary_where_it_is_that(
    service: dict[str, Any], scope: str
) -> None:
    token = service["tokens"][scope]
    footprints, visible = _footprints(service), _visible(service, SCOPES[scope])
    for name in PREDICATES:
        source, rows = _named(service, token, name)
        assert rows == _plain(service, token, name), f"{scope} / {name}: not the reader's plain answer"
        expected = "materialised" if footprints[name] <= visible else "query"
        assert source == expected, f"{scope} / {name}: footprint {sorted(footprints[name] - visible)} unread"
    # the demo's layout, so that both paths are taken: the MES graphs hold every quad OEE reads; the work
    # centres' names are also on the load activities (provenance), which the batch scopes do not reach
    assert (scope == "mes") <= (_named(service, token, "oee-by-work-unit")[0] == "materialised")
    if scope == "batches":
        assert _named(service, token, "fpy-by-work-centre")[0] == "query"
        assert _named(service, token, "scrap-rate")[0] == "materialised"
    if scope == "batches+provenance":
        assert {_named(service, token, name)[0] for name in PREDICATES} == {"materialised"}


def test_a_scope_missing_one_graph_of_the_footprint_gets_the_plain_query(service: dict[str, Any]) -> None:
    """The rule is "every graph of the footprint", not "any of them": each graph of scrap-rate's footprint left
    out in turn changes the answer, and the reader gets that changed answer from the plain query."""
    footprints = _footprints(service)
    graphs = sorted(footprints["scrap-rate"])
    assert len(graphs) > 1
    admin = _named(service, ADMIN, "scrap-rate")
    assert admin[0] == "materialised"
    whole = create_token(service["store"], "reader", scopes=graphs, actor="test")[1]
    assert _named(service, whole, "scrap-rate") == ("materialised", admin[1])
    changed = 0
    for left_out in graphs:
        token = create_token(service["store"], "reader", scopes=[g for g in graphs if g != left_out], actor="test")[1]
        source, rows = _named(service, token, "scrap-rate")
        assert source == "query", f"without {left_out} the summary is not this reader's answer"
        assert rows == _plain(service, token, "scrap-rate")
        changed += rows != admin[1]
    assert changed, "leaving a graph out should change the answer somewhere, or this test proves nothing"


def test_a_load_into_a_graph_outside_the_scope_switches_the_summary_off(service: dict[str, Any]) -> None:
    footprints = _footprints(service)
    exact = sorted(footprints["scrap-rate"])  # explicit graphs: a new batch graph falls outside
    token = create_token(service["store"], "reader", scopes=exact, actor="test")[1]
    before = _named(service, ADMIN, "scrap-rate")[1]
    assert _named(service, token, "scrap-rate") == ("materialised", before)
    unit = "SM-9999991,SM-2100,A,WO-1000001,scrapped,IN-FC-0000001,2024-01-07T17:38:25Z,2024-01-07T18:28:25Z,false"
    header = (service["exports"] / "mes" / "units.csv").read_text().splitlines()[0]
    response = httpx.post(
        f"{service['url']}/ingest/mes",
        params={"mode": "delta"},
        files={"files": ("units.csv", f"{header}\n{unit}\n".encode(), "text/csv")},
        headers={"Authorization": f"Bearer {ADMIN}"},
        timeout=600,
    )
    assert response.status_code == 200, response.text
    assert kpi.refresher.wait(600) and not kpi.refresher.errors
    assert kpi.fresh(service["store"])
    after = _named(service, ADMIN, "scrap-rate")
    assert after[0] == "materialised" and after[1] != before, "the scrapped unit counts for the admin"
    assert not _footprints(service)["scrap-rate"] <= set(exact), "the load put scrap-rate's quads in a new graph"
    source, rows = _named(service, token, "scrap-rate")
    assert source == "query", "the summary now counts a unit in a graph this reader may not read"
    assert rows == _plain(service, token, "scrap-rate") != after[1]
    mes = service["tokens"]["mes"]  # the new graph is a MES batch: the MES reader keeps the summary, updated
    assert _named(service, mes, "oee-by-work-unit")[0] == "materialised"


def test_while_a_refresh_runs_a_scoped_reader_gets_the_previous_summary_labelled(service: dict[str, Any]) -> None:
    mes = service["tokens"]["mes"]
    first = _named(service, mes, "oee-by-work-unit")
    assert first[0] == "materialised"
    store = service["store"]
    with store.staging():  # holds the background refresh at its consistent-view step
        response = httpx.post(
            f"{service['url']}/store",
            params={"graph": f"{GRAPH}test/unrelated"},
            content=b'<https://example.org/x> <https://example.org/says> "nothing OEE reads" .',
            headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "text/turtle"},
            timeout=120,
        )
        assert response.status_code == 201, response.text
        assert kpi.refresher.busy() and not kpi.fresh(store)
        assert _named(service, mes, "oee-by-work-unit") == ("materialised-outdated", first[1])
        scrap = _named(service, service["tokens"]["plm"], "scrap-rate")
        assert scrap[0] == "query", "a summary that was not this reader's answer stays so while outdated"
    assert kpi.refresher.wait(600) and not kpi.refresher.errors
    assert _named(service, mes, "oee-by-work-unit") == ("materialised", first[1])
