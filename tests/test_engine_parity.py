"""The same answers on every store. The demo thread is loaded through the mapping pack into the store under test
(on disk, or an external engine: THREADLINE_TEST_STORE=remote for `oxigraph serve`, =virtuoso for Virtuoso) and
into an embedded reference store; two real apps serve them, and every GraphQL example, every named query and
every validation profile must answer alike over HTTP, with non-empty answers where the demo has data."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REPO, LiveServer, e2e_url, load_demo
from threadline import kpi, queries
from threadline.config import Settings
from threadline.kpi import footprint
from threadline.store import open_store
from threadline.web.app import create_app

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("engine-parity"),
    pytest.mark.skipif(
        not os.environ.get("THREADLINE_TEST_STORE"),
        reason="compares an external engine with the embedded store (THREADLINE_TEST_STORE=remote|virtuoso)",
    ),
]
TIMEOUT = 300
LIMIT = "store cannot answer this"  # how an engine limit reads (threadline.store.engines.Engine.require)


@dataclass
class Pair:
    tested: LiveServer
    reference: LiveServer
    manifest: dict[str, Any]


@pytest.fixture(scope="module")
def pair(request: pytest.FixtureRequest, demo_exports: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    servers = []
    for name, url in (("tested", None), ("reference", "")):
        folder = tmp_path_factory.mktemp(f"parity-{name}")
        store_url = e2e_url(request, folder) if url is None else str(folder / "store")
        settings = Settings(store=store_url, var_dir=folder / "var", sparql_timeout=TIMEOUT)
        store = load_demo(open_store(store_url, settings), demo_exports)
        kpi.refresh(store)  # whether a load refreshes depends on the hooks an earlier app installed
        servers.append(LiveServer(create_app(settings, store=store)))
    yield Pair(servers[0], servers[1], json.loads((demo_exports / "manifest.json").read_text()))
    for server in servers:
        server.stop()


def canonical(value: Any) -> Any:
    """An answer with list order and float noise removed (engines may order unordered results differently)."""
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted((canonical(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, float):
        return round(value, 6)
    return value


def both(pair: Pair, method: str, path: str, refusable: bool = False, **kwargs: Any) -> tuple[Any, Any]:
    """The two answers; with ``refusable``, the tested one may instead be the engine-limit refusal (501, a
    message naming the engine), returned as None."""
    answers = []
    for server in (pair.tested, pair.reference):
        response = httpx.request(method, f"{server.url}{path}", timeout=TIMEOUT, **kwargs)
        if refusable and server is pair.tested and response.status_code == 501:
            assert response.headers.get("x-threadline-error") == "engine-limit" and LIMIT in response.json()["error"]
            answers.append(None)
            continue
        assert response.status_code == 200, f"{server.url}{path}: {response.status_code} {response.text[:800]}"
        answers.append(response.json())
    return answers[0], answers[1]


def refused_paths(answer: dict[str, Any]) -> list[list[Any]]:
    """The fields an answer refuses for an engine limit; any other error fails the test."""
    errors = answer.get("errors") or []
    for error in errors:
        assert LIMIT in error["message"], error
    return [error["path"] for error in errors]


def without(data: Any, path: list[Any]) -> Any:
    """``data`` with the value at ``path`` nulled (where a refused field's null lands)."""
    if not path or data is None:
        return None
    copy = dict(data) if isinstance(data, dict) else list(data)
    copy[path[0]] = without(copy[path[0]], path[1:])  # type: ignore[index]
    return copy


def graphql_variables(manifest: dict[str, Any]) -> dict[str, dict[str, str]]:
    truth = manifest["groundTruth"]
    return {
        "1-as-built-record": {"serial": truth["exampleUnit"]["serial"]},
        "2-suspect-lot": {"lotNumber": truth["sharedSupplierLot"]["lot"]},
        "3-design-change-impact": {"number": truth["eco"]["number"]},
        "4-capa": {"number": truth["capaWithSeveralNcrs"]["capa"]},
        "5-where-used": {"partNumber": truth["partAtSeveralBomLevels"]["part"]},
    }


@pytest.mark.parametrize("example", sorted(p.stem for p in (REPO / "graphql" / "examples").glob("*.graphql")))
def test_graphql_examples_answer_alike(pair: Pair, example: str) -> None:
    query = (REPO / "graphql" / "examples" / f"{example}.graphql").read_text()
    body = {"query": query, "variables": graphql_variables(pair.manifest)[example]}
    tested, reference = both(pair, "POST", "/graphql", json=body)
    assert not reference.get("errors"), reference["errors"]
    assert all(reference["data"].values()), f"{example}: the reference answers nothing on the demo"
    expected = reference["data"]
    for path in refused_paths(tested):  # an engine limit: the field is refused, never answered wrongly
        expected = without(expected, path)
    if tested["data"] is not None:  # a refused non-null field nulls its parents up to the root
        assert canonical(tested["data"]) == canonical(expected)


@pytest.mark.parametrize("name", sorted(queries.catalogue()))
def test_named_queries_answer_alike(pair: Pair, name: str) -> None:
    named = queries.get(name)
    params = {p.name: str(p.example) for p in named.parameters if p.example is not None}
    if name == "genealogy-backward":
        params["serial"] = pair.manifest["groundTruth"]["exampleUnit"]["serial"]
    tested, reference = both(
        pair,
        "GET",
        f"/queries/{name}",
        refusable=bool(named.needs),
        params=params,
        headers={"Accept": "application/json"},
    )
    assert reference["rows"], f"{name} {params}: the reference answers nothing on the demo"
    if tested is not None:  # None: refused for an engine limit the query declares (``needs``)
        assert canonical(tested["rows"]) == canonical(reference["rows"])


@pytest.mark.parametrize("profile", sorted(p.stem for p in (REPO / "shapes").glob("*.ttl")))
def test_validation_reports_alike(pair: Pair, profile: str) -> None:
    tested, reference = both(pair, "POST", "/validate", params={"profile": profile, "store_report": "false"})
    assert tested["conforms"] == reference["conforms"]
    assert canonical(tested["results"]) == canonical(reference["results"])


def test_stats_alike(pair: Pair) -> None:
    """The same triples per kind of graph (batch graphs are named by load time, so they are compared as a sum)."""
    tested, reference = both(pair, "GET", "/stats")

    def kinds(stats: dict[str, Any]) -> dict[str, int]:
        out: dict[str, int] = {}
        for graph, count in stats["graphs"].items():
            kind = graph.split("/graph/")[-1].split("/")[0]
            out[kind] = out.get(kind, 0) + count
        return out

    def without_footprints(server: LiveServer, stats: dict[str, Any]) -> dict[str, int]:
        """The KPI summary's footprints are recorded on the embedded store only (threadline.kpi.footprint: a remote
        store's own default graph cannot be looked at apart), so they are left out of the comparison."""
        marks = f"<{footprint.FOOTPRINT}>, <{footprint.KNOWN}>"
        query = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{kpi.KPI_GRAPH}> {{ ?s ?p ?o }} FILTER (?p IN ({marks})) }}"
        response = httpx.post(f"{server.url}/sparql", data={"query": query}, timeout=TIMEOUT)
        assert response.status_code == 200, response.text
        out = kinds(stats)
        out["kpi"] -= int(response.json()["results"]["bindings"][0]["n"]["value"])
        return out

    assert without_footprints(pair.tested, tested) == without_footprints(pair.reference, reference)
    assert reference["triples"] > 0
