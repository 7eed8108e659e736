"""The ontology is the contract every other folder builds on: these tests keep it complete, documented,
aligned to upstream terms that really exist, and in step with the files that use it."""

from __future__ import annotations

import logging
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import pytest
from rdflib import OWL, RDF, RDFS, SKOS, Graph, Literal, URIRef
from rdflib import namespace as vocabularies
from rdflib.namespace import DCTERMS, PROV

from threadline import ontology
from threadline.errors import ConfigError
from threadline.ontology import TL, diagram
from threadline.ontology import page as ontology_page

REPO = Path(__file__).resolve().parent.parent
TL_NS = str(TL)
IOF_NS = "https://spec.industrialontologies.org/ontology/construct/"
OBO_NS = "http://purl.obolibrary.org/obo/"
QUDT_NS = "http://qudt.org/schema/qudt/"
B2MML_NS = "http://www.mesa.org/xml/B2MML#"
ESMF_NS = "https://eclipse-esmf.github.io/ontologies/I4.0/"

# Properties that deliberately lack a domain or a range, and why. Each entry must still be true (see test).
NO_DOMAIN = {
    "sourceRecord": "every mapped subject, of any class, links to its source record",
    "clause": "annotates SHACL shapes and validation results (sh:Shape, sh:ValidationResult), no class of ours",
    "ownerRole": "annotates SHACL shapes and validation results, no class of ours",
    "fixHint": "annotates SHACL shapes and validation results, no class of ours",
    "shapeLabel": "annotates SHACL validation results (sh:ValidationResult), no class of ours",
    "profile": "names the profile of a validation activity and of each SHACL validation result",
    "storeFormat": "describes the store's version record (one resource in graph/store), no class of ours",
    "ontologyVersion": "states a version on the store's record and on Threadline-made signatures",
    "writtenByRelease": "describes the store's version record (one resource in graph/store), no class of ours",
    "migratingTo": "describes the store's version record (one resource in graph/store), no class of ours",
    "archivedGraph": "describes an archive named graph (a graph, no class of ours) in the audit trail",
    "archivedFromGraph": "describes an archived statement (rdf:Statement, no class of ours) in the audit trail",
}
NO_RANGE = {
    "signs": "a signature may sign a record of any class",
    "targetGraph": "the value is a named-graph IRI, which is no class of ours",
    "archivedFromGraph": "the value is a named-graph IRI, which is no class of ours",
}

