"""The demo with history: `demo generate --history DAYS` writes day-by-day delta exports, `serve --demo` loads them
in order after the base, and the store ends up saying exactly what the manifest's last change of every field says,
with what each change replaced kept in the audit archives.

One small demo (25 units, 5 days) is generated and loaded once, through the same path `serve --demo` takes, into a
real on-disk store. Expected values come from the manifest or the export files, never from Threadline's own code.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest
from click.testing import CliRunner
from rich.console import Console

from tests.test_shacl_demo import GAP_SHAPES
from threadline import kpi, queries
from threadline.audit.archive import archived_triples
from threadline.audit.verify import read_entries, verify
from threadline.cli import main
from threadline.config import Settings
from threadline.demo import generate
from threadline.demo.manifest import ID
from threadline.demo.workspace import demo_root, prepare
from threadline.errors import DemoError
from threadline.shacl.engine import NativeEngine
from threadline.shacl.shapes import load_profile
from threadline.store import Store, open_store

REPO = Path(__file__).resolve().parent.parent
TL = "https://w3id.org/threadline/ontology#"
UNITS, DAYS = 25, 5
IRI_FIELDS = {TL + "performedBy": "person/", TL + "hasCertificate": "coc/"}  # fields whose values are links


@dataclass
class Loaded:
    settings: Settings
    url: str
    exports: Path
    manifest: dict[str, Any]


def _prepare(settings: Settings, history: int = DAYS) -> str:
    return prepare(settings, None, UNITS, 42, False, Console(stderr=True, quiet=True), history=history)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    settings = Settings(var_dir=tmp_path_factory.mktemp("demo-history"))
    url = _prepare(settings)
    exports = demo_root(settings) / "exports"
    return Loaded(settings, url, exports, json.loads((exports / "manifest.json").read_text(encoding="utf-8")))


def _changes(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for day in manifest["history"]["day"] for c in day["changes"]]


def _objects(store: Store, subject: str, predicate: str) -> list[ox.Term]:
    return [row[0] for row in store.select(f"SELECT ?o WHERE {{ <{subject}> <{predicate}> ?o }}").rows]


def _same(term: ox.Term, predicate: str, value: str) -> bool:
    if predicate in IRI_FIELDS:
        return isinstance(term, ox.NamedNode) and term.value == ID + IRI_FIELDS[predicate] + value
    if predicate == TL + "measuredValue":
        return Decimal(term.value) == Decimal(value)
    return term.value == value


def _upserts(store: Store) -> list[dict[str, Any]]:
    """The delta loads' audit entries, in trail order, with their ``what`` parsed."""
    entries = [rows[0] for rows in read_entries(store).values()]
    out = [e | {"what": json.loads(e["what"])} for e in entries if e["action"] == "upsert"]
    return sorted(out, key=lambda e: int(e["sequence"]))


def test_history_days_are_delta_exports_of_every_kind_of_change(loaded: Loaded) -> None:
    history = loaded.manifest["history"]
    assert [d["day"] for d in history["day"]] == list(range(1, DAYS + 1))
    assert [d["exportedAt"] for d in history["day"]] == sorted(d["exportedAt"] for d in history["day"])
    assert history["day"][0]["exportedAt"] > history["after"]
    kinds = Counter(c["kind"] for c in _changes(loaded.manifest))
    for kind in ("inspection-remeasured", "operator-corrected", "ncr-reopened", "ncr-closed-again"):
        assert kinds[kind] >= 1, kind
    assert kinds["certificate-received-late"] == 1
    for day in history["day"]:
        assert day["added"]["units"], f"day {day['day']} produced nothing"
        for file, count in day["counts"].items():
            path = loaded.exports / day["folder"] / file
            if path.suffix == ".csv":
                with path.open(encoding="utf-8") as fh:
                    assert len(list(csv.DictReader(fh))) == count > 0, path


def test_store_holds_the_last_value_of_every_changed_field(loaded: Loaded) -> None:
    final: dict[tuple[str, str], str | None] = {}
    for change in _changes(loaded.manifest):
        final[(change["subject"], change["predicate"])] = change["new"]
    assert len(final) >= 8
    with open_store(loaded.url) as store:
        for (subject, predicate), value in final.items():
            found = _objects(store, subject, predicate)
            if value is None:
                assert found == [], (subject, predicate, found)
            else:
                assert len(found) == 1 and _same(found[0], predicate, value), (subject, predicate, value, found)


def test_what_a_correction_replaced_is_in_the_archive_of_its_load(loaded: Loaded) -> None:
    with open_store(loaded.url) as store:
        archived: list[tuple[str, str, ox.Term]] = []
        for entry in _upserts(store):
            for archive in entry["what"]["archives"].values():
                archived += [(t.subject.value, t.predicate.value, t.object) for t in archived_triples(store, archive)]
        remeasured = [c for c in _changes(loaded.manifest) if c["field"] == "measured_value"]
        assert remeasured
        for change in remeasured:
            old = [o for s, p, o in archived if (s, p) == (change["subject"], change["predicate"])]
            assert any(_same(o, change["predicate"], change["old"]) for o in old), (change, old)
            assert not any(_same(o, change["predicate"], change["new"]) for o in old)
        operator = next(c for c in _changes(loaded.manifest) if c["kind"] == "operator-corrected")
        old = [o for s, p, o in archived if (s, p) == (operator["subject"], operator["predicate"])]
        assert [o.value for o in old] == [ID + "person/" + operator["old"]]


