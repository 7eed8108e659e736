"""OpenLink Virtuoso as the remote store: each defect found on it (issue #13), proven fixed on a real server.

Run in .ci/run's Virtuoso stage (THREADLINE_TEST_STORE=virtuoso); skipped elsewhere, since starting Virtuoso
costs 15-25 s. Every assertion reads data back; each test failed before its fix (noted per test).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import httpx
import pyoxigraph as ox
import pytest

from tests.conftest import LiveServer
from threadline.auth import tokens
from threadline.config import Settings
from threadline.errors import StoreError
from threadline.store import RemoteStore, open_store
from threadline.store.backup import make_backup, restore
from threadline.web.app import create_app

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("virtuoso"),
    pytest.mark.skipif(
        os.environ.get("THREADLINE_TEST_STORE") != "virtuoso", reason="needs THREADLINE_TEST_STORE=virtuoso"
    ),
]

EX = "https://example.org/"
DATA = (
    f'<{EX}a> <{EX}flag> "false"^^<http://www.w3.org/2001/XMLSchema#boolean> <{EX}g1> .\n'
    f'<{EX}a> <{EX}name> "a"@en <{EX}g1> .\n'
    f'<{EX}b> <{EX}count> "3"^^<http://www.w3.org/2001/XMLSchema#integer> <{EX}g2> .\n'
).encode()


@pytest.fixture
def store(virtuoso_server) -> RemoteStore:  # type: ignore[no-untyped-def]
    virtuoso_server.clear()
    # without the version record a first open writes (graph/store), so these tests see only their own data, as
    # the on-disk store of tests/conftest.py does; tests/test_upgrades.py covers the record
    opened = open_store(virtuoso_server.url, Settings(store_timeout=20), check_versions=False)
    assert isinstance(opened, RemoteStore)
    return opened


def test_engine_detected_and_queries_answered(store: RemoteStore) -> None:
    """Before: queries went as POST application/sparql-query, which Virtuoso never answers (hung to the timeout)."""
    assert store.engine.is_virtuoso and store.query_endpoint.endswith("/sparql")
    store.load(DATA)
    long_query = "SELECT ?o WHERE { ?s ?p ?o } # " + "x" * 3000  # past the GET size: sent as a form
    assert len(store.select(long_query).rows) == 3
    assert store.select("SELECT ?o WHERE { ?s ?p ?o }").rows  # short: GET


def test_booleans_and_ask_read_by_value(store: RemoteStore) -> None:
    """Before: "false" came back as "0", and ASK as a one-row table (always true to a caller reading rows)."""
    store.load(DATA)
    flag = store.select(f"SELECT ?f WHERE {{ <{EX}a> <{EX}flag> ?f }}").rows[0][0]
    assert flag == ox.Literal("false", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#boolean"))
    assert store.ask(f"ASK {{ <{EX}a> <{EX}flag> false }}") is True
    assert store.ask(f"ASK {{ GRAPH <{EX}nowhere> {{ ?s ?p ?o }} }}") is False


def test_a_new_token_is_not_read_as_revoked(store: RemoteStore) -> None:
    """Before: the stored "false" revocation flag read as "0", so every token was revoked (401)."""
    token_id, secret = tokens.create_token(store, "reader", actor="test")
    principal = tokens.authenticate(store, secret, ttl=0)
    assert principal is not None and principal.role == "reader"
    tokens.revoke_token(store, token_id, actor="test", reason="done")
    assert tokens.authenticate(store, secret, ttl=0) is None


def test_graphs_and_stats_hold_the_thread_only(store: RemoteStore) -> None:
    """Before: Virtuoso's system graphs (virtrdf, LDP, URIQA) were part of every listing; `GRAPH <g> { }` was true
    for any IRI, and `GRAPH ?g { }` listed nothing."""
    store.load(DATA)
    assert store.graphs() == [f"{EX}g1", f"{EX}g2"]
    assert store.stats().graphs == {f"{EX}g1": 2, f"{EX}g2": 1}
    assert store.select("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }").rows[0][0].value == "3"  # type: ignore[union-attr]


def test_a_store_showing_its_system_graphs_is_refused(virtuoso_server) -> None:  # type: ignore[no-untyped-def]
    """A server set up without deploy/virtuoso-setup.sql would mix its own graphs into the thread: refused."""
    virtuoso_server.clear()
    visible = "http://www.openlinksw.com/schemas/threadline-test#"  # a public graph with a system name
    RemoteStore(virtuoso_server.url).update(f"INSERT DATA {{ GRAPH <{visible}> {{ <{EX}x> <{EX}y> 1 }} }}")
    try:
        with pytest.raises(StoreError, match=r"system graphs.*virtuoso-setup\.sql"):
            RemoteStore(virtuoso_server.url)
    finally:
        virtuoso_server.clear_graph(visible)


def test_backup_restores_the_same_quads(store: RemoteStore, tmp_path: Path) -> None:
    """Before: the whole-dataset Graph Store GET answered 406 and left a 0-byte backup file."""
    store.load(DATA)
    path, digest = make_backup(store, tmp_path / "backups")
    restored = tmp_path / "restored"
    assert restore(path, restored) == digest
    copy = open_store(str(restored), check_versions=False)
    try:
        expected = sorted(ox.parse(DATA, ox.RdfFormat.N_QUADS), key=str)
        assert sorted(copy.native.quads_for_pattern(None, None, None), key=str) == expected  # type: ignore[attr-defined]
    finally:
        copy.close()


def test_a_failed_backup_leaves_no_file(virtuoso_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    virtuoso_server.clear()
    broken = RemoteStore(virtuoso_server.url, graph_endpoint=f"{virtuoso_server.url}/no-such-endpoint")
    broken.load(DATA)
    with pytest.raises(StoreError):
        broken.backup(tmp_path / "backups")
    assert list((tmp_path / "backups").iterdir()) == []


class TwoServices:
    """Two Threadline services (real apps on two loopback ports) over the same Virtuoso store."""

    QUERY = "SELECT ?s WHERE { ?u <https://w3id.org/threadline/ontology#serialNumber> ?s } ORDER BY ?s"

    def __init__(self, url: str, folder: Path) -> None:
        from tests.test_loader import MAPPING

        self.url = url
        self.servers = []
        for name in ("one", "two"):
            pack = folder / name / "ingest" / "mes"
            pack.mkdir(parents=True)
            (pack / "units.rml.ttl").write_text(MAPPING)
            settings = Settings(store=url, ingest_dir=pack.parent, write_token="w", var_dir=folder / name / "var")
            self.servers.append(LiveServer(create_app(settings, store=open_store(url, settings))))
        self.answers: list[int] = []

    def load(self, server: LiveServer, serial: int) -> None:
        csv = f"serial,status,completed,drawing\nSN-{serial},built,2026-01-0{serial},urn:d\n"
        files = {"files": (f"units-{serial}.csv", csv.encode(), "text/csv")}
        response = httpx.post(
            f"{server.url}/ingest/mes", files=files, headers={"Authorization": "Bearer w"}, timeout=120
        )
        self.answers.append(response.status_code)

    def serials(self, server: LiveServer) -> list[str]:
        seen = httpx.get(
            f"{server.url}/sparql", params={"query": self.QUERY}, headers={"Accept": "text/csv"}, timeout=60
        )
        return seen.text.split()[1:]

    def audit_intact(self) -> tuple[bool, int]:
        from threadline import audit

        result = audit.verify(open_store(self.url))
        if not result.intact:
            print("audit chain broken:", result.broken)
        return result.intact, result.entries

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


@pytest.fixture
def two(virtuoso_server, tmp_path: Path):  # type: ignore[no-untyped-def]
    virtuoso_server.clear()
    services = TwoServices(virtuoso_server.url, tmp_path)
    yield services
    services.stop()


def test_two_services_share_one_store(two: TwoServices) -> None:
    """A write through one instance is read through the other, at once (no state of its own in either process).
    Each load is a full snapshot of the units export, so exactly the last one is seen."""
    one, other = two.servers
    for serial, server in enumerate((one, other, one, other), start=1):
        two.load(server, serial)
        assert two.serials(one) == two.serials(other) == [f"SN-{serial}"]
    assert two.answers == [200] * 4


def test_alternating_loads_keep_one_audit_chain(two: TwoServices) -> None:
    one, other = two.servers
    for serial, server in enumerate((one, other, one, other), start=1):
        two.load(server, serial)
    assert two.answers == [200] * 4
    assert two.audit_intact() == (True, 4)


def test_simultaneous_loads_through_two_services(two: TwoServices) -> None:
    """Before the store-held writer lease (``threadline.store.lease``) this forked the audit chain; the same with
    two service processes: tests/test_shared_store.py."""
    one, other = two.servers
    threads = [threading.Thread(target=two.load, args=(s, n)) for s, n in ((one, 1), (other, 2), (one, 3), (other, 4))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert two.answers == [200] * 4 and len(two.serials(one)) == 1
    assert two.audit_intact() == (True, 4)
