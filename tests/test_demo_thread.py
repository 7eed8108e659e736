"""The README's run command: a demo thread generated, loaded only through the mapping pack, and served."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import DemoThread, _free_port, load_demo
from threadline.namespaces import TL
from threadline.store import open_store


def _count(store, cls: str) -> int:  # type: ignore[no-untyped-def]
    return int(store.select(f"SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE {{ ?x a <{TL}{cls}> }}").values("n")[0])


def test_demo_thread_holds_every_system(demo_thread: DemoThread) -> None:
    store, manifest = demo_thread.store, demo_thread.manifest
    counts = manifest["counts"]
    units_csv = (demo_thread.exports / "mes" / "units.csv").read_text().splitlines()
    assert _count(store, "SerializedUnit") == len(units_csv) - 1
    assert _count(store, "Nonconformance") > 0 and _count(store, "CAPA") > 0
    assert _count(store, "PartRevision") > 0 and _count(store, "MaterialLot") > 0
    assert counts  # the manifest records what was written


@pytest.mark.e2e
def test_demo_loads_into_the_configured_store(demo_exports: Path, e2e_store_url: str) -> None:
    store = load_demo(open_store(e2e_store_url), demo_exports)
    lines = (demo_exports / "mes" / "units.csv").read_text().splitlines()
    assert _count(store, "SerializedUnit") == len(lines) - 1
    # record-level lineage reaches every unit
    unlinked = store.select(
        f"SELECT (COUNT(DISTINCT ?u) AS ?n) WHERE {{ ?u a <{TL}SerializedUnit> "
        f"FILTER NOT EXISTS {{ ?u <{TL}sourceRecord> ?r }} }}"
    )
    assert unlinked.values("n") == ["0"]


@pytest.mark.slow
def test_serve_demo_starts_a_loaded_service(tmp_path: Path) -> None:
    """`threadline serve --demo` (what bin/run runs): generate, load through the pack, serve."""
    port = _free_port()
    env = {**os.environ, "THREADLINE_VAR_DIR": str(tmp_path / "var")}
    # the installed console script, from another folder: exactly what bin/run starts
    script = Path(sys.executable).parent / "threadline"
    process = subprocess.Popen(
        [str(script), "serve", "--demo", "--units", "50", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, process.stderr.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "serve --demo did not come up in 120 s"
            time.sleep(0.3)
        stats = httpx.get(f"http://127.0.0.1:{port}/stats").json()
        batch_graphs = [g for g in stats["graphs"] if "/graph/batch/" in g]
        assert stats["triples"] > 10_000 and len(batch_graphs) >= 20
    finally:
        process.terminate()
        process.wait(timeout=20)
