"""The load gate: reject leaves the store exactly as before and returns the report; accept-with-report stores
it after the commit; the gate itself never writes to the store."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.shacl_demo import REPO
from threadline.errors import IngestError
from threadline.ingest import hooks, load_files
from threadline.shacl.gate import LoadGate, ValidationRejected
from threadline.shacl.report import latest_reports, load_stored_report
from threadline.shacl.shapes import load_profile
from threadline.store import EmbeddedStore, Store

PROV = "http://www.w3.org/ns/prov#"


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from threadline.demo import generate

    out = tmp_path_factory.mktemp("gate-demo")
    generate(out, units=40, seed=42)
    return out


@pytest.fixture
def gate_modes() -> Iterator[dict[str, str]]:
    """Set the modes in the dict; the gate is installed for the test and removed after it."""
    modes: dict[str, str] = {}
    gate = LoadGate(lambda p: load_profile(REPO / "shapes", p), modes)
    gate.modes = modes
    gate.install()
    yield modes
    gate.uninstall()


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


def test_reject_leaves_store_unchanged(exports: Path, tmp_path: Path, gate_modes: dict[str, str]) -> None:
    store = _loaded(exports)
    before = store.digest()
    gate_modes["core"] = "reject"
    with pytest.raises(ValidationRejected) as caught:
        load_files(store, "mes", [_broken_mes(exports, tmp_path)], ingest_dir=REPO / "ingest")
    assert store.digest() == before
    results = caught.value.outcome.results
    assert len(results) == 1
    assert str(results[0].shape).endswith("core#OperationOperatorShape")
    message = str(caught.value)
    assert "mes load rejected by the 'core' validation gate" in message
    assert "1 violation(s)" in message and "The operation record names no operator." in message
    assert "AS9100D 8.5.1(e)" in message and "Fix: Find who performed the operation" in message
    report = caught.value.report_json()
    assert report["resultCount"] == 1
    row = report["results"][0]  # type: ignore[index]
    assert row["kind"] == "OperationExecution" and row["clause"] and row["fix_hint"]


def test_reject_accepts_clean_reload(exports: Path, tmp_path: Path, gate_modes: dict[str, str]) -> None:
    store = _loaded(exports)
    gate_modes["core"] = "reject"
    gate_modes["as9100"] = "reject"
    # The same data (with its seeded gaps) under another file order introduces nothing new: the old gaps
    # are there before and after, so they do not block the load.
    copy = tmp_path / "qms"
    shutil.copytree(exports / "qms", copy)
    with (copy / "ncrs.json").open("a") as handle:
        handle.write("\n")
    activity = load_files(store, "qms", [copy], ingest_dir=REPO / "ingest")
    assert any(not b.skipped for b in activity.batches)


def test_gate_never_writes(exports: Path, tmp_path: Path, gate_modes: dict[str, str]) -> None:
    """Hooks around the gate see the same store: it computes both states through default-graph views."""
    store = _loaded(exports)
    gate_modes["core"] = "accept-with-report"
    gate_modes["as9100"] = "accept-with-report"  # also runs a SPARQL shape in full, in both states
    seen: list[str] = []

    def first(s: Store, _: object) -> None:
        seen.append(s.digest())

    def last(s: Store, _: object) -> None:
        seen.append(s.digest())

    hooks._BEFORE.insert(0, first)
    hooks.before_commit(last)
    try:
        load_files(store, "mes", [_broken_mes(exports, tmp_path)], ingest_dir=REPO / "ingest")
    finally:
        hooks.unregister(first)
        hooks.unregister(last)
    assert len(seen) == 2 and seen[0] == seen[1]
    assert {r["profile"] for r in latest_reports(store)} == {"core", "as9100"}


def test_accept_with_report_stores_it_after_commit(exports: Path, tmp_path: Path, gate_modes: dict[str, str]) -> None:
    store = _loaded(exports)
    gate_modes["core"] = "accept-with-report"
    activity = load_files(store, "mes", [_broken_mes(exports, tmp_path)], ingest_dir=REPO / "ingest")
    assert not activity.hook_errors
    reports = latest_reports(store)
    assert [r["profile"] for r in reports] == ["core"]
    assert reports[0]["conforms"] is False and reports[0]["results"] == 1
    evidence = load_stored_report(store, str(reports[0]["graph"]))
    informed = {str(o) for o in evidence.objects(None, _prov("wasInformedBy"))}
    assert informed == {activity.iri}
    foci = {str(o) for o in evidence.objects(None, _sh("focusNode"))}
    assert len(foci) == 1 and "/id/op/" in foci.pop()


def test_no_evidence_when_the_load_does_not_commit(exports: Path, tmp_path: Path, gate_modes: dict[str, str]) -> None:
    store = _loaded(exports)
    gate_modes["core"] = "accept-with-report"

    def veto(_: Store, __: object) -> None:
        raise IngestError("vetoed by a later hook")

    hooks.before_commit(veto)
    try:
        with pytest.raises(IngestError, match="vetoed"):
            load_files(store, "mes", [_broken_mes(exports, tmp_path)], ingest_dir=REPO / "ingest")
    finally:
        hooks.unregister(veto)
    assert latest_reports(store) == []


def _prov(name: str):  # type: ignore[no-untyped-def]
    from rdflib import URIRef

    return URIRef(PROV + name)


def _sh(name: str):  # type: ignore[no-untyped-def]
    from rdflib import URIRef

    return URIRef("http://www.w3.org/ns/shacl#" + name)


def test_cli_load_prints_the_rejection(exports: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from threadline import features
    from threadline.cli import main

    store = str(tmp_path / "store")
    runner = CliRunner()
    try:
        for system in ("plm", "erp", "mes", "qms"):
            done = runner.invoke(main, ["load", system, str(exports / system), "--store", store])
            assert done.exit_code == 0, done.output
        monkeypatch.setenv("THREADLINE_VALIDATION_GATE", '{"core": "reject"}')
        result = runner.invoke(main, ["load", "mes", str(_broken_mes(exports, tmp_path)), "--store", store])
    finally:
        features.uninstall()
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "mes load rejected by the 'core' validation gate: it introduces 1 violation(s)" in text
    assert "OperationExecution OP" in text and "The operation record names no operator." in text
