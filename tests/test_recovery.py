"""Opening a store a crash left mid-load: its leftovers are hidden from the first read and removed in the background.

A load killed between staging and commit leaves batch graphs the catalog does not list (and a killed
``replace_graph`` a staging graph). Every reader — library calls, every CLI verb, the SPARQL endpoint's worker
processes, read-only opens — must see exactly the committed state while those are still being removed.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import httpx
import pyoxigraph as ox
import pytest
from click.testing import CliRunner

from tests.conftest import REPO
from threadline.cli import main
from threadline.config import Settings
from threadline.ingest import load_files
from threadline.namespaces import BATCH_GRAPH_PREFIX, TL
from threadline.store import STAGING_PREFIX, EmbeddedStore, open_store
from threadline.store.recovery import uncommitted
from threadline.web.app import create_app

CRASHED_BATCH = f"{BATCH_GRAPH_PREFIX}mes/20261207T000000Z-crashed/0"
CRASHED_STAGING = f"{STAGING_PREFIX}00000000-0000-0000-0000-000000000000"
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
SERIALS = f"SELECT (COUNT(*) AS ?n) WHERE {{ ?u <{TL}serialNumber> ?serial }}"
UNITS = f"SELECT (COUNT(?u) AS ?n) WHERE {{ ?u a <{TL}AsBuiltUnit> }}"


def _leftovers(units: int) -> bytes:
    """Thread-shaped statements, as a load's batch would hold them."""
    rdf_type = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
    return "".join(
        f"<https://w3id.org/threadline/id/unit/CRASH-{i}> {rdf_type} <{TL}AsBuiltUnit> .\n"
        f'<https://w3id.org/threadline/id/unit/CRASH-{i}> <{TL}serialNumber> "CRASH-{i}" .\n'
        for i in range(units)
    ).encode()


def _crashed(path: Path, demo_exports: Path, units: int = 500) -> dict[str, int]:
    """A store with a committed load and what a load killed before its commit leaves; returns the committed
    state's answers."""
    store = open_store(str(path))  # as this release makes a store: with its version record (docs/upgrades.md)
    load_files(store, "plm", [demo_exports / "plm"], ingest_dir=REPO / "ingest")
    committed = {
        "count": _n(store, COUNT),
        "units": _n(store, UNITS),
        "serials": _n(store, SERIALS),
        "graphs": len(store.graphs()),
    }
    with store.staging():  # exactly what the loader does before it commits, then the process dies
        store.stage(_leftovers(units), CRASHED_BATCH, ox.RdfFormat.N_TRIPLES)
        store.stage(_leftovers(3), CRASHED_STAGING, ox.RdfFormat.N_TRIPLES)
    assert _n(store, COUNT) > committed["count"]  # the leftovers are really in the store
    store.close()
    return committed


def _n(store: object, query: str) -> int:
    return int(store.select(query).values("n")[0])  # type: ignore[attr-defined]


def _held(store: EmbeddedStore) -> EmbeddedStore:
    """Hold the background cleanup, so the reads below certainly happen while the leftovers exist."""
    for cleaner in store._cleaners:
        cleaner.stop()
    return store


def test_open_hides_leftovers_then_removes_them(demo_exports: Path, tmp_path: Path) -> None:
    committed = _crashed(tmp_path / "store", demo_exports)
    # the store already holds its version record (``_crashed`` opened it): skip the version check, whose reads
    # would give the background cleanup time to finish before ``_held`` stops it
    store = _held(open_store(str(tmp_path / "store"), check_versions=False))  # type: ignore[arg-type]
    assert store.hidden == {CRASHED_BATCH, CRASHED_STAGING}
    assert _n(store, COUNT) == committed["count"]
    assert _n(store, UNITS) == committed["units"]
    assert len(store.graphs()) == committed["graphs"] and CRASHED_BATCH not in store.graphs()
    assert CRASHED_BATCH not in store.stats().graphs
    assert _n(store, f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{CRASHED_BATCH}> {{ ?s ?p ?o }} }}") == 0
    buffer = io.BytesIO()
    store.dump(buffer)
    assert b"CRASH-" not in buffer.getvalue()
    store.close()

    store = open_store(str(tmp_path / "store"))  # type: ignore[arg-type]
    assert store.wait_recovered(timeout=300)  # type: ignore[attr-defined]
    assert not uncommitted(store.native)  # type: ignore[attr-defined]
    assert _n(store, COUNT) == committed["count"]
    store.close()


