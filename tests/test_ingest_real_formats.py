"""The real-format mapping packs (ingest/b2mml, ingest/qif, ingest/mtconnect) run on real files.

Data-driven over whatever real files the shared conformance folder holds (read in place, never copied): each
file is mapped by the real engine, loaded into a real pyoxigraph store, and the graph is checked against an
independent parse of the same file with ElementTree. The expected facts come from walking the XML tree
in Python, never from the XPaths the mappings use, so a wrong iterator or key in a mapping fails here.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from pyoxigraph import NamedNode, RdfFormat, Store

from threadline.mapping import load_mapping

REPO = Path(__file__).resolve().parent.parent
INGEST = REPO / "ingest"
CONFORMANCE = Path(os.environ.get("THREADLINE_CONFORMANCE_DIR", REPO.parent / "shared" / "conformance"))

TL = "https://w3id.org/threadline/ontology#"
ID = "https://w3id.org/threadline/id/"
RDF_TYPE = NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
B2MML_NS = "http://www.wbf.org/xml/B2MML-V0401"


# -- helpers -----------------------------------------------------------------------------------------------------
def files(pattern: str, select: object = None) -> list[object]:
    """Real files matching a glob under the conformance folder, or one skipped case saying why there are none."""
    folder = pattern.split("/", 1)[0]
    if not (CONFORMANCE / folder).is_dir():
        reason = f"conformance set {folder!r} not found under {CONFORMANCE} (set THREADLINE_CONFORMANCE_DIR)"
        return [pytest.param(None, id=f"{folder}-absent", marks=pytest.mark.skip(reason=reason))]
    found = sorted(p for p in CONFORMANCE.glob(pattern) if p.is_file() and (select is None or select(p)))
    if not found:
        reason = f"no file matches {pattern!r} under {CONFORMANCE}"
        return [pytest.param(None, id=f"{folder}-empty", marks=pytest.mark.skip(reason=reason))]
    return [pytest.param(p, id=str(p.relative_to(CONFORMANCE))) for p in found]


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def text(el: ET.Element | None) -> str | None:
    if el is None or el.text is None or not el.text.strip():
        return None
    return el.text.strip()


def child(el: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in el if local(c.tag) == name), None)


def children(el: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in el if local(c.tag) == name]


def run_mapping(mapping: str, source: str, real_file: Path, store: Store | None = None, system: str = "test") -> Store:
    """Map one real file with the engine (lineage on) and load the N-Quads into a pyoxigraph store."""
    run = load_mapping(INGEST / mapping).execute(
        base_dir=real_file.parent, sources={source: real_file}, lineage_system=system
    )
    quads = "".join(run)
    assert run.stats.rejected == 0, run.rejects
    store = store if store is not None else Store()
    store.load(quads.encode("utf-8"), format=RdfFormat.N_QUADS)
    return store


def iri(kind: str, *keys: str) -> NamedNode:
    from urllib.parse import quote

    return NamedNode(ID + kind + "/" + "/".join(quote(k, safe="-._~") for k in keys))


def objects(store: Store, subject: NamedNode, prop: str) -> set[str]:
    return {q.object.value for q in store.quads_for_pattern(subject, NamedNode(TL + prop), None)}


def subjects_of_type(store: Store, cls: str) -> set[str]:
    return {q.subject.value for q in store.quads_for_pattern(None, RDF_TYPE, NamedNode(TL + cls))}


def has_type(store: Store, subject: NamedNode, cls: str) -> bool:
    return any(store.quads_for_pattern(subject, RDF_TYPE, NamedNode(TL + cls)))


def assert_lineage(store: Store, subjects: set[str]) -> None:
    missing = [s for s in subjects if not objects(store, NamedNode(s), "sourceRecord")]
    assert not missing, f"subjects without tl:sourceRecord: {missing[:5]}"


# -- B2MML V0401 (MESA) --------------------------------------------------------------------------------------------
B2MML_MESSAGES = {
    "ProductionSchedule": ("b2mml/production-schedule.rml.ttl", "production-schedule.xml"),
    "MaterialInformation": ("b2mml/material-information.rml.ttl", "material-information.xml"),
    "ProductionPerformance": ("b2mml/production-performance.rml.ttl", "production-performance.xml"),
}


def b2mml_kind(path: Path) -> str | None:
    """Which supported V0401 message a file carries (the verb wrapper, if any, does not matter)."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError:
        return None
    for el in root.iter():
        if el.tag.startswith("{" + B2MML_NS + "}") and local(el.tag) in B2MML_MESSAGES:
            return local(el.tag)
    return None


