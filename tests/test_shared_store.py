"""Several Threadline processes writing to one remote store take turns through the store (issue #13).

Real processes throughout: two ``threadline serve`` over one ``oxigraph serve`` (and over one Virtuoso in the
Virtuoso stage, THREADLINE_TEST_STORE=virtuoso) take loads and SPARQL updates at once; a third process
(tests/stalled_load.py) stops in its validation gate holding the writer lease and is killed there, or frozen past
its lease and let go. Before the store-held lease the concurrent writes forked the audit chain (the expected
failure that tests/test_virtuoso.py carried).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO, OxigraphServer, _free_port
from tests.test_loader import MAPPING
from threadline import audit
from threadline.audit.guard import KEEP
from threadline.audit.writes import audited_update
from threadline.errors import ChainForked, StoreBusy, WriteRefused
from threadline.ingest import LoadOptions, load_files
from threadline.namespaces import BATCH_GRAPH_PREFIX, CATALOG_GRAPH, TL
from threadline.store import RemoteStore, Store, open_store
from threadline.store.lease import Lease, read_claims
from threadline.store.recovery import ANY_GRAPH, UNCOMMITTED

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("shared-store")]

LEASE = 4.0  # seconds: short, so a killed holder holds the others up briefly, with room for a busy machine
WAIT = 120.0  # the most any step waits for another process
UPDATE_GRAPH = "urn:test:update/"
DATA = (
    "SELECT ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } "
    f'FILTER(STRSTARTS(STR(?g), "{BATCH_GRAPH_PREFIX}") || STRSTARTS(STR(?g), "{UPDATE_GRAPH}")) }}'
)


def units(serial: str, status: str = "built") -> str:
    return f"serial,status,completed,drawing\n{serial},{status},2026-01-02,urn:d:{serial}\n"


class Service:
    """``threadline serve`` in a process of its own over ``url``."""

    def __init__(self, url: str, folder: Path, name: str) -> None:
        folder.mkdir(parents=True)
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = (folder / "stderr.log").open("wb")
        command = [sys.executable, "-m", "threadline", "serve", "--store", url, "--port", str(self.port)]
        env = environment(folder) | {"THREADLINE_WRITE_TOKEN": "w"}
        self.process = subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=self.log)
        self.name = name

    def wait_ready(self) -> None:
        deadline = time.monotonic() + WAIT
        while True:
            try:
                if httpx.get(f"{self.base}/livez", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert self.process.poll() is None, f"threadline serve ({self.name}) exited"
            assert time.monotonic() < deadline, f"threadline serve ({self.name}) did not start"
            time.sleep(0.2)

    def load(self, filename: str, text: str, mode: str = "delta") -> httpx.Response:
        files = {"files": (filename, text.encode(), "text/csv")}
        auth = {"Authorization": "Bearer w"}
        return httpx.post(f"{self.base}/ingest/mes", params={"mode": mode}, files=files, headers=auth, timeout=WAIT)

    def update(self, text: str) -> httpx.Response:
        headers = {
            "Authorization": "Bearer w",
            "Content-Type": "application/sparql-update",
            "X-Threadline-Reason": "test",
        }
        return httpx.post(f"{self.base}/sparql", content=text.encode(), headers=headers, timeout=WAIT)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.log.close()


def environment(folder: Path) -> dict[str, str]:
    pack = folder / "ingest" / "mes"
    pack.mkdir(parents=True, exist_ok=True)
    (pack / "units.rml.ttl").write_text(MAPPING)
    return {
        **os.environ,
        "THREADLINE_INGEST_DIR": str(pack.parent),
        "THREADLINE_VAR_DIR": str(folder / "var"),
        "THREADLINE_STORE_LEASE_SECONDS": str(LEASE),
        "THREADLINE_LOG_LEVEL": "warning",
        "PYTHONPATH": str(REPO),
    }


@pytest.fixture(scope="module", params=["oxigraph", "virtuoso"])
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "virtuoso":
        if os.environ.get("THREADLINE_TEST_STORE") != "virtuoso":
            pytest.skip("Virtuoso runs in the Virtuoso stage (THREADLINE_TEST_STORE=virtuoso)")
        yield str(request.getfixturevalue("virtuoso_server").url)
        return
    server = OxigraphServer(tmp_path_factory.mktemp("shared-oxigraph"))
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def services(store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Service]]:
    folder = tmp_path_factory.mktemp("services")
    started = [Service(store_url, folder / name, name) for name in ("one", "two")]
    try:
        for service in started:
            service.wait_ready()
        yield started
    finally:
        for service in started:
            service.stop()


@pytest.fixture
def store(store_url: str, services: list[Service]) -> Iterator[RemoteStore]:
    """The shared store, emptied (as an operator would not: the services keep running over it)."""
    opened = RemoteStore(store_url)
    for graph in opened.graphs():
        opened.drop_graph(graph)
    yield opened
    opened.close()


def data(store: Store) -> set[tuple[str, str, str]]:
    return {(str(s), str(p), str(o)) for s, p, o in store.select(DATA).rows}


def units_in(store: Store) -> list[str]:
    return sorted(store.select(f"SELECT ?s WHERE {{ ?u <{TL}serialNumber> ?s }}").values("s"))


def loads_in_catalog(store: Store) -> dict[str, int]:
    """Batch graphs listed in the catalog, per loading activity."""
    rows = store.select(f"SELECT ?a WHERE {{ GRAPH <{CATALOG_GRAPH}> {{ ?g <{TL}loadedBy> ?a }} }}").values("a")
    return {activity: rows.count(activity) for activity in set(rows)}


def entries(store: Store) -> list[dict]:
    result = audit.verify(store)
    assert result.intact, str(result)
    return [{**row, "what": json.loads(row["what"])} for row in result.rows]


def at_once(jobs: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(lambda job: job(), jobs))


def serial_run(tmp_path: Path, files: list[tuple[str, str]], updates: list[str]) -> set[tuple[str, str, str]]:
    """The same writes, one after another, into an embedded store: what the shared store must hold."""
    pack = tmp_path / "serial" / "ingest" / "mes"
    pack.mkdir(parents=True)
    (pack / "units.rml.ttl").write_text(MAPPING)
    reference = open_store(str(tmp_path / "serial" / "store"))
    try:
        for name, text in files:
            path = tmp_path / "serial" / name
            path.write_text(text)
            load_files(reference, "mes", [path], ingest_dir=pack.parent, options=LoadOptions(mode="delta"))
        for text in updates:
            audited_update(reference, text, actor="test", reason="test")
        return data(reference)
    finally:
        reference.close()


def test_loads_and_updates_through_two_services_at_once(
    store: RemoteStore, services: list[Service], tmp_path: Path
) -> None:
    """Each write takes the store's writer lease: the audit chain stays one chain, each load is in the catalog once,
    and the data is what the same writes make one after another."""
    files = [(f"units-{n}.csv", units(f"SN-{n}")) for n in range(8)]
    updates = [f'INSERT DATA {{ GRAPH <{UPDATE_GRAPH}{n}> {{ <urn:u:{n}> <urn:p> "{n}" }} }}' for n in range(6)]
    jobs: list[Callable[[], httpx.Response]] = []
    for n, (name, text) in enumerate(files):
        jobs.append(lambda s=services[n % 2], f=name, t=text: s.load(f, t))
    for n, text in enumerate(updates):
        jobs.append(lambda s=services[n % 2], t=text: s.update(t))
    answers = at_once(jobs)
    assert all(a.is_success for a in answers), [a.text[:300] for a in answers if not a.is_success]
    chain = entries(store)
    assert len(chain) == len(jobs)
    activities = [a.json()["activity"] for a in answers[: len(files)]]
    assert loads_in_catalog(store) == dict.fromkeys(activities, 1)
    assert data(store) == serial_run(tmp_path, files, updates)
    assert not [c for c in read_claims(store)[2] if c.kind == "writer"]  # every lease given back


def test_snapshot_loads_through_two_services_supersede_in_turn(
    store: RemoteStore, services: list[Service], tmp_path: Path
) -> None:
    """A snapshot load re-reads the catalog under the lease: each replaces exactly the one committed before it,
    so the catalog holds one batch, the last one's, whatever order the store gave them."""
    files = {f"units-{n}.csv": units(f"SN-{n}") for n in range(4)}
    jobs = [lambda s=services[n % 2], f=f, t=t: s.load(f, t, "snapshot") for n, (f, t) in enumerate(files.items())]
    answers = at_once(jobs)
    assert [a.status_code for a in answers] == [200] * len(jobs), [a.text[:300] for a in answers if a.is_error]
    loads = [entry["what"] for entry in entries(store)]
    assert len(loads) == len(files)
    for before, after in zip([{"graphs": []}, *loads], loads, strict=False):
        assert after["superseded"] == before["graphs"]
    assert loads_in_catalog(store) == {loads[-1]["activity"]: 1}
    by_activity = {a.json()["activity"]: name for a, name in zip(answers, files, strict=True)}
    last = by_activity[loads[-1]["activity"]]
    assert data(store) == serial_run(tmp_path, [(last, files[last])], [])


