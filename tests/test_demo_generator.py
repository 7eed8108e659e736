"""The demo generator: determinism, counts, seeded gaps and plant structure, read back from the exports."""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from lxml import etree

from threadline.demo import GAP_KINDS, Manifest, generate
from threadline.demo.__main__ import main
from threadline.errors import DemoError

B2MML = {"b": "http://www.wbf.org/xml/B2MML-V0401"}
ID = "https://w3id.org/threadline/id/"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    out = tmp_path_factory.mktemp("demo") / "exports"
    return out, generate(out, 120, 42)


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_same_seed_gives_byte_identical_output(tmp_path: Path) -> None:
    generate(tmp_path / "a", 60, 7)
    generate(tmp_path / "b", 60, 7)
    files = [p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()]
    assert len(files) == 27  # 26 exports and the manifest
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def test_other_seed_gives_other_data(tmp_path: Path) -> None:
    generate(tmp_path / "a", 60, 1)
    generate(tmp_path / "b", 60, 2)
    a = (tmp_path / "a" / "qms" / "inspection-results.csv").read_bytes()
    assert a != (tmp_path / "b" / "qms" / "inspection-results.csv").read_bytes()


def test_rejects_impossible_sizes(tmp_path: Path) -> None:
    with pytest.raises(DemoError, match="units must be between"):
        generate(tmp_path, 5, 42)


def test_manifest_counts_match_files(demo: tuple[Path, Manifest]) -> None:
    out, manifest = demo
    assert Manifest.read(out / "manifest.json").counts == manifest.counts
    for rel, count in manifest.counts.items():
        path = out / rel
        if path.suffix == ".csv":
            assert len(rows(path)) == count, rel
        elif path.suffix == ".jsonl":
            assert len(path.read_text().splitlines()) == count, rel
        elif path.suffix == ".xml":
            tree = etree.parse(str(path))
            assert len(tree.xpath("//b:SegmentResponse", namespaces=B2MML)) == count, rel
    units = rows(out / "mes" / "units.csv")
    assert len(units) == 3 * 120
    assert Counter(u["part_number"] for u in units)["FC-1000"] == 120
    assert manifest.entities["consumptions"] == len(jsonl(out / "mes" / "genealogy.jsonl"))


def test_progress_is_reported_per_phase(tmp_path: Path) -> None:
    seen: list[tuple[str, int, int]] = []
    generate(tmp_path, 40, 42, lambda phase, done, total: seen.append((phase, done, total)))
    phases = list(dict.fromkeys(p for p, _, _ in seen))
    assert phases == ["master data", "purchasing", "production", "quality", "manifest"]
    assert ("production", 40, 40) in seen


def test_every_gap_kind_is_seeded_and_points_at_real_records(demo: tuple[Path, Manifest]) -> None:
    out, manifest = demo
    counts = manifest.gap_counts()
    assert set(counts) == set(GAP_KINDS) and all(counts.values())
    ops = {o["executionId"]: o for o in jsonl(out / "mes" / "operations.jsonl")}
    insp = {r["result_id"]: r for r in rows(out / "qms" / "inspection-results.csv")}
    units = {u["serial_number"]: u for u in rows(out / "mes" / "units.csv")}
    ncrs = {n["ncrNumber"]: n for n in json.loads((out / "qms" / "ncrs.json").read_text())["ncrs"]}
    capas = {c["capaNumber"]: c for c in json.loads((out / "qms" / "capas.json").read_text())["capas"]}
    receipts = {r["receipt_number"] for r in rows(out / "erp" / "receipts.csv")}
    certified = {r["receipt_number"] for r in rows(out / "erp" / "certificates.csv")}
    signed = {(s["part_number"], s["revision"]) for s in rows(out / "plm" / "signatures.csv")}
    revisions = {(r["part_number"], r["revision"]): r for r in rows(out / "plm" / "revisions.csv")}
    mrb = {p["person_id"] for p in rows(out / "mes" / "personnel.csv") if p["mrb_member"] == "true"}
    for gap in manifest.gaps:
        assert gap.focus.startswith(ID) and gap.focus.endswith(gap.id)
        if gap.kind == "unit-missing-final-inspection":
            assert units[gap.id]["status"] in ("completed", "shipped")
            assert not [o for o in ops.values() if o["serialNumber"] == gap.id and o["sequence"] == 30]
        elif gap.kind == "ncr-without-disposition":
            assert ncrs[gap.id]["disposition"] is None and ncrs[gap.id]["status"] == "closed"
        elif gap.kind == "disposition-approved-by-non-mrb":
            assert ncrs[gap.id]["disposition"]["approvedBy"] not in mrb
        elif gap.kind == "capa-closed-without-effectiveness-check":
            assert capas[gap.id]["status"] == "closed" and capas[gap.id]["effectivenessCheckDone"] is False
        elif gap.kind == "lot-received-without-coc":
            assert gap.id in receipts and gap.id not in certified
        elif gap.kind == "operation-without-operator":
            assert ops[gap.id]["operator"] is None
        elif gap.kind == "inspection-out-of-limits-passed":
            r = insp[gap.id]
            assert r["result"] == "pass" and float(r["measured_value"]) > float(r["upper_limit"])
        elif gap.kind == "released-revision-without-signature":
            part, rev = gap.id.split("/")
            assert revisions[(part, rev)]["lifecycle_state"] == "released" and (part, rev) not in signed
        elif gap.kind == "unit-built-to-unreleased-revision":
            unit = units[gap.id]
            assert unit["started_at"] < revisions[("FC-1000", unit["revision"])]["released_at"]


