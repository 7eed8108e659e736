"""The load gate: reject leaves the store exactly as before and returns the report; accept-with-report stores it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.shacl_demo import REPO
from threadline.ingest import hooks, load_files
from threadline.shacl.incremental import ValidationRejected, make_gate
from threadline.shacl.report import latest_reports
from threadline.shacl.shapes import load_profile
from threadline.store import EmbeddedStore


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from threadline.demo import generate

    out = tmp_path_factory.mktemp("gate-demo")
    generate(out, units=40, seed=42)
    return out


def _loaded(exports: Path) -> EmbeddedStore:
    store = EmbeddedStore(None)
    for system in ("plm", "erp", "mes", "qms"):
        load_files(store, system, [exports / system], ingest_dir=REPO / "ingest")
    return store


def _broken_mes(exports: Path, tmp: Path) -> Path:
    """A MES export in which one more operation lost its operator: one new violation."""
    target = tmp / "mes"
    shutil.copytree(exports / "mes", target)
    ops = (target / "operations.jsonl").read_text().splitlines()
    victim = next(i for i, line in enumerate(ops) if '"operator": "' in line)
    head, _, tail = ops[victim].partition('"operator": "')
    ops[victim] = head + '"operator": null' + tail.split('"', 1)[1]
    (target / "operations.jsonl").write_text("\n".join(ops) + "\n")
    return target


def test_reject_leaves_store_unchanged(exports: Path, tmp_path: Path) -> None:
    store = _loaded(exports)
    before = store.digest()
    gate = make_gate(lambda p: load_profile(REPO / "shapes", p), {"core": "reject"})
    hooks.before_commit(gate)
    try:
        with pytest.raises(ValidationRejected) as caught:
            load_files(store, "mes", [_broken_mes(exports, tmp_path)], ingest_dir=REPO / "ingest")
    finally:
        hooks.unregister(gate)
    assert store.digest() == before
    results = caught.value.outcome.results
    assert len(results) == 1
    assert str(results[0].shape).endswith("core#OperationOperatorShape")


def test_reject_accepts_clean_reload(exports: Path) -> None:
    store = _loaded(exports)
    gate = make_gate(lambda p: load_profile(REPO / "shapes", p), {"core": "reject"})
    hooks.before_commit(gate)
    try:  # the same data again (with its seeded gaps) introduces nothing new
        load_files(store, "qms", [exports / "qms"], ingest_dir=REPO / "ingest")
    finally:
        hooks.unregister(gate)


def test_accept_with_report_stores_it(exports: Path, tmp_path: Path) -> None:
    store = _loaded(exports)
    gate = make_gate(lambda p: load_profile(REPO / "shapes", p), {"core": "accept-with-report"})
    hooks.before_commit(gate)
    try:
        load_files(store, "mes", [_broken_mes(exports, tmp_path)], ingest_dir=REPO / "ingest")
    finally:
        hooks.unregister(gate)
    reports = latest_reports(store)
    assert [r["profile"] for r in reports] == ["core"]
    assert reports[0]["conforms"] is False and reports[0]["results"] >= 1