@dataclass
class B2mmlFacts:
    lots: set[str] = field(default_factory=set)
    materials: set[str] = field(default_factory=set)
    # (request or response ID, segment key) -> the enclosing segment's (request, key), None at the top
    segments: dict[tuple[str, str], tuple[str, str] | None] = field(default_factory=dict)
    # (segment, quantity) per MaterialRequirement / MaterialActual
    requirements: list[tuple[tuple[str, str], Decimal | None]] = field(default_factory=list)


def b2mml_facts(root: ET.Element) -> B2mmlFacts:
    """Lots, materials and segments of a message, by walking the tree (no XPath)."""
    facts = B2mmlFacts()
    lots, materials, segments, requirements = facts.lots, facts.materials, facts.segments, facts.requirements

    def seg_key(seg: ET.Element) -> str | None:
        return text(child(seg, "ID")) or text(child(seg, "ProcessSegmentID"))

    def walk(el: ET.Element, request: str | None, parent_seg: tuple[str, str] | None) -> None:
        name = local(el.tag)
        if name in ("ProductionRequest", "ProductionResponse"):
            request = text(child(el, "ID"))
        if name in ("SegmentRequirement", "SegmentResponse") and request is not None:
            key = seg_key(el)
            if key is not None:
                segments[(request, key)] = parent_seg
                parent_seg = (request, key)
        if name in ("MaterialRequirement", "MaterialActual") and parent_seg is not None:
            quantity = child(el, "Quantity")
            qty = text(child(quantity, "QuantityString")) if quantity is not None else None
            requirements.append((parent_seg, Decimal(qty) if qty else None))
        own_id = text(child(el, "ID"))
        value = text(el)
        if name in ("MaterialLot", "MaterialSubLot") and own_id:
            lots.add(own_id)
        if name in ("MaterialLotID", "MaterialSubLotID") and value:
            lots.add(value)
        if name == "MaterialDefinitionID" and value:
            materials.add(value)
        if name == "MaterialDefinition" and own_id:
            materials.add(own_id)
        for c in el:
            walk(c, request, parent_seg)

    walk(root, None, None)
    return facts


@pytest.mark.parametrize("path", files("b2mml-mesa/**/*.xml", b2mml_kind))
def test_b2mml_message_lots_materials_and_segments_all_in_graph(path: Path) -> None:
    kind = b2mml_kind(path)
    assert kind is not None
    mapping, source = B2MML_MESSAGES[kind]
    store = run_mapping(mapping, source, path, system="mes")
    facts = b2mml_facts(ET.parse(path).getroot())

    for lot in facts.lots:
        node = iri("lot", lot)
        assert has_type(store, node, "MaterialLot"), f"lot {lot} missing"
        assert objects(store, node, "lotNumber") == {lot}
    assert subjects_of_type(store, "MaterialLot") == {iri("lot", x).value for x in facts.lots}

    for material in facts.materials:
        node = iri("part", material)
        assert has_type(store, node, "Part"), f"material definition {material} missing"
        assert objects(store, node, "partNumber") == {material}
    assert subjects_of_type(store, "Part") == {iri("part", x).value for x in facts.materials}

    segments = facts.segments
    seg_kind, seg_class = (
        ("op", "OperationExecution") if kind == "ProductionPerformance" else ("segment", "SegmentRequirement")
    )
    for (request, key), parent in segments.items():
        node = iri(seg_kind, request, key)
        assert has_type(store, node, seg_class), f"segment {request}/{key} missing"
        if kind == "ProductionSchedule":
            assert objects(store, node, "forWorkOrder") == {iri("wo", request).value}
            expected_parent = {iri("segment", *parent).value} if parent else set()
            assert objects(store, node, "subSegmentOf") == expected_parent, f"segment {request}/{key}"
    assert subjects_of_type(store, seg_class) == {iri(seg_kind, *k).value for k in segments}

    if kind == "ProductionSchedule":
        # Every MaterialRequirement is one node, attached to its segment, with its quantity.
        requirements = facts.requirements
        mapped = Counter()
        quantities: Counter[tuple[str, Decimal]] = Counter()
        for req in subjects_of_type(store, "MaterialRequirement"):
            (segment,) = objects(store, NamedNode(req), "requirementOf")
            mapped[segment] += 1
            for q in objects(store, NamedNode(req), "quantity"):
                quantities[(segment, Decimal(q))] += 1
        assert mapped == Counter(iri("segment", *seg).value for seg, _ in requirements)
        assert quantities == Counter((iri("segment", *seg).value, q) for seg, q in requirements if q is not None)
    assert_lineage(store, subjects_of_type(store, "MaterialLot") | subjects_of_type(store, seg_class))