def test_nothing_else_is_a_gap(demo: tuple[Path, Manifest]) -> None:
    """Validation must find exactly the seeded gaps, so every other record is complete."""
    out, manifest = demo
    gap_ids = defaultdict(set)
    for gap in manifest.gaps:
        gap_ids[gap.kind].add(gap.id)
    ops = jsonl(out / "mes" / "operations.jsonl")
    assert {o["executionId"] for o in ops if o["operator"] is None} == gap_ids["operation-without-operator"]
    insp = rows(out / "qms" / "inspection-results.csv")
    bad_pass = {
        r["result_id"]
        for r in insp
        if r["result"] == "pass"
        and not float(r["lower_limit"]) <= float(r["measured_value"]) <= float(r["upper_limit"])
    }
    assert bad_pass == gap_ids["inspection-out-of-limits-passed"]
    finals = {r["serial_number"] for r in insp if r["final_inspection"] == "true"}
    units = rows(out / "mes" / "units.csv")
    assert {u["serial_number"] for u in units} - finals == gap_ids["unit-missing-final-inspection"]
    receipts = {r["receipt_number"] for r in rows(out / "erp" / "receipts.csv")}
    certified = {r["receipt_number"] for r in rows(out / "erp" / "certificates.csv")}
    assert receipts - certified == gap_ids["lot-received-without-coc"]
    ncrs = json.loads((out / "qms" / "ncrs.json").read_text())["ncrs"]
    assert {n["ncrNumber"] for n in ncrs if n["disposition"] is None} == gap_ids["ncr-without-disposition"]
    revisions = rows(out / "plm" / "revisions.csv")
    released = {r["part_number"] + "/" + r["revision"]: r["released_at"] for r in revisions}
    early = {u["serial_number"] for u in units if u["started_at"] < released[u["part_number"] + "/" + u["revision"]]}
    assert early == gap_ids["unit-built-to-unreleased-revision"]


def test_multi_level_genealogy_with_splits_and_merge(demo: tuple[Path, Manifest]) -> None:
    out, manifest = demo
    truth = manifest.ground_truth
    events = jsonl(out / "mes" / "genealogy.jsonl")
    children = defaultdict(set)
    for e in events:
        children[e["consumerSerial"]].add(e["lot"] or e["serial"])
    example = truth["exampleUnit"]
    assert set(example["subassemblies"]) <= children[example["serial"]]
    sub_lots = set().union(*(children[s] for s in example["subassemblies"]))
    assert sub_lots and all(x.startswith(("L", "M")) for x in sub_lots)
    lots = jsonl(out / "mes" / "lot-events.jsonl")
    splits = [e for e in lots if e["type"] == "split"]
    merges = [e for e in lots if e["type"] == "merge"]
    assert splits and len(merges) == 1
    assert {m["sourceLot"] for m in merges[0]["mergedFrom"]} == set(truth["mergedLot"]["from"])
    received = {r["lot_number"] for r in rows(out / "erp" / "receipts.csv")}
    assert {s["splitFrom"] for s in splits} <= received
    assert set(truth["splitLot"]["sublots"]) <= {s["lot"] for s in splits}
    shared = truth["sharedSupplierLot"]
    users = {e["consumerSerial"] for e in events if e["lot"] == shared["lot"]}
    assert len(users) == shared["unitCount"] > 1
    reworked = [u for u in rows(out / "mes" / "units.csv") if u["reworked"] == "true"]
    assert len(reworked) == truth["kpi"]["reworkedUnits"] > 0
    bom = rows(out / "plm" / "bom.csv")
    parents = {f"{b['parent_part']}/{b['parent_revision']}" for b in bom if b["child_part"] == "FST-3500"}
    assert parents == set(truth["partAtSeveralBomLevels"]["parents"])