def test_an_interrupted_cleanup_resumes_at_the_next_open(demo_exports: Path, tmp_path: Path) -> None:
    committed = _crashed(tmp_path / "store", demo_exports)
    native = ox.Store(str(tmp_path / "store"))
    for quad in list(native.quads_for_pattern(None, None, None, ox.NamedNode(CRASHED_BATCH)))[::2]:
        native.remove(quad)  # half removed, as by a cleanup killed midway
    del native
    store = _held(EmbeddedStore(tmp_path / "store"))
    assert store.hidden == {CRASHED_BATCH, CRASHED_STAGING}
    assert _n(store, COUNT) == committed["count"]
    store.close()


def test_read_only_opens_hide_leftovers_too(demo_exports: Path, tmp_path: Path) -> None:
    committed = _crashed(tmp_path / "store", demo_exports)
    view = EmbeddedStore(tmp_path / "store", read_only=True)  # e.g. a KPI view or a backup of a checkpoint
    assert view.hidden == {CRASHED_BATCH, CRASHED_STAGING}
    assert _n(view, COUNT) == committed["count"]
    view.close()


@pytest.mark.parametrize(
    "args",
    [
        ["query", "--sparql", COUNT, "--format", "csv"],
        ["query", "--sparql", UNITS, "--format", "csv"],
        ["stats"],
        ["dump"],
    ],
    ids=lambda args: " ".join(args[:1]),
)
def test_verbs_see_the_committed_state(demo_exports: Path, tmp_path: Path, args: list[str]) -> None:
    clean, crashed = tmp_path / "clean", tmp_path / "crashed"
    _crashed(crashed, demo_exports)
    store = open_store(str(clean))
    load_files(store, "plm", [demo_exports / "plm"], ingest_dir=REPO / "ingest")
    store.close()

    def run(path: Path) -> str:
        result = CliRunner().invoke(main, [*args, "--store", str(path)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout.replace(str(path), "STORE")

    expected, seen = run(clean), run(crashed)
    if args[0] == "dump":  # batch graph names carry the load's time: compare the thread's statements
        expected, seen = (
            sorted(
                f"{q.subject} {q.predicate} {q.object}"
                for q in ox.parse(text.encode(), ox.RdfFormat.N_QUADS)
                if q.graph_name.value.startswith(BATCH_GRAPH_PREFIX)
            )
            for text in (expected, seen)
        )
    if args[0] == "stats":
        expected, seen = (re.findall(r"([\d,]+) triples in (\d+) graphs", text) for text in (expected, seen))
        assert expected
    assert seen == expected


def test_sparql_endpoint_serves_the_committed_state_while_cleaning(
    demo_exports: Path,
    tmp_path: Path,
    serve_app,  # type: ignore[no-untyped-def]
) -> None:
    committed = _crashed(tmp_path / "store", demo_exports)
    store = _held(EmbeddedStore(tmp_path / "store"))
    settings = Settings(store=f"oxigraph:{tmp_path / 'store'}")
    server = serve_app(create_app(settings, store=store))
    for query, key in ((SERIALS, "serials"), (UNITS, "units")):  # anonymous readers see no system graph
        response = httpx.get(
            f"{server.url}/sparql",
            params={"query": query},
            headers={"Accept": "application/sparql-results+json"},
            timeout=120,
        )
        assert response.status_code == 200, response.text
        assert int(response.json()["results"]["bindings"][0]["n"]["value"]) == committed[key]
    assert store.hidden  # answered while the leftovers were still in the store