def test_b2mml_schedule_and_material_information_meet_on_the_same_lot() -> None:
    """The Courbon LOT message describes the very lot the production schedule asks for: one node, not two."""
    folder = CONFORMANCE / "b2mml-mesa" / "examples-v0401-courbon"
    schedules = sorted(p for p in folder.glob("*.xml") if b2mml_kind(p) == "ProductionSchedule")
    lots = sorted(p for p in folder.glob("*.xml") if b2mml_kind(p) == "MaterialInformation")
    if not schedules or not lots:
        pytest.skip(f"Courbon B2MML V0401 schedule and lot messages not found under {folder}")
    store = run_mapping("b2mml/production-schedule.rml.ttl", "production-schedule.xml", schedules[0])
    run_mapping("b2mml/material-information.rml.ttl", "material-information.xml", lots[0], store)
    lot_ids = {text(child(el, "ID")) for el in ET.parse(lots[0]).getroot().iter() if local(el.tag) == "MaterialLot"}
    required = {q.object.value for q in store.quads_for_pattern(None, NamedNode(TL + "materialLot"), None)}
    shared = {iri("lot", x).value for x in lot_ids if x} & required
    assert shared, f"no lot of {lots[0].name} is required by {schedules[0].name}"


# A V0401 production performance written by us (MESA publishes no performance example): it reports the Courbon
# schedule's weighing segment as done, consuming the two sublots and producing one lot of SO1215.
PERFORMANCE = """<?xml version="1.0" encoding="utf-8"?>
<SyncProductionPerformance xmlns="http://www.wbf.org/xml/B2MML-V0401">
  <DataArea><Sync/>
    <ProductionPerformance>
      <ID>PERF-1</ID>
      <ProductionResponse>
        <ID>RESP-258456</ID>
        <ProductionRequestID>258456</ProductionRequestID>
        <SegmentResponse>
          <ID>0010</ID>
          <ProcessSegmentID>Weighing</ProcessSegmentID>
          <ActualStartTime>2012-12-11T08:00:00Z</ActualStartTime>
          <ActualEndTime>2012-12-11T09:30:00Z</ActualEndTime>
          <PersonnelActual><PersonID>OP17</PersonID></PersonnelActual>
          <EquipmentActual><EquipmentID>BOX3</EquipmentID></EquipmentActual>
          <MaterialActual>
            <MaterialDefinitionID>CRBN0001</MaterialDefinitionID>
            <MaterialLotID>CRBN0001_LOT01</MaterialLotID>
            <MaterialSubLotID>412345670000003212</MaterialSubLotID>
            <MaterialUse>Consumed</MaterialUse>
            <Quantity><QuantityString>199.910</QuantityString><UnitOfMeasure>KG</UnitOfMeasure></Quantity>
          </MaterialActual>
          <MaterialActual>
            <MaterialDefinitionID>CRBN0002</MaterialDefinitionID>
            <MaterialLotID>CRBN0002_LOT01</MaterialLotID>
            <MaterialUse>Consumed</MaterialUse>
            <Quantity><QuantityString>2152.3</QuantityString><UnitOfMeasure>KG</UnitOfMeasure></Quantity>
          </MaterialActual>
          <MaterialActual>
            <MaterialDefinitionID>SO1215</MaterialDefinitionID>
            <MaterialLotID>SO1215_L0001</MaterialLotID>
            <MaterialUse>Produced</MaterialUse>
            <Quantity><QuantityString>1.000</QuantityString><UnitOfMeasure>KG</UnitOfMeasure></Quantity>
          </MaterialActual>
        </SegmentResponse>
      </ProductionResponse>
    </ProductionPerformance>
  </DataArea>
</SyncProductionPerformance>
"""