def test_eco_effectivity_splits_production(demo: tuple[Path, Manifest]) -> None:
    out, manifest = demo
    eco = manifest.ground_truth["eco"]
    change = json.loads((out / "plm" / "ecos.json").read_text())["changeOrders"]
    item = next(c for c in change if c["changeNumber"] == eco["number"])["affectedItems"][0]
    assert (item["fromRevision"], item["toRevision"], item["effectiveFrom"]) == ("B", "C", eco["effectiveFrom"])
    late = []
    for u in rows(out / "mes" / "units.csv"):
        if u["part_number"] != "FC-1000":
            continue
        after = u["started_at"][:10] >= eco["effectiveFrom"]
        if u["serial_number"] == eco["unitBuiltBeforeRelease"]:
            assert u["revision"] == "C" and not after
        elif after and u["revision"] == "B":
            late.append(u["serial_number"])
        else:
            assert u["revision"] == ("C" if after else "B"), u
    assert late == eco["unitsBuiltToOldAfterEffectivity"] and 1 <= len(late) <= 3
    assert eco["unitsByRevision"]["B"] > 0 and eco["unitsByRevision"]["C"] > 0


def test_ncrs_capas_open_and_closed(demo: tuple[Path, Manifest]) -> None:
    out, manifest = demo
    ncrs = json.loads((out / "qms" / "ncrs.json").read_text())["ncrs"]
    capas = json.loads((out / "qms" / "capas.json").read_text())["capas"]
    assert {n["status"] for n in ncrs} == {"open", "closed"}
    assert {c["status"] for c in capas} == {"open", "closed"}
    links = rows(out / "qms" / "capa-ncrs.csv")
    per_capa = Counter(link["capa_number"] for link in links)
    several = manifest.ground_truth["capaWithSeveralNcrs"]
    assert per_capa[several["capa"]] == len(several["ncrs"]) > 1
    assert {n["ncrNumber"] for n in ncrs} >= {link["ncr_number"] for link in links}


def test_b2mml_document_lists_produced_and_consumed_material(demo: tuple[Path, Manifest]) -> None:
    out, manifest = demo
    tree = etree.parse(str(out / "mes" / "production-performance.xml"))
    assert tree.getroot().tag == "{http://www.wbf.org/xml/B2MML-V0401}ProductionPerformance"
    serial = manifest.ground_truth["exampleUnit"]["serial"]
    seg = tree.xpath(f"//b:SegmentResponse[b:MaterialProducedActual/b:MaterialSubLotID='{serial}']", namespaces=B2MML)
    assert len(seg) == 1
    sub = seg[0].xpath("b:MaterialConsumedActual/b:MaterialSubLotID/text()", namespaces=B2MML)
    assert sorted(sub) == sorted(manifest.ground_truth["exampleUnit"]["subassemblies"])


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--units", "30", "--seed", "3", "--out", str(tmp_path), "--quiet"]) == 0
    assert json.loads((tmp_path / "manifest.json").read_text())["seed"] == 3
    assert main(["--units", "3", "--out", str(tmp_path), "--quiet"]) == 2
    assert "units must be between" in capsys.readouterr().err


@pytest.mark.parametrize("seed", [1, 42, 2026])
def test_the_smallest_allowed_thread_generates(tmp_path: Path, seed: int) -> None:
    from threadline.demo.plan import MIN_UNITS

    manifest = generate(tmp_path / "out", units=MIN_UNITS, seed=seed)
    assert manifest is not None and (tmp_path / "out" / "manifest.json").is_file()