# The vocabulary contract (/tmp/tl/vocab.md in the brief, docs/ontology.md in the repo), one class per line:
# Class id-template-or-dash: property range, ...   (range: xsd local name, class name, or A|B for a union);
# indented lines continue the entry above.
CONTRACT = """
Part part/{partNumber}:
    partNumber string, name string, description string, unitOfMeasure string, isSerialized boolean,
    makeOrBuy string
PartRevision rev/{partNumber}/{revision}:
    revisionOf Part, revisionLabel string, lifecycleState string, releasedAt dateTime, effectiveFrom date,
    effectiveTo date, hasDocument Document, supersedes PartRevision
Document doc/{documentNumber}/{revision}: documentNumber string, documentRevision string, title string
Drawing doc/{documentNumber}/{revision}:
Specification doc/{documentNumber}/{revision}:
WorkInstruction doc/{documentNumber}/{revision}:
BOMLine bomline/{parentPart}/{parentRev}/{findNumber}:
    parentRevision PartRevision, childPart Part, quantity decimal, unitOfMeasure string, findNumber string,
    referenceDesignator string
ChangeOrder eco/{changeNumber}:
    changeNumber string, changeReason string, affectsPart Part, fromRevision PartRevision, toRevision PartRevision,
    effectiveFrom date, changeStatus string, approvedBy Person, approvedAt dateTime
Routing routing/{partNumber}/{revision}: routingFor PartRevision
RoutingStep step/{partNumber}/{revision}/{sequence}:
    stepOf Routing, sequence integer, operationName string, atWorkCenter WorkCenter,
    requiresInspection Characteristic, isFinalInspection boolean
WorkOrder wo/{workOrderNumber}:
    workOrderNumber string, buildsRevision PartRevision, quantity decimal, workOrderStatus string,
    plannedStart dateTime, dueDate date
MaterialLot lot/{lotNumber}:
    lotNumber string, ofPart Part, quantity decimal, unitOfMeasure string, suppliedBy Supplier, receivedIn Receipt,
    splitFrom MaterialLot, mergedFrom MaterialLot, derivedFrom MaterialLot
SerializedUnit unit/{serialNumber}:
    serialNumber string, ofPart Part, builtTo PartRevision, builtUnder WorkOrder, unitStatus string,
    location string, startedAt dateTime, completedAt dateTime, reworked boolean
Consumption consumption/{eventId}:
    consumer SerializedUnit|MaterialLot, consumedItem MaterialLot|SerializedUnit, quantity decimal,
    atOperation OperationExecution, consumedAt dateTime
OperationExecution op/{executionId}:
    executesStep RoutingStep, onUnit SerializedUnit, underWorkOrder WorkOrder, performedBy Person,
    onEquipment Equipment, startedAt dateTime, endedAt dateTime, operationResult string
Equipment equipment/{equipmentId}: equipmentId string, name string, partOf Equipment, equipmentType string
Site equipment/{equipmentId}:
Area equipment/{equipmentId}:
WorkCenter equipment/{equipmentId}:
WorkUnit equipment/{equipmentId}:
Person person/{personId}: personId string, name string, role string, isMRBMember boolean
Supplier supplier/{supplierId}: supplierId string, name string, approvalStatus string
PurchaseOrder po/{poNumber}:
    poNumber string, fromSupplier Supplier, orderedPart Part, quantity decimal, orderDate date
Receipt receipt/{receiptNumber}:
    receiptNumber string, againstOrder PurchaseOrder, receivedAt dateTime, quantity decimal,
    hasCertificate CertificateOfConformance
CertificateOfConformance coc/{certificateNumber}: certificateNumber string, issuedBy Supplier, issuedAt date
Characteristic characteristic/{characteristicId}:
    characteristicId string, name string, characteristicOf PartRevision, nominal decimal, lowerLimit decimal,
    upperLimit decimal, unitOfMeasure string
InspectionResult inspection/{resultId}:
    resultId string, forCharacteristic Characteristic, inspectedItem SerializedUnit|MaterialLot,
    measuredValue decimal, unitOfMeasure string, lowerLimit decimal, upperLimit decimal, inspectionStatus string,
    inspectedBy Person, usingEquipment Equipment, inspectedAt dateTime, isFinalInspection boolean
Nonconformance ncr/{ncrNumber}:
    ncrNumber string, concernsItem SerializedUnit|MaterialLot, detectedAt RoutingStep, defectCode string,
    defectDescription string, quantity decimal, ncrStatus string, openedAt dateTime, closedAt dateTime,
    hasDisposition Disposition, capa CAPA
Disposition disposition/{ncrNumber}: dispositionType string, approvedBy Person, approvedAt dateTime
CAPA capa/{capaNumber}:
    capaNumber string, problemStatement string, rootCause string, action string, effectivenessCheck string,
    effectivenessCheckDone boolean, capaStatus string, openedAt dateTime, closedAt dateTime,
    addresses Nonconformance
ElectronicSignature signature/{signatureId}:
    signer Person, signatureMeaning string, signedAt dateTime, signedRecordHash string, signs -
IngestActivity -:
    sourceSystem string, tripleCount integer, recordCount integer, rejectedCount integer, targetGraph -
SourceFile -: fileName string, sha256 string, byteSize integer
MappingFile -: fileName string, sha256 string, byteSize integer
SourceRecord record/{system}/{fileName}/{mapName}/{sourceKey}:
    inFile string, locator string, sourceKey string, sourceSystem string
# added beyond the contract for the B2MML pack (ingest/b2mml/README.md, "Ontology terms needed")
SegmentRequirement segment/{requestId}/{segmentKey}:
    forWorkOrder WorkOrder, subSegmentOf SegmentRequirement, segmentId string, processSegmentId string,
    plannedStart dateTime
MaterialRequirement materialreq/{requestId}/{segmentKey}/{position}:
    requirementOf SegmentRequirement, materialDefinition Part, materialLot MaterialLot, quantity decimal,
    unitOfMeasure string, materialUse string, atLocation Equipment
OperationExecution op/{executionId}: processSegmentId string
"""

STATUS_VALUES = {
    "makeOrBuy": {"make", "buy"},
    "lifecycleState": {"in-work", "released", "obsolete"},
    "changeStatus": {"open", "approved", "implemented", "cancelled"},
    "workOrderStatus": {"released", "in-progress", "completed", "closed"},
    "unitStatus": {"in-process", "completed", "shipped", "scrapped", "quarantined"},
    "operationResult": {"pass", "fail", "rework"},
    "approvalStatus": {"approved", "conditional", "disqualified"},
    "inspectionStatus": {"pass", "fail"},
    "ncrStatus": {"open", "closed"},
    "dispositionType": {"use-as-is", "rework", "repair", "scrap", "return-to-supplier"},
    "capaStatus": {"open", "closed"},
}