def test_b2mml_production_performance_gives_executions_consumptions_and_genealogy(tmp_path: Path) -> None:
    path = tmp_path / "perf.xml"
    path.write_text(PERFORMANCE, encoding="utf-8")
    store = run_mapping("b2mml/production-performance.rml.ttl", "production-performance.xml", path)
    op = iri("op", "RESP-258456", "0010")
    assert has_type(store, op, "OperationExecution")
    assert objects(store, op, "underWorkOrder") == {iri("wo", "258456").value}
    assert objects(store, op, "performedBy") == {iri("person", "OP17").value}
    assert objects(store, op, "onEquipment") == {iri("equipment", "BOX3").value}
    assert objects(store, op, "startedAt") == {"2012-12-11T08:00:00Z"}

    produced = iri("lot", "SO1215_L0001")
    consumptions = subjects_of_type(store, "Consumption")
    assert len(consumptions) == 2
    items = {next(iter(objects(store, NamedNode(c), "consumedItem"))) for c in consumptions}
    assert items == {iri("lot", "412345670000003212").value, iri("lot", "CRBN0002_LOT01").value}
    for c in consumptions:
        assert objects(store, NamedNode(c), "consumer") == {produced.value}
        assert objects(store, NamedNode(c), "atOperation") == {op.value}
    assert objects(store, produced, "consumed") == items
    # Backward genealogy from the produced lot reaches the parent lot of the consumed sublot.
    ask = f"""ASK {{ <{produced.value}> (<{TL}consumed>|<{TL}splitFrom>)+
                    <{iri("lot", "CRBN0001_LOT01").value}> }}"""
    assert store.query(ask)
    assert objects(store, produced, "ofPart") == {iri("part", "SO1215").value}


# -- QIF results (2.1: NIST SMS Test Bed first-article reports; 3.0: QIF community samples) -------------------------
QIF_MAPPINGS = {
    "http://qifstandards.org/xsd/qif2": ("qif/qif2-results.rml.ttl", "CharacteristicActuals"),
    "http://qifstandards.org/xsd/qif3": ("qif/qif3-results.rml.ttl", "CharacteristicMeasurements"),
}


def qif_namespace(path: Path) -> str:
    return ET.parse(path).getroot().tag[1:].split("}", 1)[0]


def is_qif(path: Path) -> bool:
    return path.suffix.lower() == ".qif" and qif_namespace(path) in QIF_MAPPINGS


def qif_facts(root: ET.Element, container: str) -> tuple[str, list[tuple[str, str, str | None, str | None]], dict]:
    """Document QPId, every actual as (id, item id, status, value), and item id -> name."""
    qpid = (text(child(root, "QPId")) or "").strip()
    actuals = []
    items: dict[str, str | None] = {}
    for el in root.iter():
        name = local(el.tag)
        if name == container:
            for a in el:
                status = child(a, "Status")
                actuals.append(
                    (
                        a.get("id"),
                        text(child(a, "CharacteristicItemId")),
                        text(child(status, "CharacteristicStatusEnum")) if status is not None else None,
                        text(child(a, "Value")),
                    )
                )
        if name == "CharacteristicItems":
            for item in el:
                items[item.get("id")] = text(child(item, "Name"))  # type: ignore[index]
    return qpid, actuals, items


