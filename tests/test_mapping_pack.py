"""The mapping pack in ingest/ maps every demo export onto the ontology: run every mapping of every system
through threadline.mapping and check the graph against the generator's own records."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyoxigraph as ox
import pytest

from threadline.demo import Manifest, generate
from threadline.demo.generate import SYSTEMS
from threadline.mapping import load_mapping

REPO = Path(__file__).resolve().parent.parent
INGEST = REPO / "ingest"
TL = "https://w3id.org/threadline/ontology#"
ID = "https://w3id.org/threadline/id/"
PREFIX = f"PREFIX tl: <{TL}>\nPREFIX xsd: <http://www.w3.org/2001/XMLSchema#>\n"


def mapping_files(system: str) -> list[Path]:
    return sorted(p for p in (INGEST / system).iterdir() if p.suffix in (".yml", ".yaml", ".ttl"))


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> tuple[ox.Store, Path, Manifest]:
    out = tmp_path_factory.mktemp("pack") / "exports"
    manifest = generate(out, 60, 42)
    store = ox.Store()
    for system in SYSTEMS:
        lines: list[str] = []
        for path in mapping_files(system):
            run = load_mapping(path).execute(base_dir=out / system, on_error="fail", lineage_system=system)
            lines.extend(run)
            assert run.stats.rejected == 0, path
        store.load("".join(lines).encode(), ox.RdfFormat.N_QUADS)
    return store, out, manifest


def count(store: ox.Store, where: str) -> int:
    rows = list(store.query(PREFIX + f"SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE {{ {where} }}"))
    return int(rows[0]["n"].value)


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_every_export_is_read_by_some_mapping(graph: tuple[ox.Store, Path, Manifest]) -> None:
    _, _, manifest = graph
    for system in SYSTEMS:
        read = {src for p in mapping_files(system) for src in load_mapping(p).sources}
        written = {rel.split("/", 1)[1] for rel in manifest.counts if rel.startswith(system + "/")}
        assert read == written, system
        assert (INGEST / system / "README.md").is_file()


def test_entity_counts(graph: tuple[ox.Store, Path, Manifest]) -> None:
    store, _, m = graph
    e = m.entities
    assert count(store, "?x a tl:SerializedUnit") == e["serializedUnits"] == 180
    assert count(store, f"?x a tl:SerializedUnit ; tl:ofPart <{ID}part/FC-1000>") == 60
    assert count(store, "?x a tl:MaterialLot") == e["lots"]
    assert count(store, "?x a tl:MaterialLot ; tl:splitFrom ?y") == e["sublots"]
    assert count(store, "?x a tl:Nonconformance") == e["ncrs"]
    assert count(store, "?x a tl:Disposition") == e["dispositions"]
    assert count(store, "?x a tl:CAPA") == e["capas"]
    assert count(store, "?x a tl:Consumption") == e["consumptions"]
    assert (
        count(store, "?x a tl:Consumption ; tl:consumer ?c ; tl:consumedItem ?i ; tl:atOperation ?o")
        == (e["consumptions"])
    )
    edges = list(store.query(PREFIX + "SELECT (COUNT(*) AS ?n) WHERE { ?a tl:consumed ?b }"))
    assert int(edges[0]["n"].value) == e["consumptions"]  # each event is one distinct edge
    assert count(store, "?x a tl:OperationExecution") == e["operations"]
    assert count(store, "?x a tl:InspectionResult") == e["inspectionResults"]
    assert count(store, "?x a tl:WorkOrder") == e["workOrders"]
    assert count(store, "?x a tl:Receipt") == e["receipts"]
    assert count(store, "?x a tl:CertificateOfConformance") == e["certificates"]
    assert count(store, "?x a tl:Person") == 26
    assert count(store, "?x a tl:WorkUnit ; tl:partOf/tl:partOf/tl:partOf ?site . ?site a tl:Site") == 8


def test_known_unit_revision_and_work_order(graph: tuple[ox.Store, Path, Manifest]) -> None:
    store, out, m = graph
    ex = m.ground_truth["exampleUnit"]
    res = list(
        store.query(
            PREFIX
            + f"""SELECT ?label ?wo ?woRev WHERE {{
        <{ID}unit/{ex["serial"]}> tl:builtTo ?rev ; tl:builtUnder ?w .
        ?rev tl:revisionLabel ?label . ?w tl:workOrderNumber ?wo ; tl:buildsRevision ?woRev }}"""
        )
    )
    assert [(r["label"].value, r["wo"].value) for r in res] == [(ex["builtTo"], ex["workOrder"])]
    pilot = m.ground_truth["eco"]["unitBuiltBeforeRelease"]
    unit = next(u for u in rows(out / "mes" / "units.csv") if u["serial_number"] == pilot)
    assert (
        ox.Quad(
            ox.NamedNode(ID + "unit/" + pilot),
            ox.NamedNode(TL + "builtTo"),
            ox.NamedNode(f"{ID}rev/FC-1000/{unit['revision']}"),
            ox.DefaultGraph(),
        )
        in store
    )


def test_eco_from_and_to_revisions(graph: tuple[ox.Store, Path, Manifest]) -> None:
    store, _, m = graph
    eco = m.ground_truth["eco"]
    res = list(
        store.query(
            PREFIX
            + f"""SELECT ?from ?to ?eff ?part WHERE {{
        ?c tl:changeNumber "{eco["number"]}" ; tl:fromRevision/tl:revisionLabel ?from ;
           tl:toRevision/tl:revisionLabel ?to ; tl:effectiveFrom ?eff ; tl:affectsPart/tl:partNumber ?part }}"""
        )
    )
    assert [(r["from"].value, r["to"].value, r["eff"].value, r["part"].value) for r in res] == [
        (eco["fromRevision"], eco["toRevision"], eco["effectiveFrom"], eco["part"])
    ]
    late = list(
        store.query(
            PREFIX
            + f"""SELECT ?sn WHERE {{
        ?c tl:changeNumber "{eco["number"]}" ; tl:fromRevision ?old ; tl:effectiveFrom ?eff .
        ?u tl:builtTo ?old ; tl:serialNumber ?sn ; tl:startedAt ?t .
        FILTER (xsd:date(SUBSTR(STR(?t), 1, 10)) >= ?eff) }} ORDER BY ?sn"""
        )
    )
    assert [r["sn"].value for r in late] == eco["unitsBuiltToOldAfterEffectivity"]


def test_genealogy_reaches_supplier_lots(graph: tuple[ox.Store, Path, Manifest]) -> None:
    store, _, m = graph
    ex = m.ground_truth["exampleUnit"]
    direct = {
        r["x"].value.rsplit("/", 1)[1]
        for r in store.query(
            PREFIX
            + f"""SELECT ?x WHERE {{
        <{ID}unit/{ex["serial"]}> tl:consumed+ ?x . FILTER EXISTS {{ ?x a tl:MaterialLot }} }}"""
        )
    }
    assert direct == set(ex["lots"])
    supplied = {
        r["x"].value.rsplit("/", 1)[1]
        for r in store.query(
            PREFIX
            + f"""SELECT ?x WHERE {{
        <{ID}unit/{ex["serial"]}> tl:consumed+/(tl:splitFrom|tl:mergedFrom)* ?x .
        FILTER EXISTS {{ ?x tl:suppliedBy ?s }} }}"""
        )
    }
    assert supplied == set(ex["supplierLots"])
    shared = m.ground_truth["sharedSupplierLot"]
    users = count(store, f"?x tl:consumed <{ID}lot/{shared['lot']}> ; tl:ofPart <{ID}part/FC-1000>")
    assert users == shared["unitCount"]


def test_capa_spans_ncrs_and_lineage_is_recorded(graph: tuple[ox.Store, Path, Manifest]) -> None:
    store, _, m = graph
    capa = m.ground_truth["capaWithSeveralNcrs"]
    got = {
        r["n"].value
        for r in store.query(
            PREFIX
            + f"""SELECT ?n WHERE {{
        ?c tl:capaNumber "{capa["capa"]}" ; tl:addresses/tl:ncrNumber ?n }}"""
        )
    }
    assert got == set(capa["ncrs"])
    rec = list(
        store.query(
            PREFIX
            + f"""SELECT ?file ?loc WHERE {{
        <{ID}unit/FC-0000001> tl:sourceRecord ?r . ?r tl:inFile ?file ; tl:locator ?loc ; tl:sourceSystem "mes" }}"""
        )
    )
    assert {r["file"].value for r in rec} >= {"units.csv", "production-performance.xml"}


def test_seeded_gaps_show_in_the_graph(graph: tuple[ox.Store, Path, Manifest]) -> None:
    """Spot checks that the gaps survive mapping (full validation is the shapes' job)."""
    store, _, m = graph
    by_kind = {g.kind: g for g in m.gaps}
    no_coc = by_kind["lot-received-without-coc"].focus
    assert (
        count(store, f"<{no_coc}> a tl:Receipt . FILTER NOT EXISTS {{ <{no_coc}> tl:hasCertificate ?c }} BIND(1 AS ?x)")
        == 1
    )
    op = by_kind["operation-without-operator"].focus
    assert count(store, f"<{op}> a tl:OperationExecution ; tl:performedBy ?x") == 0
    capa = by_kind["capa-closed-without-effectiveness-check"].focus
    flag = list(store.query(PREFIX + f"SELECT ?d WHERE {{ <{capa}> tl:effectivenessCheckDone ?d }}"))
    assert [r["d"].value for r in flag] == ["false"]
    ncr = json.loads((graph[1] / "qms" / "ncrs.json").read_text())["ncrs"]
    assert count(store, "?n a tl:Nonconformance . FILTER NOT EXISTS { ?n tl:hasDisposition ?d } BIND(?n AS ?x)") == (
        sum(1 for n in ncr if n["disposition"] is None)
    )
