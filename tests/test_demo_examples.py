"""Every shipped example answers, correctly and non-empty, on the demo users get: `threadline serve --demo` with
its defaults (1,000 units, what `sh bin/run` serves), run as a real process. And the reading commands work
beside that running service, on its published snapshot.

The demo is generated and loaded once per session (all tests here share one xdist group). Expected answers come
from the generator's manifest or are recomputed from the raw export files, never from Threadline's own code.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REPO
from tests.genealogy_oracle import units_containing
from threadline import queries
from threadline.config import Settings
from threadline.sparql import editor

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("served-demo")]

START_TIMEOUT = 600  # generating and loading 1,000 units on a busy 2-core machine


@dataclass
class ServedDemo:
    url: str
    var: Path
    exports: Path
    store: Path
    manifest: dict[str, Any]
    env: dict[str, str]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "threadline", *args],
            cwd=self.var.parent,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _clean_env(var: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}
    if "THREADLINE_CONFORMANCE_DIR" in os.environ:
        env["THREADLINE_CONFORMANCE_DIR"] = os.environ["THREADLINE_CONFORMANCE_DIR"]
    env["THREADLINE_VAR_DIR"] = str(var)
    # whole-thread scans take seconds on 1,000 units, many times that on a busy shared CI machine: these
    # tests are about answers, not about the default 30 s limit
    env["THREADLINE_SPARQL_TIMEOUT"] = "600"
    env["PYTHONPATH"] = str(REPO)
    env["COLUMNS"] = "400"  # the CLI's tables stay on one line per row
    return env


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedDemo]:
    """`threadline serve --demo` with the default size and seed, as `sh bin/run` starts it."""
    root = tmp_path_factory.mktemp("served-demo")
    var = root / "var"
    env = _clean_env(var)
    port = _free_port()
    log = (root / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "threadline", "serve", "--demo", "--port", str(port)],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"threadline serve --demo exited: {(root / 'serve.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the demo did not come up in {START_TIMEOUT} s")
            time.sleep(0.5)
        exports = var / "demo" / "exports"
        manifest = json.loads((exports / "manifest.json").read_text())
        yield ServedDemo(url, var, exports, var / "demo" / "store", manifest, env)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _graphql(served: ServedDemo, name: str) -> dict[str, Any]:
    text = (REPO / "graphql" / "examples" / name).read_text()
    response = httpx.post(f"{served.url}/graphql", json={"query": text}, timeout=600)
    body = response.json()
    assert response.status_code == 200 and not body.get("errors"), body.get("errors")
    return body["data"]  # type: ignore[no-any-return]


def test_the_default_demo_is_what_bin_run_serves(served: ServedDemo) -> None:
    assert served.manifest["units"] == Settings().demo_units == 1000


def test_as_built_record_example(served: ServedDemo) -> None:
    truth = served.manifest["groundTruth"]["exampleUnit"]
    unit = _graphql(served, "1-as-built-record.graphql")["unit"]
    assert unit["serialNumber"] == truth["serial"]
    assert unit["builtTo"]["revision"] == truth["builtTo"] and unit["builtTo"]["part"]["partNumber"] == truth["part"]
    assert unit["workOrder"]["workOrderNumber"] == truth["workOrder"]
    assert unit["operations"], "no operation in the as-built record"
    found = json.dumps(unit["genealogy"])
    for identifier in [*truth["subassemblies"], *truth["lots"]]:
        assert identifier in found, f"{identifier} missing from the genealogy"


def test_suspect_lot_example_lists_exactly_the_units_containing_the_lot(served: ServedDemo) -> None:
    lot = _graphql(served, "2-suspect-lot.graphql")["lot"]
    assert lot is not None, "the example's lot is not in the served demo"
    expected = units_containing(served.exports, lot["lotNumber"])
    assert expected, "the example's lot reached no finished unit"
    assert {u["serialNumber"] for u in lot["usedIn"]} == expected
    split = served.manifest["groundTruth"]["splitLot"]
    if lot["lotNumber"] == split["lot"]:
        assert sorted(d["lotNumber"] for d in lot["derivedLots"]) == split["sublots"]


def test_design_change_impact_example(served: ServedDemo) -> None:
    truth = served.manifest["groundTruth"]["eco"]
    change = _graphql(served, "3-design-change-impact.graphql")["changeOrder"]
    assert change["changeNumber"] == truth["number"] and change["effectiveFrom"] == truth["effectiveFrom"]
    assert {i["unit"]["serialNumber"] for i in change["impact"]} == set(truth["unitsBuiltToOldAfterEffectivity"])


def test_capa_example(served: ServedDemo) -> None:
    truth = served.manifest["groundTruth"]["capaWithSeveralNcrs"]
    capa = _graphql(served, "4-capa.graphql")["capa"]
    assert capa["capaNumber"] == truth["capa"]
    assert sorted(n["ncrNumber"] for n in capa["ncrs"]) == sorted(truth["ncrs"])
    assert capa["affectedUnits"]


def test_where_used_example(served: ServedDemo) -> None:
    truth = served.manifest["groundTruth"]["partAtSeveralBomLevels"]
    part = _graphql(served, "5-where-used.graphql")["part"]
    assert part["partNumber"] == truth["part"]
    parents = {
        f"{w['parentRevision']['part']['partNumber']}/{w['parentRevision']['revision']}" for w in part["whereUsed"]
    }
    assert parents == set(truth["parents"])


def test_every_graphql_example_is_covered_here() -> None:
    covered = set(re.findall(r'_graphql\(served, "([^"]+)"\)', Path(__file__).read_text()))
    assert {p.name for p in (REPO / "graphql" / "examples").glob("*.graphql")} <= covered


def _named(served: ServedDemo, name: str, **params: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{served.url}/queries/{name}", params=params, timeout=600)
    assert response.status_code == 200, response.text[:500]
    return response.json()["rows"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", sorted(queries.catalogue()))
def test_every_named_query_answers_its_documented_example(served: ServedDemo, name: str) -> None:
    named = queries.get(name)
    params = {p.name: str(p.example) for p in named.parameters if p.required or p.example is not None}
    missing = [p.name for p in named.parameters if p.required and p.example is None]
    assert not missing, f"{name}: required parameters without an example: {missing}"
    rows = _named(served, name, **params)
    assert rows, f"{name} with its documented example {params} answers nothing on the default demo"


def test_forward_genealogy_example_is_the_recall_list(served: ServedDemo) -> None:
    lot = str(queries.get("genealogy-forward").parameters[0].example)
    rows = _named(served, "genealogy-forward", lot=lot)
    assert {r["serial"] for r in rows if r["part"] == "FC-1000"} == units_containing(served.exports, lot) != set()


def test_backward_genealogy_example(served: ServedDemo) -> None:
    serial = str(queries.get("genealogy-backward").parameters[0].example)
    truth = served.manifest["groundTruth"]["exampleUnit"]
    assert serial == truth["serial"]
    found = json.dumps(_named(served, "genealogy-backward", serial=serial))
    for identifier in [*truth["subassemblies"], *truth["lots"]]:
        assert identifier in found


def test_capa_aging_accepts_a_date(served: ServedDemo) -> None:
    by_date = {r["capa"]: r for r in _named(served, "capa-aging", asOf="2024-12-01")}
    by_instant = {r["capa"]: r for r in _named(served, "capa-aging", asOf="2024-12-01T00:00:00Z")}
    assert by_date == by_instant
    open_capas = served.manifest["groundTruth"]["capasOpen"]
    assert open_capas and all(by_date[c]["ageDays"] is not None and by_date[c]["ageDays"] > 0 for c in open_capas)
    assert all(row["ageDays"] is not None for row in by_date.values())


def test_yasgui_preloaded_query_lists_each_unit_once(served: ServedDemo) -> None:
    page = httpx.get(f"{served.url}/sparql", headers={"Accept": "text/html"}, timeout=600)
    assert page.status_code == 200 and json.dumps(editor.DEFAULT_QUERY)[1:-1] in page.text.replace("\\/", "/")
    response = httpx.post(
        f"{served.url}/sparql",
        data={"query": editor.DEFAULT_QUERY},
        headers={"Accept": "application/sparql-results+json"},
        timeout=600,
    )
    assert response.status_code == 200
    serials = [b["serial"]["value"] for b in response.json()["results"]["bindings"]]
    assert serials and len(serials) == len(set(serials)), f"units listed more than once: {serials}"


def test_data_science_recall_step_on_the_default_demo(served: ServedDemo) -> None:
    """The recall step of docs/data-science.md's worked example, as written (the whole example runs on the test
    demo in test_data_science.py; its thread-wide scans take minutes on a busy machine at 1,000 units)."""
    pd = pytest.importorskip("pandas")
    doc = (REPO / "docs" / "data-science.md").read_text()
    code = re.findall(r"```python\n(.*?)```", doc, flags=re.S)[0]
    step = "\n".join(line for line in code.splitlines() if line.startswith(("recall =", "recall_summary =")))
    lot = re.search(r"genealogy-forward\?lot=([A-Z0-9-]+)", step)
    assert lot is not None, "the worked example has no recall step"
    namespace: dict[str, Any] = {"pd": pd, "BASE": served.url}
    exec(compile(step, "docs/data-science.md", "exec"), namespace)
    recall = namespace["recall"]
    finished = set(recall[recall["part"] == "FC-1000"]["serial"])
    assert finished and finished == units_containing(served.exports, lot.group(1))
    assert namespace["recall_summary"]["units"].sum() == len(recall)


READ_NOTICE = "held by a running service: reading its latest published snapshot"


def test_stats_beside_the_running_service(served: ServedDemo) -> None:
    result = served.cli("stats", "--store", str(served.store))
    assert result.returncode == 0, result.stderr
    assert READ_NOTICE in result.stderr and "LOCK" not in result.stderr
    title = re.search(r"([\d,]+) triples in", " ".join(result.stdout.split()))
    assert title is not None, result.stdout[:500]
    triples = int(title.group(1).replace(",", ""))
    assert triples > 100_000


def test_query_beside_the_running_service(served: ServedDemo) -> None:
    lot = "L0000001"
    result = served.cli(
        "query", "genealogy-forward", "--param", f"lot={lot}", "--format", "json", "--store", str(served.store)
    )
    assert result.returncode == 0, result.stderr
    assert READ_NOTICE in result.stderr
    rows = json.loads(result.stdout)
    rows = rows["rows"] if isinstance(rows, dict) else rows
    assert {r["serial"] for r in rows if r["part"] == "FC-1000"} == units_containing(served.exports, lot)


def test_validate_beside_the_running_service(served: ServedDemo) -> None:
    result = served.cli("validate", "--format", "json", "--store", str(served.store))
    assert result.returncode == 1, result.stderr  # the demo's seeded gaps do not conform
    assert READ_NOTICE in result.stderr
    focus = {g["focus"] for g in served.manifest["gaps"] if g["kind"] == "released-revision-without-signature"}
    assert focus and focus <= set(re.findall(r"https://w3id\.org/threadline/id/[^\"\s]+", result.stdout))


def test_kpi_refresh_beside_the_running_service_says_why_not(served: ServedDemo) -> None:
    result = served.cli("kpi", "refresh", "--store", str(served.store))
    assert result.returncode != 0
    assert "held by a running service" in result.stderr and "LOCK" not in result.stderr
    assert not list(served.store.parent.glob(f".{served.store.name}.view-*")), "a private snapshot copy was left"