def qif_limits(root: ET.Element) -> dict[str, tuple[Decimal | None, Decimal | None, Decimal | None]]:
    """Item id -> (nominal, lower, upper), following item -> nominal -> definition ids by walking the tree.

    A ``Tolerance`` with ``DefinedAsLimit`` true holds limits; with false, deviations added to the nominal.
    """

    def number(el: ET.Element | None) -> Decimal | None:
        value = text(el)
        return Decimal(value) if value is not None else None

    def by_id(container: str) -> dict[str, ET.Element]:
        return {x.get("id"): x for el in root.iter() if local(el.tag) == container for x in el}  # type: ignore[misc]

    nominals, definitions = by_id("CharacteristicNominals"), by_id("CharacteristicDefinitions")
    out: dict[str, tuple[Decimal | None, Decimal | None, Decimal | None]] = {}
    for item_id, item in by_id("CharacteristicItems").items():
        nominal_el = nominals.get(text(child(item, "CharacteristicNominalId")) or "")
        if nominal_el is None:
            continue
        nominal = number(child(nominal_el, "TargetValue"))
        definition = definitions.get(text(child(nominal_el, "CharacteristicDefinitionId")) or "")
        tolerance = child(definition, "Tolerance") if definition is not None else None
        low = high = None
        if tolerance is not None:
            low, high = number(child(tolerance, "MinValue")), number(child(tolerance, "MaxValue"))
            if text(child(tolerance, "DefinedAsLimit")) == "false":
                low = nominal + low if nominal is not None and low is not None else None
                high = nominal + high if nominal is not None and high is not None else None
        out[item_id] = (nominal, low, high)
    return out


def decimals(store: Store, subject: NamedNode, prop: str) -> set[Decimal]:
    return {Decimal(v) for v in objects(store, subject, prop)}


def same_number(mapped: set[Decimal], expected: Decimal | None) -> bool:
    """Limits computed from deviations are XPath doubles written with 15 digits: equal to 1e-9."""
    if expected is None:
        return not mapped
    return len(mapped) == 1 and abs(next(iter(mapped)) - expected) <= Decimal("1e-9")


@pytest.mark.parametrize(
    "path", files("nist-smstestbed/**/*.qif", is_qif) + files("qif3-samples/**/*.[qQ][iI][fF]", is_qif)
)
def test_qif_nominals_and_limits_match_independent_parse(path: Path) -> None:
    """Every characteristic item's nominal and limits, and every actual's status agrees with its limits."""
    mapping, container = QIF_MAPPINGS[qif_namespace(path)]
    store = run_mapping(mapping, "results.qif", path, system="qms")
    root = ET.parse(path).getroot()
    qpid, actuals, _items = qif_facts(root, container)
    limits = qif_limits(root)
    for item_id, (nominal, low, high) in limits.items():
        node = iri("characteristic", qpid, item_id)
        for prop, expected in (("nominal", nominal), ("lowerLimit", low), ("upperLimit", high)):
            assert same_number(decimals(store, node, prop), expected), f"item {item_id} {prop}: {expected}"
    with_limits = [v for v in limits.values() if v[1] is not None or v[2] is not None]
    checked = 0
    for actual_id, item_id, status, value in actuals:
        if status not in ("PASS", "FAIL") or value is None or item_id not in limits:
            continue
        node = iri("characteristic", qpid, item_id)  # type: ignore[arg-type]
        lows, highs = decimals(store, node, "lowerLimit"), decimals(store, node, "upperLimit")
        if not lows or not highs:
            continue
        inside = min(lows) <= Decimal(value) <= max(highs)
        assert inside == (status == "PASS"), f"actual {actual_id}: {value} in [{lows}, {highs}] but {status}"
        checked += 1
    if any(a[2] in ("PASS", "FAIL") for a in actuals) and with_limits:
        assert checked, "results with statuses and limits, yet no actual was checked against its limits"