# Folders whose files use our terms, and the suffixes we read there (the growing drift check).
USING_FOLDERS = {
    "ingest": (".yml", ".yaml", ".ttl", ".rml"),
    "shapes": (".ttl",),
    "queries": (".rq",),
    "graphql": (".graphql",),
}


def _contract() -> list[tuple[str, str, list[tuple[str, str]]]]:
    rows = []
    entries: list[str] = []
    for line in CONTRACT.strip().splitlines():
        if line.startswith("#"):
            continue
        if line.startswith(" "):
            entries[-1] += " " + line.strip()
        else:
            entries.append(line)
    for entry in entries:
        head, _, body = entry.partition(":")
        name, template = head.split()
        props = [tuple(item.split()) for item in body.split(",") if item.strip()]
        rows.append((name, template, props))
    return rows


@pytest.fixture(scope="module")
def graph() -> Graph:
    return ontology.load_graph()


@pytest.fixture(scope="module")
def aligned() -> Graph:
    graph = Graph()
    graph.parse(ontology.ontology_dir() / ontology.ALIGNMENTS_FILE, format="turtle")
    return graph


@pytest.fixture(scope="module")
def conformance() -> Path:
    configured = os.environ.get("THREADLINE_CONFORMANCE_DIR")
    path = Path(configured) if configured else REPO.parent / "shared" / "conformance"
    if not path.is_dir():
        pytest.skip(f"conformance folder {path} absent (set THREADLINE_CONFORMANCE_DIR to check alignments)")
    return path


def _declared(graph: Graph) -> dict[str, set[URIRef]]:
    """Local name -> rdf:types, for every term in our namespace."""
    kinds = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty)
    out: dict[str, set[URIRef]] = {}
    for kind in kinds:
        for subject in graph.subjects(RDF.type, kind):
            if str(subject).startswith(TL_NS):
                out.setdefault(str(subject)[len(TL_NS) :], set()).add(kind)
    return out


def _members(graph: Graph, node: object) -> set[str]:
    return set(ontology._members(graph, node))


# --- the ontology itself -----------------------------------------------------------------------------------------


def test_ontology_header_is_versioned_and_licensed(graph: Graph) -> None:
    onto = ontology.ONTOLOGY_IRI
    assert (onto, RDF.type, OWL.Ontology) in graph
    version_iri = graph.value(onto, OWL.versionIRI)
    version = graph.value(onto, OWL.versionInfo)
    assert version is not None and str(version_iri).endswith("/" + str(version))
    for predicate in (DCTERMS.title, DCTERMS.description, DCTERMS.license, DCTERMS.created):
        assert graph.value(onto, predicate) is not None, predicate
    assert graph.value(onto, DCTERMS.created).datatype == vocabularies.XSD.date


def test_every_term_is_labelled_and_defined_in_english(graph: Graph) -> None:
    missing = []
    for name in sorted(_declared(graph)):
        iri = TL[name]
        for predicate in (RDFS.label, SKOS.definition):
            values = [v for v in graph.objects(iri, predicate) if isinstance(v, Literal) and v.language == "en"]
            if len(values) != 1 or not str(values[0]).strip():
                missing.append(f"tl:{name} needs one {graph.qname(predicate)}@en")
    assert not missing, "\n".join(missing)


def test_every_iri_in_our_namespace_is_declared(graph: Graph) -> None:
    declared = _declared(graph)
    used = {
        str(t)[len(TL_NS) :] for triple in graph for t in triple if isinstance(t, URIRef) and str(t).startswith(TL_NS)
    }
    assert sorted(used - set(declared)) == []


def test_each_term_has_exactly_one_kind(graph: Graph) -> None:
    assert {name: kinds for name, kinds in _declared(graph).items() if len(kinds) != 1} == {}