class Stalled:
    """tests/stalled_load.py: a CLI load over ``url`` stopped in its gate, holding the writer lease."""

    def __init__(self, url: str, folder: Path) -> None:
        folder.mkdir(parents=True)
        export = folder / "units-stalled.csv"
        export.write_text(units("SN-STALLED"))
        self.go = folder / "go"
        self.out = (folder / "stdout.log").open("w+b")
        self.err = folder / "stderr.log"
        command = [sys.executable, str(REPO / "tests" / "stalled_load.py"), url, str(export), str(self.go)]
        with self.err.open("wb") as err:
            self.process = subprocess.Popen(command, cwd=folder, env=environment(folder), stdout=self.out, stderr=err)
        deadline = time.monotonic() + WAIT
        while b"holding" not in (folder / "stdout.log").read_bytes():
            assert self.process.poll() is None, f"the stalled load exited: {self.err.read_text()[-2000:]}"
            assert time.monotonic() < deadline, "the stalled load did not reach its gate"
            time.sleep(0.1)

    def finish(self) -> tuple[int, str]:
        self.go.touch()
        code = self.process.wait(timeout=WAIT)
        self.out.close()
        return code, self.err.read_text()


def writer_claims(store: Store) -> list[str]:
    return [claim.holder for claim in read_claims(store)[2] if claim.kind == "writer"]


