"""The same answers on every store. The demo thread is loaded through the mapping pack into the store under test
(on disk, or an external engine: THREADLINE_TEST_STORE=remote for `oxigraph serve`, =virtuoso for Virtuoso) and
into an embedded reference store; two real apps serve them, and every GraphQL example, every named query and
every validation profile must answer alike over HTTP, with non-empty answers where the demo has data."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REPO, LiveServer, e2e_url, load_demo
from threadline import queries
from threadline.app import create_app
from threadline.config import Settings
from threadline.store import open_store

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("engine-parity")]
TIMEOUT = 300


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


def both(pair: Pair, method: str, path: str, **kwargs: Any) -> tuple[Any, Any]:
    answers = []
    for server in (pair.tested, pair.reference):
        response = httpx.request(method, f"{server.url}{path}", timeout=TIMEOUT, **kwargs)
        assert response.status_code == 200, f"{server.url}{path}: {response.status_code} {response.text[:800]}"
        answers.append(response.json())
    return answers[0], answers[1]


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
    assert not reference.get("errors") and not tested.get("errors"), tested.get("errors")
    assert all(reference["data"].values()), f"{example}: the reference answers nothing on the demo"
    assert canonical(tested["data"]) == canonical(reference["data"])


@pytest.mark.parametrize("name", sorted(queries.catalogue()))
def test_named_queries_answer_alike(pair: Pair, name: str) -> None:
    named = queries.get(name)
    params = {p.name: str(p.example) for p in named.parameters if p.example is not None}
    if name == "genealogy-backward":
        params["serial"] = pair.manifest["groundTruth"]["exampleUnit"]["serial"]
    tested, reference = both(pair, "GET", f"/queries/{name}", params=params, headers={"Accept": "application/json"})
    assert reference["rows"], f"{name} {params}: the reference answers nothing on the demo"
    assert canonical(tested["rows"]) == canonical(reference["rows"])


@pytest.mark.parametrize("profile", sorted(p.stem for p in (REPO / "shapes").glob("*.ttl")))
def test_validation_reports_alike(pair: Pair, profile: str) -> None:
    tested, reference = both(pair, "POST", "/validate", params={"profile": profile, "store_report": "false"})
    assert tested["conforms"] == reference["conforms"]
    assert canonical(tested["results"]) == canonical(reference["results"])


def test_stats_alike(pair: Pair) -> None:
    tested, reference = both(pair, "GET", "/stats")
    assert tested == reference and reference["triples"] > 0
