"""Readers at admin speed: an unscoped non-admin's queries run on a reader view — a published snapshot without the
system graphs they may not read — on the union default graph, and answer exactly as the explicit graph list did.
Real on-disk store, real worker processes, the real app over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyoxigraph as ox
import pytest

from tests.conftest import LiveServer
from threadline.audit import ARCHIVE_PREFIX, AUDIT_GRAPH
from threadline.auth import SECURITY_GRAPH, Principal
from threadline.auth.tokens import create_token
from threadline.config import Settings
from threadline.namespaces import CHANGES_PREFIX, STORE_GRAPH
from threadline.store import open_store
from threadline.store.reader_view import View, view_for
from threadline.store.recovery import STORED_DEFAULT
from threadline.store.snapshots import snapshot_root
from threadline.web.app import create_app

ERP = "https://example.org/graph/erp"
MES = "https://example.org/graph/mes"
ARCHIVE = ARCHIVE_PREFIX + "0" * 64
ADMIN = "reader-view-admin-token"
PER_GRAPH = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"
ALL = "SELECT ?s ?p ?o WHERE { ?s ?p ?o }"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    path = tmp_path_factory.mktemp("reader-view") / "store"
    store = open_store(str(path))
    store.load(b'<http://e/po> <http://e/says> "erp" .', ERP, ox.RdfFormat.N_TRIPLES)
    store.load(b'<http://e/op> <http://e/says> "mes" .', MES, ox.RdfFormat.N_TRIPLES)
    # every kind of system record: tokens (security graph), audit entries, an archive, and the stored default graph
    store.load(b'<http://e/old> <http://e/says> "archived" .', ARCHIVE, ox.RdfFormat.N_TRIPLES)
    store.load(b'<http://e/stray> <http://e/says> "default" .', None, ox.RdfFormat.N_TRIPLES)
    _, reader = create_token(store, "reader", description="all data", actor="test")
    _, compliance = create_token(store, "compliance", description="qa", actor="test")
    _, erp_only = create_token(store, "reader", scopes=[ERP], description="erp only", actor="test")
    settings = Settings(store=str(path), write_token=ADMIN)
    app = create_app(settings, store=store)
    live = LiveServer(app)
    yield {"url": live.url, "path": path, "reader": reader, "compliance": compliance, "erp": erp_only}
    live.stop()
    store.close()


def _select(service: dict[str, Any], token: str, query: str, **params: Any) -> list[tuple[str, ...]]:
    response = httpx.get(
        f"{service['url']}/sparql",
        params={"query": query, **params},
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    names = body["head"]["vars"]
    return sorted(tuple(row[n]["value"] if n in row else "" for n in names) for row in body["results"]["bindings"])


def _graphs_of(snapshot: Path) -> tuple[set[str], int]:
    """The named graphs of a snapshot and the size of its stored default graph."""
    store = ox.Store.read_only(str(snapshot))
    try:
        named = {g.value for g in store.named_graphs()}
        default = sum(1 for _ in store.quads_for_pattern(None, None, None, ox.DefaultGraph()))
        return named, default
    finally:
        del store


def _view_snapshots(service: dict[str, Any], name: str) -> list[Path]:
    return sorted(p for p in snapshot_root(service["path"]).iterdir() if p.name.endswith("-" + name))


def _visible(service: dict[str, Any], denied: set[str]) -> list[str]:
    graphs = {g for (g, _) in _select(service, ADMIN, PER_GRAPH)}
    return sorted(
        g
        for g in graphs
        if not (g in (SECURITY_GRAPH, STORE_GRAPH) and "admin" in denied)
        and not ((g == AUDIT_GRAPH or g.startswith((ARCHIVE_PREFIX, CHANGES_PREFIX))) and "compliance" in denied)
    )


def test_a_reader_query_runs_on_a_view_without_the_system_graphs(service: dict[str, Any]) -> None:
    _select(service, service["reader"], "SELECT ?o WHERE { ?s <http://e/says> ?o }")
    views = _view_snapshots(service, "without-admin-compliance")
    assert views, "the reader's query did not run on a reader view"
    named, default = _graphs_of(views[-1])
    assert {ERP, MES} <= named
    assert not named & {SECURITY_GRAPH, AUDIT_GRAPH, ARCHIVE, STORE_GRAPH}, f"the view still holds {named}"
    assert default == 1, "unscoped callers read the stored default graph (docs/sparql.md), so the view keeps it"


@pytest.mark.parametrize(("role", "denied"), [("reader", {"admin", "compliance"}), ("compliance", {"admin"})])
def test_the_view_answers_exactly_as_the_explicit_list(service: dict[str, Any], role: str, denied: set[str]) -> None:
    token = service[role]
    visible = _visible(service, denied)
    listed = {"default-graph-uri": visible, "named-graph-uri": visible}
    stray = ("http://e/stray", "http://e/says", "default")  # the stored default graph: no protocol IRI names it
    for query in (PER_GRAPH, ALL, "SELECT ?o WHERE { ?s <http://e/says> ?o }"):
        expected = _select(service, ADMIN, query, **listed)
        if query == ALL:
            expected = sorted([*expected, stray])
        elif "says" in query:
            expected = sorted([*expected, ("default",)])
        assert _select(service, token, query) == expected, query
    graphs = {g for (g, _) in _select(service, token, PER_GRAPH)}
    assert SECURITY_GRAPH not in graphs and STORE_GRAPH not in graphs
    assert (AUDIT_GRAPH in graphs and ARCHIVE in graphs) == (role == "compliance")
    says = [o for (o,) in _select(service, token, "SELECT ?o WHERE { ?s <http://e/says> ?o }")]
    assert "default" in says and ("archived" in says) == (role == "compliance")


def test_a_reader_sees_the_next_write_and_not_its_audit_entry(service: dict[str, Any]) -> None:
    query = "SELECT ?o WHERE { ?s <http://e/says> ?o }"
    before = _select(service, service["reader"], query)
    response = httpx.post(
        f"{service['url']}/sparql",
        data={"update": f'INSERT DATA {{ GRAPH <{ERP}> {{ <http://e/po2> <http://e/says> "erp2" }} }}'},
        headers={"Authorization": f"Bearer {ADMIN}", "X-Threadline-Reason": "test"},
        timeout=120,
    )
    assert response.status_code in (200, 204), response.text
    assert _select(service, service["reader"], query) == sorted([*before, ("erp2",)])
    audit = f"SELECT ?s WHERE {{ GRAPH <{AUDIT_GRAPH}> {{ ?s ?p ?o }} }}"
    assert _select(service, ADMIN, audit), "the update wrote its audit entry"
    assert _select(service, service["reader"], audit) == []
    assert not _graphs_of(_view_snapshots(service, "without-admin-compliance")[-1])[0] & {AUDIT_GRAPH}


def test_scoped_and_narrowed_datasets_keep_their_lists(service: dict[str, Any]) -> None:
    assert _select(service, service["erp"], "SELECT ?o WHERE { ?s <http://e/says> ?o }")[0] == ("erp",)
    reader = Principal("r", "reader")
    graphs = [ERP, MES]
    whole = [*graphs, STORED_DEFAULT]  # an unscoped caller's default graph includes the stored one
    assert view_for(reader, whole, graphs, graphs) == View(frozenset({"admin", "compliance"}))
    assert view_for(reader, graphs, graphs, graphs) is None, "without the stored default graph it is narrowed"
    assert view_for(reader, [ERP], graphs, graphs) is None, "a narrowed default graph is not the view"
    assert view_for(reader, whole, [MES], graphs) is None, "narrowed named graphs are not the view"
    assert view_for(Principal("s", "reader", (ERP,)), [ERP], [ERP], [ERP]) is None, "scoped tokens keep lists"
    assert view_for(Principal("a", "admin"), graphs, graphs, graphs) is None
    assert View(frozenset({"compliance"})).hides(ARCHIVE) and not View(frozenset({"admin"})).hides(AUDIT_GRAPH)


def test_a_worker_keeps_the_base_snapshot_and_the_view_open_side_by_side(tmp_path: Path) -> None:
    """Admin and reader queries in turn: each worker keeps both current snapshots open (no reopen per query)
    and answers each from its own; superseded snapshots are let go after a write."""
    from threadline.sparql.execution import Job
    from threadline.sparql.worker import ProcessExecutor
    from threadline.store import EmbeddedStore
    from threadline.store.snapshots import Snapshots

    store = EmbeddedStore(tmp_path / "store")
    store.load(b'<http://e/po> <http://e/says> "erp" .', ERP, ox.RdfFormat.N_TRIPLES)
    store.load(b'<http://e/a> <http://e/says> "audit" .', AUDIT_GRAPH, ox.RdfFormat.N_TRIPLES)
    executor = ProcessExecutor(Snapshots(store), workers=1)
    view = View(frozenset({"admin", "compliance"}))
    query = "SELECT ?o WHERE { ?s <http://e/says> ?o }"

    def says(chosen: View | None) -> list[str]:
        job = Job(query, "SELECT", "application/sparql-results+json", 10, [ERP], [ERP], view=chosen)
        if chosen is None:
            job.default_graphs = job.named_graphs = None  # admin: the union
        body = executor.run(job, 60).body
        return sorted(b["o"]["value"] for b in json.loads(body)["results"]["bindings"])

    try:
        for _ in range(2):
            assert says(None) == ["audit", "erp"]
            assert says(view) == ["erp"]
        (worker,) = executor._all
        assert len(worker.snapshots) == 2, "the worker should keep the base snapshot and the view open"
        store.update(f'INSERT DATA {{ GRAPH <{ERP}> {{ <http://e/x> <http://e/says> "new" }} }}')
        assert says(view) == ["erp", "new"]
        assert len(worker.snapshots) == 2, "the superseded view is let go, the current base kept"
        assert says(None) == ["audit", "erp", "new"]
        assert worker.snapshots == executor.snapshots.currents()
    finally:
        executor.close()
        store.close()