def test_a_killed_lease_holder_holds_the_others_up_until_its_lease_expires(
    store: RemoteStore, services: list[Service], tmp_path: Path
) -> None:
    stalled = Stalled(store.url, tmp_path / "stalled")
    assert any(f"pid {stalled.process.pid} " in holder for holder in writer_claims(store))
    stalled.process.send_signal(signal.SIGKILL)
    stalled.process.wait(timeout=WAIT)
    answer = services[0].load("units-after.csv", units("SN-AFTER"))  # waits for the killed holder's lease to expire
    assert answer.status_code == 200, answer.text
    assert loads_in_catalog(store) == {answer.json()["activity"]: 1}
    assert len(entries(store)) == 1
    assert not writer_claims(store)
    # its staged batch stays until an open finds no live claim (its staging claim expires like its lease)
    deadline = time.monotonic() + WAIT
    while store.select(UNCOMMITTED.replace(ANY_GRAPH, store.any_graph, 1)).rows:
        assert time.monotonic() < deadline, "the killed load's staged graph was never dropped"
        time.sleep(0.5)
        open_store(store.url).close()
    assert units_in(store) == ["SN-AFTER"]


def test_a_holder_frozen_past_its_lease_is_refused_when_it_resumes(
    store: RemoteStore, services: list[Service], tmp_path: Path
) -> None:
    stalled = Stalled(store.url, tmp_path / "stalled")
    stalled.process.send_signal(signal.SIGSTOP)
    try:
        answer = services[1].load("units-meanwhile.csv", units("SN-MEANWHILE"))
        assert answer.status_code == 200, answer.text
    finally:
        stalled.process.send_signal(signal.SIGCONT)
    code, err = stalled.finish()
    assert code != 0 and "lease" in err, err[-2000:]
    assert loads_in_catalog(store) == {answer.json()["activity"]: 1}
    assert len(entries(store)) == 1
    assert units_in(store) == ["SN-MEANWHILE"]


