"""SIGKILL during a load, 20 times: after each restart the store holds exactly the state before or after it."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from threadline import audit
from threadline.demo import generate
from threadline.ingest import load_files, recover
from threadline.namespaces import BATCH_GRAPH_PREFIX, CATALOG_GRAPH, PROVENANCE_GRAPH, TL
from threadline.store import EmbeddedStore

KILLS = 20


def _data(store: EmbeddedStore) -> frozenset[str]:
    """The thread's statements (batch graphs merged), which is what a load changes."""
    return frozenset(
        f"{q.subject} {q.predicate} {q.object}"
        for q in store.native.quads_for_pattern(None, None, None)
        if q.graph_name.value.startswith(BATCH_GRAPH_PREFIX)
    )


def _consistent(store: EmbeddedStore) -> tuple[int, int]:
    """Every batch graph is in the catalog and vice versa; returns (committed batches, activities)."""
    graphs = {g for g in store.graphs() if g.startswith(BATCH_GRAPH_PREFIX)}
    catalog = set(
        store.select(f"SELECT ?g WHERE {{ GRAPH <{CATALOG_GRAPH}> {{ ?g a <{TL}BatchGraph> }} }}").values("g")
    )
    assert graphs == catalog, f"batch graphs {graphs ^ catalog} are not matched by the catalog"
    activities = store.select(
        f"SELECT (COUNT(DISTINCT ?a) AS ?n) WHERE {{ GRAPH <{PROVENANCE_GRAPH}> {{ ?a a <{TL}IngestActivity> }} }}"
    ).values("n")[0]
    return len(catalog), int(activities)


@pytest.mark.slow
def test_sigkill_during_load_leaves_before_or_after(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    generate(first, units=30, seed=1)
    generate(second, units=40, seed=2)
    ingest = REPO / "ingest"

    # the two states a load of `second` may leave: before (only `first` loaded) and after
    reference = EmbeddedStore(tmp_path / "reference")
    load_files(reference, "mes", [first / "mes"], ingest_dir=ingest)
    before, before_counts = _data(reference), _consistent(reference)
    reference.close()
    env = {**os.environ, "THREADLINE_INGEST_DIR": str(ingest)}
    command = [sys.executable, "-m", "threadline", "load", "mes", str(second / "mes"), "--store"]
    started = time.perf_counter()
    subprocess.run([*command, str(tmp_path / "reference")], env=env, check=True, capture_output=True)
    process_seconds = time.perf_counter() - started  # the window a kill can land in
    reference = EmbeddedStore(tmp_path / "reference")
    after, after_counts = _data(reference), _consistent(reference)
    reference.close()
    assert before != after

    rng = random.Random(20261129)
    outcomes = {"before": 0, "after": 0}
    base = EmbeddedStore(tmp_path / "base")
    load_files(base, "mes", [first / "mes"], ingest_dir=ingest)
    base.close()
    for attempt in range(KILLS):
        store_path = tmp_path / f"store-{attempt}"
        shutil.copytree(tmp_path / "base", store_path)  # the state before, without loading it again
        process = subprocess.Popen(
            [*command, str(store_path)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        # spread the kills over the life of the process, weighted towards its second half (map, stage, commit)
        time.sleep(process_seconds * rng.uniform(0.25, 1.05))
        process.send_signal(signal.SIGKILL)
        process.wait()

        restarted = EmbeddedStore(store_path)
        recover(restarted)
        state = _data(restarted)
        counts = _consistent(restarted)
        chain = audit.verify(restarted)
        assert chain.intact, f"attempt {attempt}: audit chain broken at {chain.broken}"
        restarted.close()
        if state == before:
            assert counts == before_counts
            outcomes["before"] += 1
        else:
            assert state == after, f"attempt {attempt}: the store holds neither the state before nor after"
            assert counts == after_counts
            outcomes["after"] += 1
    assert sum(outcomes.values()) == KILLS
    print(f"SIGKILL outcomes over {KILLS} kills: {outcomes}")