@pytest.mark.parametrize(
    "path", files("nist-smstestbed/**/*.qif", is_qif) + files("qif3-samples/**/*.[qQ][iI][fF]", is_qif)
)
def test_qif_actuals_and_fails_match_independent_parse(path: Path) -> None:
    mapping, container = QIF_MAPPINGS[qif_namespace(path)]
    store = run_mapping(mapping, "results.qif", path, system="qms")
    qpid, actuals, items = qif_facts(ET.parse(path).getroot(), container)
    assert qpid, "every QIF document carries a QPId"

    results = subjects_of_type(store, "InspectionResult")
    assert len(results) == len(actuals), f"{len(results)} inspection results for {len(actuals)} actuals"
    statuses = Counter(v for r in results for v in objects(store, NamedNode(r), "inspectionStatus"))
    assert statuses["fail"] == sum(1 for a in actuals if a[2] == "FAIL")
    assert statuses["pass"] == sum(1 for a in actuals if a[2] == "PASS")
    assert sum(statuses.values()) == statuses["fail"] + statuses["pass"]

    for actual_id, item_id, _status, value in actuals:
        node = iri("inspection", qpid, actual_id)  # type: ignore[arg-type]
        assert node.value in results, f"actual {actual_id} missing"
        measured = objects(store, node, "measuredValue")
        assert {Decimal(v) for v in measured} == ({Decimal(value)} if value else set()), f"actual {actual_id}"
        characteristic = iri("characteristic", qpid, item_id)  # type: ignore[arg-type]
        assert objects(store, node, "forCharacteristic") == {characteristic.value}
        if item_id in items:  # exploded QIF 3 results name items defined in another file
            assert has_type(store, characteristic, "Characteristic")
            assert objects(store, characteristic, "name") == ({items[item_id]} if items[item_id] else set())
    assert len(subjects_of_type(store, "Characteristic")) == len(items)
    assert_lineage(store, results)


def test_qif_nist_first_article_reports_hold_real_fails() -> None:
    """Guard against a vacuous pass: the NIST FAIR reports are known to contain failed characteristics."""
    reports = sorted((CONFORMANCE / "nist-smstestbed").glob("**/FAIR/*.qif"))
    if not reports:
        pytest.skip(f"NIST SMS Test Bed FAIR reports not found under {CONFORMANCE}")
    for report in reports:
        store = run_mapping("qif/qif2-results.rml.ttl", "results.qif", report)
        statuses = [q.object.value for q in store.quads_for_pattern(None, NamedNode(TL + "inspectionStatus"), None)]
        assert "fail" in statuses, f"{report.name}: no failed characteristic mapped"


# -- MTConnect Devices (device models) -----------------------------------------------------------------------------
def is_devices(path: Path) -> bool:
    try:
        return local(ET.parse(path).getroot().tag) == "MTConnectDevices"
    except ET.ParseError:
        return False


def mtconnect_facts(root: ET.Element) -> dict[tuple[str, ...], tuple[tuple[str, ...] | None, str]]:
    """Every device and component as IRI keys -> (parent keys, element name), by walking the tree."""
    out: dict[tuple[str, ...], tuple[tuple[str, ...] | None, str]] = {}

    def walk_components(holder: ET.Element, uuid: str, parent: tuple[str, ...]) -> None:
        for comps in children(holder, "Components"):
            for comp in comps:
                key = (uuid, comp.get("id"))
                out[key] = (parent, local(comp.tag))  # type: ignore[assignment]
                walk_components(comp, uuid, key)  # type: ignore[arg-type]

    for devices in children(root, "Devices"):
        for device in devices:
            if local(device.tag) not in ("Device", "Agent"):
                continue
            uuid = device.get("uuid")
            out[(uuid,)] = (None, local(device.tag))  # type: ignore[index]
            walk_components(device, uuid, (uuid,))  # type: ignore[arg-type]
    return out


@pytest.mark.parametrize(
    "path",
    files("nist-smstestbed/**/*.xml", is_devices) + files("mtconnect-cppagent-samples/**/*.xml", is_devices),
)
def test_mtconnect_every_device_and_component_with_its_parent(path: Path) -> None:
    store = run_mapping("mtconnect/devices.rml.ttl", "Devices.xml", path, system="mtconnect")
    facts = mtconnect_facts(ET.parse(path).getroot())
    assert facts, "a Devices document holds at least one device"
    for key, (parent, element) in facts.items():
        node = iri("equipment", *key)
        assert has_type(store, node, "Equipment"), f"{'/'.join(key)} missing"
        assert objects(store, node, "equipmentId") == {"/".join(key)}
        assert objects(store, node, "equipmentType") == {element}
        if parent is None:
            assert has_type(store, node, "WorkUnit")
            assert objects(store, node, "partOf") == set()
        else:
            assert objects(store, node, "partOf") == {iri("equipment", *parent).value}, f"{'/'.join(key)}"
    assert subjects_of_type(store, "Equipment") == {iri("equipment", *k).value for k in facts}
    assert_lineage(store, subjects_of_type(store, "Equipment"))