def test_a_long_write_keeps_its_lease_and_an_open_meanwhile_leaves_its_staging_alone(
    store: RemoteStore, services: list[Service], tmp_path: Path
) -> None:
    """The holder renews its lease while its gate runs past the first expiry, and a service's load waits for it.
    Meanwhile another process opens the store (every open recovers): before staging claims that open took the
    staged batch for a crash's leftovers and dropped it, and the load then committed a catalog entry over an
    empty graph."""
    stalled = Stalled(store.url, tmp_path / "stalled")
    first = next(c for c in read_claims(store)[2] if f"pid {stalled.process.pid} " in c.holder and c.kind == "writer")
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(services[0].load, "units-later.csv", units("SN-LATER"))
        deadline = time.monotonic() + WAIT
        while read_claims(store)[0] <= first.expires:  # until the store's clock is past the first expiry
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert f"pid {stalled.process.pid} " in " ".join(writer_claims(store)), "the holder renewed its lease"
        assert not waiting.done(), "the other load waits for the lease"
        open_store(store.url).close()
        code, err = stalled.finish()
        answer = waiting.result(timeout=WAIT)
    assert code == 0, err[-2000:]
    assert answer.status_code == 200, answer.text
    assert units_in(store) == ["SN-LATER", "SN-STALLED"]
    chain = entries(store)
    assert len(chain) == 2 and chain[1]["what"]["activity"] == answer.json()["activity"]  # it went second


WRITER = """
import sys
from threadline.auth import tokens
from threadline.store import open_store
store = open_store(sys.argv[1])
for n in range(int(sys.argv[2])):
    tokens.create_token(store, "reader", actor="other process", description=f"t{n}")
"""


def other_process_writes(url: str, count: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "THREADLINE_STORE_LEASE_SECONDS": str(LEASE)}
    done = subprocess.run([sys.executable, "-c", WRITER, url, str(count)], env=env, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-2000:]


def _stalled_write(store: RemoteStore, others: int) -> None:
    """A writer that stalls after its last check of the lease, just before its update goes out: meanwhile its claim
    is taken away (as when a frozen holder's claim expires and the next claimant deletes it) and another process
    appends ``others`` entries."""
    with audit.writer_lock(store) as lock:
        change = f'INSERT DATA {{ GRAPH <{UPDATE_GRAPH}late> {{ <urn:u:late> <urn:p> "late" }} }}'
        entry = audit.entry_update(store, action="insert", actor="stalled", what={"graphs": []}, why=None)
        lease = lock.lease
        assert lease is not None

        def stalled(text: str) -> None:
            lease.release()
            other_process_writes(store.url, others)
            store.update(text)

        audit.commit(store, change + " ;\n" + entry, run=stalled)


def test_a_writer_that_lost_its_lease_is_refused_by_the_audit_guard(store: RemoteStore) -> None:
    with pytest.raises(WriteRefused, match="appended audit entry 1 first"):
        _stalled_write(store, 1)
    assert not store.ask(f"ASK {{ GRAPH <{UPDATE_GRAPH}late> {{ ?s ?p ?o }} }}")
    assert len(entries(store)) == 1


def test_a_writer_stalled_past_the_guards_is_caught_after_it_wrote(store: RemoteStore) -> None:
    with pytest.raises(ChainForked, match="2 entries follow entry 0"):
        _stalled_write(store, KEEP + 1)
    broken = audit.verify(store).broken
    assert broken is not None and broken.sequence == 1


def test_a_busy_lease_names_its_holder(store: RemoteStore) -> None:
    first = Lease(store, "writer", seconds=LEASE, wait=1)
    first.acquire()
    try:
        with pytest.raises(StoreBusy, match=f"pid {os.getpid()} "):
            Lease(store, "writer", seconds=LEASE, wait=0.2).acquire()
    finally:
        first.release()
    second = Lease(store, "writer", seconds=LEASE, wait=1)
    second.acquire()
    second.release()