def test_properties_have_domains_and_ranges_unless_exempt(graph: Graph) -> None:
    declared = _declared(graph)
    problems = []
    for name, kinds in sorted(declared.items()):
        if not kinds & {OWL.ObjectProperty, OWL.DatatypeProperty}:
            continue
        has_domain = graph.value(TL[name], RDFS.domain) is not None
        has_range = graph.value(TL[name], RDFS.range) is not None
        if has_domain == (name in NO_DOMAIN):
            problems.append(f"tl:{name}: domain {'present' if has_domain else 'missing'}; exemption list disagrees")
        if has_range == (name in NO_RANGE):
            problems.append(f"tl:{name}: range {'present' if has_range else 'missing'}; exemption list disagrees")
    assert not problems, "\n".join(problems)


def test_ranges_match_property_kinds(graph: Graph) -> None:
    declared = _declared(graph)
    classes = {TL_NS + n for n, k in declared.items() if OWL.Class in k}
    problems = []
    for name, kinds in sorted(declared.items()):
        for node in graph.objects(TL[name], RDFS.range):
            targets = _members(graph, node)
            if OWL.DatatypeProperty in kinds and not all(t.startswith(str(vocabularies.XSD)) for t in targets):
                problems.append(f"tl:{name}: datatype property with non-vocabularies.XSD range {targets}")
            if OWL.ObjectProperty in kinds and not all(t in classes or t.startswith(QUDT_NS) for t in targets):
                problems.append(f"tl:{name}: object property ranges over undeclared classes {targets}")
        for node in graph.objects(TL[name], RDFS.domain):
            if not _members(graph, node) <= classes:
                problems.append(f"tl:{name}: domain outside our classes")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("name", "template", "props"), _contract(), ids=[row[0] for row in _contract()])
def test_contract_class_and_properties_are_declared(
    graph: Graph, name: str, template: str, props: list[tuple[str, str]]
) -> None:
    declared = _declared(graph)
    assert declared.get(name) == {OWL.Class}, f"tl:{name} is not declared as a class"
    expected_template = "-" if template == "-" else "https://w3id.org/threadline/id/" + template
    assert str(graph.value(TL[name], TL.idTemplate) or "-") == expected_template
    for prop, expected in props:
        assert prop in declared, f"tl:{prop} is not declared"
        domains = set().union(*(_members(graph, d) for d in graph.objects(TL[prop], RDFS.domain)))
        assert prop in NO_DOMAIN or TL_NS + name in domains, f"tl:{prop} lacks tl:{name} in its domain"
        ranges = set().union(*(_members(graph, r) for r in graph.objects(TL[prop], RDFS.range)))
        if expected == "-":
            assert ranges == set(), f"tl:{prop} should have no range"
        elif expected[0].islower():
            assert ranges == {str(vocabularies.XSD) + expected}, f"tl:{prop} range {ranges} is not xsd:{expected}"
            assert OWL.DatatypeProperty in declared[prop]
        else:
            assert ranges == {TL_NS + c for c in expected.split("|")}, f"tl:{prop} range {ranges} != {expected}"
            assert OWL.ObjectProperty in declared[prop]


def test_contract_status_values(graph: Graph) -> None:
    found = {name: {str(v) for v in graph.objects(TL[name], TL.allowedValue)} for name in STATUS_VALUES}
    assert found == STATUS_VALUES
    listed = {str(s)[len(TL_NS) :] for s in graph.subjects(TL.allowedValue, None)}
    assert listed == set(STATUS_VALUES)


def test_genealogy_terms(graph: Graph) -> None:
    assert (TL.splitFrom, RDFS.subPropertyOf, TL.derivedFrom) in graph
    assert (TL.mergedFrom, RDFS.subPropertyOf, TL.derivedFrom) in graph
    assert (TL.splitFrom, RDF.type, OWL.FunctionalProperty) in graph
    assert (TL.mergedFrom, RDF.type, OWL.FunctionalProperty) not in graph  # a merge has many sources
    unit_or_lot = {TL_NS + "SerializedUnit", TL_NS + "MaterialLot"}
    assert _members(graph, graph.value(TL.consumed, RDFS.domain)) == unit_or_lot
    assert _members(graph, graph.value(TL.consumed, RDFS.range)) == unit_or_lot


# --- alignments ------------------------------------------------------------------------------------------------------


def _external(aligned: Graph, namespace: str) -> set[str]:
    return {
        str(o)
        for s, p, o in aligned
        if str(s).startswith(TL_NS) and isinstance(o, URIRef) and str(o).startswith(namespace)
    } | {
        str(o)
        for s, p, o in aligned
        if not isinstance(s, URIRef) and isinstance(o, URIRef) and str(o).startswith(namespace)
    }


