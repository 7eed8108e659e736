"""Published snapshots for the query workers: consistent (never half a staged load), fresh after each write, and
never waited for while a load stages — on a real on-disk store and real worker processes."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from threadline.sparql.execution import Job
from threadline.sparql.worker import ProcessExecutor
from threadline.store import EmbeddedStore
from threadline.store.snapshots import Snapshots, snapshot_root

COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"


def _insert(store: EmbeddedStore, value: str) -> None:
    store.update(f'INSERT DATA {{ GRAPH <urn:g:data> {{ <urn:s> <urn:p> "{value}" }} }}')


def _count(executor: ProcessExecutor) -> int:
    answer = executor.run(Job(text=COUNT, form="SELECT", media="application/sparql-results+json", max_rows=10), 20)
    return int(json.loads(answer.body)["results"]["bindings"][0]["n"]["value"])


@pytest.fixture
def disk_store(tmp_path: Path):
    store = EmbeddedStore(tmp_path / "store")
    yield store
    store.close()


def test_a_snapshot_is_published_only_when_the_store_changed(disk_store: EmbeddedStore) -> None:
    snapshots = Snapshots(disk_store)
    first = snapshots.current()
    assert snapshots.current() == first and snapshots.published == 1, "no write, no new snapshot"
    _insert(disk_store, "a")
    second = snapshots.current()
    assert second != first and snapshots.published == 2
    assert snapshots.collect(in_use=[]) == [first], "the old snapshot goes once no worker holds it"
    assert sorted(p.name for p in snapshot_root(disk_store.path).iterdir()) == [Path(second).name]


def test_a_staged_write_in_flight_keeps_the_last_snapshot_without_waiting(disk_store: EmbeddedStore) -> None:
    snapshots = Snapshots(disk_store)
    _insert(disk_store, "a")
    before = snapshots.current()
    staged, release = threading.Event(), threading.Event()

    def load() -> None:
        with disk_store.staging():
            disk_store.stage(b"<urn:x> <urn:p> <urn:y> .\n", "urn:threadline:staging:test")
            staged.set()
            release.wait(10)
            disk_store.update("MOVE SILENT GRAPH <urn:threadline:staging:test> TO GRAPH <urn:g:loaded>")

    thread = threading.Thread(target=load)
    thread.start()
    try:
        assert staged.wait(10)
        assert snapshots.current() == before, "mid-load, readers keep the state before the load"
    finally:
        release.set()
        thread.join(10)
    assert snapshots.current() != before, "after the commit the next reader gets a fresh snapshot"


def test_workers_see_each_committed_write_and_never_a_half_staged_load(disk_store: EmbeddedStore) -> None:
    executor = ProcessExecutor(Snapshots(disk_store), workers=1)
    try:
        assert _count(executor) == 0
        _insert(disk_store, "a")
        assert _count(executor) == 1, "read-your-writes: the query after a write sees it"
        with disk_store.staging():
            lines = b"".join(b"<urn:s%d> <urn:p> <urn:o> .\n" % i for i in range(1000))
            disk_store.stage(lines, "urn:threadline:staging:big")
            _insert(disk_store, "b")  # another writer commits meanwhile: still no snapshot mid-stage
            assert _count(executor) == 1, "the staged batch is invisible until it commits"
            disk_store.update("MOVE SILENT GRAPH <urn:threadline:staging:big> TO GRAPH <urn:g:big>")
        assert _count(executor) == 1002
        root = snapshot_root(disk_store.path)
        assert len(list(root.iterdir())) <= 2, "snapshots no worker holds are removed"
    finally:
        executor.close()
    assert not snapshot_root(disk_store.path).exists()


def test_the_first_query_does_not_wait_for_a_load_that_started_before_it(disk_store: EmbeddedStore) -> None:
    from threadline.config import Settings
    from threadline.sparql.runner import Runner

    _insert(disk_store, "a")
    runner = Runner(Settings(store=f"oxigraph:{disk_store.path}"))
    runner.prepare(disk_store)  # what the app's start-up does
    answers: list[int] = []
    try:
        with disk_store.staging():  # a load is staging when the first query arrives
            disk_store.stage(b"<urn:x> <urn:p> <urn:y> .\n", "urn:threadline:staging:early")
            first = threading.Thread(target=lambda: answers.append(_count(runner.executor(disk_store))))  # type: ignore[arg-type]
            first.start()
            first.join(30)
            assert answers == [1], "answered from the snapshot published at start-up, without waiting for the load"
            disk_store.drop_graph("urn:threadline:staging:early")
    finally:
        runner.close()