def test_the_reopened_ncr_went_closed_open_closed(loaded: Loaded) -> None:
    statuses = [c for c in _changes(loaded.manifest) if c["predicate"] == TL + "ncrStatus"]
    subject = statuses[0]["subject"]
    assert [(c["old"], c["new"]) for c in statuses] == [("closed", "open"), ("open", "closed")]
    with open_store(loaded.url) as store:
        sequence = []
        for entry in _upserts(store):
            for archive in entry["what"]["archives"].values():
                for t in archived_triples(store, archive):
                    if (t.subject.value, t.predicate.value) == (subject, TL + "ncrStatus"):
                        sequence.append(t.object.value)
        sequence += [o.value for o in _objects(store, subject, TL + "ncrStatus")]
    assert sequence == ["closed", "open", "closed"]


def test_every_day_was_committed_as_delta_loads_in_order(loaded: Loaded) -> None:
    expected = [
        system
        for day in loaded.manifest["history"]["day"]
        for system in ("plm", "erp", "mes", "qms")
        if (loaded.exports / day["folder"] / system).is_dir()
    ]
    with open_store(loaded.url) as store:
        assert verify(store).intact
        upserts = _upserts(store)
        loads = [e for rows in read_entries(store).values() for e in rows if e["action"] == "load"]
        assert len(loads) == 4  # the base export, one snapshot load per system
        assert [e["what"]["system"] for e in upserts] == expected
        assert all(e["what"]["mode"] == "delta" and e["what"]["records"] > 0 for e in upserts)
        last_day = loaded.manifest["history"]["day"][-1]["added"]["units"]
        for sn in last_day:
            assert _objects(store, ID + "unit/" + sn, TL + "unitStatus"), sn


def test_the_final_thread_has_exactly_the_seeded_gaps(loaded: Loaded) -> None:
    """The corrections and new production add no compliance gap: the late certificate did arrive, the reopened
    NCR was closed again, every new unit has its final inspection."""
    with open_store(loaded.url) as store:
        outcome = NativeEngine(store, load_profile(REPO / "shapes", "core")).validate()
    found = Counter((str(r.shape), str(r.focus)) for r in outcome.results)
    assert found == Counter((GAP_SHAPES[g["kind"]], g["focus"]) for g in loaded.manifest["gaps"])


def test_named_queries_answer_and_trace_the_new_production(loaded: Loaded) -> None:
    with open_store(loaded.url) as store:
        for named in queries.catalogue().values():
            params = {p.name: p.example for p in named.parameters if p.required or p.example is not None}
            store.select(named.text, named.bindings(params))  # answers, on a thread with history
        lot = loaded.manifest["history"]["day"][0]["added"]["lots"][0]  # every history unit draws on it
        forward = queries.get("genealogy-forward")
        rows = queries.rows_as_dicts(*_table(store.select(forward.text, forward.bindings({"lot": lot}))))
    built = {sn for day in loaded.manifest["history"]["day"] for sn in day["added"]["units"]}
    assert {r["serial"] for r in rows if r["part"] == "FC-1000"} == built


def test_kpi_summaries_are_fresh_and_equal_the_plain_aggregates_after_the_last_day(loaded: Loaded) -> None:
    materialised = [q for q in queries.catalogue().values() if q.materialise]
    assert materialised
    with open_store(loaded.url) as store:
        for named in materialised:
            summary = kpi.read(store, named.name)
            assert summary is not None, f"{named.name}: summary stale after the history days"
            plain = store.select(named.text, named.bindings({}))
            assert sorted(map(str, summary.rows)) == sorted(map(str, plain.rows)), named.name


def _table(result: Any) -> tuple[list[str], list[tuple[Any, ...]]]:
    return list(result.variables), list(result.rows)


def test_a_restart_does_not_load_the_days_again(loaded: Loaded) -> None:
    with open_store(loaded.url) as store:
        before = len(read_entries(store))
    assert _prepare(loaded.settings) == loaded.url
    assert _prepare(loaded.settings, history=0) == loaded.url  # another setting is noted, not a rebuild
    with open_store(loaded.url) as store:
        assert len(read_entries(store)) == before
    assert json.loads((demo_root(loaded.settings) / "loaded.json").read_text())["history"] == DAYS


def test_same_seed_same_bytes_and_no_history_is_the_plain_demo(tmp_path: Path) -> None:
    generate(tmp_path / "a", UNITS, 7, history_days=3)
    generate(tmp_path / "b", UNITS, 7, history_days=3)
    generate(tmp_path / "plain", UNITS, 7)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert any(str(f).startswith("history/day-03/") for f in files)
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
        if not str(f).startswith("history") and f.name != "manifest.json":
            assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "plain" / f).read_bytes(), f
    assert "history" not in json.loads((tmp_path / "plain" / "manifest.json").read_text())
    generate(tmp_path / "a", UNITS, 7)  # regenerating without history leaves no stale days behind
    assert not (tmp_path / "a" / "history").exists()


def test_command_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["demo", "generate", "--units", "25", "--history", "2", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "history" / "day-02" / "mes" / "units.csv").is_file()
    assert not (tmp_path / "history" / "day-03").exists()
    result = CliRunner().invoke(main, ["demo", "generate", "--history", "-1", "--out", str(tmp_path)])
    assert result.exit_code == 2
    result = CliRunner().invoke(main, ["serve", "--history", "3"])
    assert result.exit_code == 2 and "--history only applies to --demo" in result.output
    with pytest.raises(DemoError, match="history days"):
        generate(tmp_path, UNITS, history_days=400)