def test_alignments_only_align_declared_terms(graph: Graph, aligned: Graph) -> None:
    declared = set(_declared(graph))
    subjects = {str(s)[len(TL_NS) :] for s in aligned.subjects() if str(s).startswith(TL_NS)}
    assert subjects and subjects <= declared, subjects - declared
    assert (None, OWL.imports, URIRef(str(graph.value(ontology.ONTOLOGY_IRI, OWL.versionIRI)))) in aligned


def test_prov_and_time_terms_exist(aligned: Graph) -> None:
    prov = _external(aligned, str(PROV))
    time = _external(aligned, str(vocabularies.TIME))
    assert prov and time
    assert [iri for iri in sorted(prov) if URIRef(iri) not in PROV] == []
    assert [iri for iri in sorted(time) if URIRef(iri) not in vocabularies.TIME] == []
    assert (TL.IngestActivity, RDFS.subClassOf, PROV.Activity) in aligned
    for entity in (TL.SourceFile, TL.SourceRecord):
        assert (entity, RDFS.subClassOf, PROV.Entity) in aligned


def test_iof_iris_exist_in_pinned_release(aligned: Graph, conformance: Path) -> None:
    root = conformance / "iof-ontology"
    upstream = Graph()
    for name in ("core/Core.rdf", "supplychain/SupplyChain.rdf", "certification/Certification.rdf",
                 "productionplanning/ProductionPlanning.rdf", "cache/bfo/2020/bfo.rdf"):  # fmt: skip
        upstream.parse(root / name, format="xml")
    known = {str(s) for kind in (OWL.Class, OWL.ObjectProperty) for s in upstream.subjects(RDF.type, kind)}
    used = _external(aligned, IOF_NS) | _external(aligned, OBO_NS)
    assert len(used) > 20
    assert sorted(used - known) == []
    core_version = upstream.value(URIRef("https://spec.industrialontologies.org/ontology/core/Core/"), OWL.versionIRI)
    assert (None, DCTERMS.references, core_version) in aligned, f"alignments do not pin IOF Core {core_version}"
    core_only = Graph().parse(root / "core/Core.rdf", format="xml")
    core_classes = {str(s) for s in core_only.subjects(RDF.type, OWL.Class)} | {OBO_NS + "BFO_0000040"}
    subclassed = {str(o) for o in aligned.objects(None, RDFS.subClassOf) if str(o).startswith((IOF_NS, OBO_NS))}
    assert sorted(subclassed - core_classes) == [], "subclass only released IOF Core terms; match the rest"


def test_qudt_iris_exist(aligned: Graph, graph: Graph, conformance: Path) -> None:
    upstream = Graph()
    term_logger = logging.getLogger("rdflib.term")
    level = term_logger.level
    term_logger.setLevel(logging.CRITICAL)  # QUDT carries rdf:HTML literals rdflib cannot parse; irrelevant here
    try:
        upstream.parse(conformance / "iof-ontology/cache/QUDT/SCHEMA_QUDT-v2.1.rdf", format="xml")
    finally:
        term_logger.setLevel(level)
    used = _external(aligned, QUDT_NS) | {str(o) for o in graph.objects(None, RDFS.range) if str(o).startswith(QUDT_NS)}
    assert used
    assert [iri for iri in sorted(used) if (URIRef(iri), RDF.type, None) not in upstream] == []


def test_b2mml_names_are_v0700_elements(aligned: Graph, conformance: Path) -> None:
    schemas = "\n".join(p.read_text(encoding="utf-8") for p in (conformance / "b2mml-mesa/schema-v0700").glob("*.xsd"))
    names = sorted(iri[len(B2MML_NS) :] for iri in _external(aligned, B2MML_NS))
    assert len(names) > 10
    assert [n for n in names if not re.search(rf'<xsd:element\s+name\s*=\s*"{n}"', schemas)] == []


def test_esmf_iris_exist(aligned: Graph, conformance: Path) -> None:
    upstream = Graph()
    for path in sorted((conformance / "esmf-i40-core-isa95").glob("esmf_*.ttl")) + sorted(
        (conformance / "esmf-i40-core-isa95").glob("emsf_*.ttl")
    ):
        upstream.parse(path, format="turtle")
    known = {str(s) for s in upstream.subjects(RDF.type, OWL.Class)}
    used = _external(aligned, ESMF_NS)
    assert used and sorted(used - known) == []


# --- files that use the ontology (grows with the project) ------------------------------------------------------------

_PREFIX_DECL = re.compile(r"([A-Za-z][\w-]*)\s*:\s*[<\"']?" + re.escape(TL_NS))


def used_terms(text: str) -> set[tuple[int, str]]:
    """(line, local name) of every reference to our namespace: full IRIs and any prefix bound to it (and tl:)."""
    prefixes = {"tl"} | set(_PREFIX_DECL.findall(text))
    full = re.compile(re.escape(TL_NS) + r"([A-Za-z_][\w-]*)")
    short = re.compile(r"(?<![\w:/#.-])(?:" + "|".join(sorted(prefixes)) + r"):([A-Za-z_][\w-]*)")
    found = set()
    for number, line in enumerate(text.splitlines(), 1):
        found |= {(number, name) for name in full.findall(line)}
        found |= {(number, name) for name in short.findall(line)}
    return found


def test_used_terms_scanner_finds_full_and_prefixed_names() -> None:
    sample = (
        f"PREFIX t: <{TL_NS}>\nSELECT * {{ ?u t:builtTo ?r ; a <{TL_NS}SerializedUnit> }}\n"
        "# tl:Bogus\nmappings: {s: 'https://w3id.org/threadline/id/unit/$(serial)'}\n"
    )
    assert used_terms(sample) == {(2, "builtTo"), (2, "SerializedUnit"), (3, "Bogus")}


def _using_files() -> list[Path]:
    return sorted(
        path
        for folder, suffixes in USING_FOLDERS.items()
        if (REPO / folder).is_dir()
        for path in (REPO / folder).rglob("*")
        if path.is_file() and path.suffix in suffixes
    )


def test_files_use_only_declared_terms(graph: Graph) -> None:
    declared = set(_declared(graph))
    problems = [
        f"{path.relative_to(REPO)}:{line}: tl:{name} is not declared in ontology/threadline.ttl"
        for path in _using_files()
        for line, name in sorted(used_terms(path.read_text(encoding="utf-8")))
        if name not in declared
    ]
    assert not problems, "\n".join(problems)


# --- rendered artefacts ----------------------------------------------------------------------------------------------


def test_diagram_in_docs_is_current() -> None:
    committed = (REPO / "docs" / "ontology.svg").read_bytes()
    assert committed == diagram.render_svg().encode("utf-8"), "run: python -m threadline.ontology.diagram"


def test_diagram_is_svg_with_every_class(graph: Graph, tmp_path: Path) -> None:
    out = tmp_path / "o.svg"
    assert diagram.main(["-o", str(out)]) == 0
    root = ElementTree.fromstring(out.read_bytes())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    classes = [n for n, k in _declared(graph).items() if OWL.Class in k]
    assert [c for c in classes if not re.search(rf"\b{c}\b", texts)] == []
    assert len(list(root.iter("{http://www.w3.org/2000/svg}path"))) > 50  # arrows, not just boxes


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.append(values["id"] or "")
        if tag in ("script", "link", "img", "iframe") or any(
            k in ("src", "href") and (v or "").startswith(("http:", "https:", "//")) for k, v in attrs
        ):
            self.external.append(f"<{tag} {values}>")


def test_html_page_lists_every_term_offline() -> None:
    ontology_page._page.cache_clear()
    page = ontology_page.ontology_html()
    parser = _Ids()
    parser.feed(page)
    vocab = ontology.vocabulary()
    ids = set(parser.ids)
    assert [t.name for t in (*vocab.classes, *vocab.properties) if t.name not in ids] == []
    assert parser.external == []
    assert "<svg" in page and "<style>" in page
    assert "one of &quot;make&quot;, &quot;buy&quot;" in page  # definitions are escaped
    assert "iof:ManufacturingProcess" in page  # alignments are shown


def test_ontology_dir_prefers_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (ontology.ONTOLOGY_FILE, ontology.ALIGNMENTS_FILE):
        shutil.copy(ontology.ontology_dir() / name, tmp_path / name)
    monkeypatch.setenv(ontology.ENV_DIR, str(tmp_path))
    assert ontology.ontology_dir() == tmp_path
    assert ontology.ontology_turtle() == (tmp_path / ontology.ONTOLOGY_FILE).read_text(encoding="utf-8")
    (tmp_path / ontology.ONTOLOGY_FILE).write_text("@prefix tl: <x#> .\ntl:a tl:b .\ntl:c tl:d", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"threadline\.ttl"):
        ontology.load_graph()
    monkeypatch.setenv(ontology.ENV_DIR, str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match="THREADLINE_ONTOLOGY_DIR"):
        ontology.ontology_dir()
