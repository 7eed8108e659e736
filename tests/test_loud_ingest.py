"""Loud ingest (issue #12): a load never reports success with 0 records from the wrong file, files are matched
to mappings by what they are, mappings are checked against the ontology, QIF reports accumulate, and
``threadline map`` / ``threadline load --dry-run`` behave like the engine and the loader.

Real files are read in place from the shared conformance folder (MESA B2MML V0401, NIST SMS test bed QIF 2.1,
QIF 3.0 samples); a test that needs one is skipped with the reason when the folder is absent. Small messages
written here are in the shapes those standards define.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from tests.conftest import require_conformance
from threadline.cli import main
from threadline.config import Settings
from threadline.errors import IngestError, MappingError, SourceError
from threadline.ingest import LoadOptions, load_files
from threadline.ingest.plan import plan
from threadline.namespaces import TL
from threadline.store import Store, open_store
from threadline.upgrades.record import has_data
from threadline.web.app import create_app

REPO = Path(__file__).resolve().parent.parent
INGEST = REPO / "ingest"
B2MML = "http://www.wbf.org/xml/B2MML-V0401"
ID = "https://w3id.org/threadline/id/"
TOKEN = "loud-ingest-token"


def _courbon() -> Path:
    return require_conformance("b2mml-mesa") / "examples-v0401-courbon"


def _b2mml(verb: str | None, noun: str, body: str) -> str:
    inner = f"<{noun}>{body}</{noun}>"
    if verb is None:
        return f'<?xml version="1.0"?>\n<{noun} xmlns="{B2MML}">{body}</{noun}>\n'
    return (
        f'<?xml version="1.0"?>\n<{verb}{noun} xmlns="{B2MML}"><ApplicationArea><CreationDateTime>'
        f"2024-01-01T00:00:00Z</CreationDateTime></ApplicationArea><DataArea><{verb}/>{inner}</DataArea>"
        f"</{verb}{noun}>\n"
    )


MES_PERFORMANCE_BODY = (
    "<ProductionResponse><ID>PR-1</ID><SegmentResponse><ID>S1</ID><ProductionRequestID>WO-1</ProductionRequestID>"
    "<MaterialProducedActual><MaterialDefinitionID>P-1</MaterialDefinitionID><MaterialSubLotID>SN-9</MaterialSubLotID>"
    "</MaterialProducedActual><MaterialConsumedActual><MaterialLotID>LOT-7</MaterialLotID></MaterialConsumedActual>"
    "</SegmentResponse></ProductionResponse>"
)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = open_store(str(tmp_path / "store"))
    yield opened
    opened.close()


def _invoke(*args: str) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


# -- zero records ---------------------------------------------------------------------------------------------------
def test_a_file_the_iterators_do_not_match_is_refused_naming_file_and_iterator(tmp_path: Path) -> None:
    """A production schedule handed to the material-information mapping (under that mapping's file name) used
    to load as success with 0 records."""
    wrong = tmp_path / "material-information.xml"
    shutil.copyfile(_courbon() / "PRO-20121210181416-27942.xml", wrong)
    result = _invoke(
        "load",
        "b2mml",
        wrong,
        "--mapping",
        INGEST / "b2mml" / "material-information.rml.ttl",
        "--store",
        tmp_path / "store",
    )
    assert result.exit_code == 2, result.output
    assert "material-information.xml" in result.output and "0 records" in result.output
    assert "//b2mml:MaterialInformation" in result.output  # the iterator that matched nothing
    assert not has_data(open_store(str(tmp_path / "store")))  # nothing but the store's version record


def test_zero_records_over_http_is_a_422_and_loses_nothing(tmp_path: Path, serve_app) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(store=str(tmp_path / "store"), ingest_dir=INGEST, write_token=TOKEN, var_dir=tmp_path / "var")
    store = open_store(settings.store, settings)
    live = serve_app(create_app(settings, store=store))
    empty_info = _b2mml("Sync", "MaterialInformation", "<ID>CRBN0001</ID><Description>nothing</Description>")
    response = httpx.post(
        f"{live.url}/ingest/b2mml",
        files={"files": ("material-information.xml", empty_info.encode(), "application/xml")},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["file"] == "material-information.xml" and "0 records" in body["error"]
    assert not has_data(store)  # nothing but the store's version record


def test_a_source_declared_may_be_empty_loads_zero_records(tmp_path: Path, store: Store) -> None:
    pack = tmp_path / "ingest" / "x"
    pack.mkdir(parents=True)
    mapping = (
        "prefixes: {tl: 'https://w3id.org/threadline/ontology#', id: 'https://w3id.org/threadline/id/'}\n"
        "mappings:\n  ncr:\n    sources:\n      - access: ncrs.json\n        referenceFormulation: jsonpath\n"
        "        iterator: $.ncrs[*]\n        mayBeEmpty: {flag}\n"
        "    s: id:ncr/$(id)\n    po:\n      - [a, tl:Nonconformance]\n"
    )
    data = tmp_path / "ncrs.json"
    data.write_text('{"ncrs": [], "exportedAt": "2024-01-01"}')
    (pack / "ncrs.yarrrml.yml").write_text(mapping.replace("{flag}", "false"))
    with pytest.raises(SourceError, match="0 records"):
        load_files(store, "x", [data], ingest_dir=tmp_path / "ingest")
    (pack / "ncrs.yarrrml.yml").write_text(mapping.replace("{flag}", "true"))
    activity = load_files(store, "x", [data], ingest_dir=tmp_path / "ingest")
    assert [b.records for b in activity.batches] == [0]


# -- content, not names -----------------------------------------------------------------------------------------------
def test_mes_reads_a_wrapped_production_performance(tmp_path: Path, store: Store) -> None:
    """The MES iterator was absolute from the root, so a SyncProductionPerformance mapped 0 units, silently."""
    message = tmp_path / "production-performance.xml"
    message.write_text(_b2mml("Sync", "ProductionPerformance", MES_PERFORMANCE_BODY))
    load_files(store, "mes", [message], ingest_dir=INGEST)
    rows = store.select(f"SELECT ?lot WHERE {{ <{ID}unit/SN-9> a <{TL}SerializedUnit> ; <{TL}consumed> ?lot }}")
    assert rows.values("lot") == [f"{ID}lot/LOT-7"]


def test_real_files_are_matched_by_content_under_their_own_names(tmp_path: Path, store: Store) -> None:
    courbon = _courbon()
    runs = plan("b2mml", [courbon], ingest_dir=INGEST)
    assert {r.mapping_path.name: [p.name for p in r.sources.values()] for r in runs} == {
        "material-information.rml.ttl": ["LOT-20121210170718-0001L0001.xml"],
        "production-schedule.rml.ttl": ["PRO-20121210181416-27942.xml"],
    }
    fair = require_conformance("nist-smstestbed") / "tdp" / "mtc" / "FAIR"
    plate = fair / "7_11_2017 9_16_18 AM Plate_Results.qif"
    (qif_run,) = plan("qif", [plate], ingest_dir=INGEST)
    assert qif_run.mapping_path.name == "qif2-results.rml.ttl"  # QIF 2.1 by its namespace, under its own name
    result = _invoke("load", "qif", plate, "--store", tmp_path / "cli-store")
    assert result.exit_code == 0, result.output


def test_mapping_option_takes_any_file_name(tmp_path: Path, store: Store) -> None:
    lot = _courbon() / "LOT-20121210170718-0001L0001.xml"
    activity = load_files(
        store, "b2mml", [lot], ingest_dir=INGEST, mapping=INGEST / "b2mml" / "material-information.rml.ttl"
    )
    assert activity.batches[0].records > 0
    assert store.ask(f"ASK {{ <{ID}lot/CRBN0001_LOT01> a <{TL}MaterialLot> }}")


def test_csv_exports_are_matched_by_their_header(tmp_path: Path, store: Store) -> None:
    export = tmp_path / "people-2024-06.csv"
    export.write_text("person_id,name,personnel_class,mrb_member\nP-1,Ada,inspector,true\n")
    (run,) = plan("mes", [export], ingest_dir=INGEST)
    assert run.mapping_path.name == "personnel.yarrrml.yml"


# -- B2MML ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("verb", ["Sync", "Process", "Show", "Get", "Change", "Acknowledge", "Respond", "Cancel", None])
def test_every_b2mml_verb_wraps_a_mapped_noun(verb: str | None, tmp_path: Path) -> None:
    message = tmp_path / f"{verb or 'bare'}.xml"
    message.write_text(_b2mml(verb, "MaterialInformation", "<MaterialLot><ID>L-1</ID></MaterialLot>"))
    (run,) = plan("b2mml", [message], ingest_dir=INGEST)
    assert run.mapping_path.name == "material-information.rml.ttl"


def test_material_definition_messages_map_to_parts(tmp_path: Path, store: Store) -> None:
    message = tmp_path / "MD-0001.xml"
    body = "<ID>SO1215</ID><Description>Sodium chloride</Description>"
    message.write_text(_b2mml("Sync", "MaterialDefinition", body))
    load_files(store, "b2mml", [message], ingest_dir=INGEST)
    rows = store.select(f"SELECT ?d WHERE {{ <{ID}part/SO1215> a <{TL}Part> ; <{TL}description> ?d }}")
    assert rows.values("d") == ["Sodium chloride"]


def test_unmapped_b2mml_nouns_are_refused_by_name(tmp_path: Path) -> None:
    message = tmp_path / "EQ-1.xml"
    message.write_text(_b2mml("Sync", "Equipment", "<ID>E-1</ID>"))
    with pytest.raises(IngestError, match=r"B2MML Equipment message.*MaterialInformation"):
        plan("b2mml", [message], ingest_dir=INGEST)


def test_consumption_quantities_carry_their_unit(tmp_path: Path, store: Store) -> None:
    body = (
        "<ProductionResponse><ID>R1</ID><ProductionRequestID>W1</ProductionRequestID><SegmentResponse><ID>S1</ID>"
        "<MaterialActual><MaterialLotID>OUT</MaterialLotID><MaterialUse>Produced</MaterialUse></MaterialActual>"
        "<MaterialActual><MaterialLotID>IN</MaterialLotID><MaterialUse>Consumed</MaterialUse>"
        "<Quantity><QuantityString>2.5</QuantityString><UnitOfMeasure>kg</UnitOfMeasure></Quantity></MaterialActual>"
        "</SegmentResponse></ProductionResponse>"
    )
    message = tmp_path / "perf.xml"
    message.write_text(_b2mml("Process", "ProductionPerformance", body))
    load_files(store, "b2mml", [message], ingest_dir=INGEST)
    rows = store.select(
        f"SELECT ?q ?u WHERE {{ ?c a <{TL}Consumption> ; <{TL}quantity> ?q ; <{TL}unitOfMeasure> ?u }}"
    ).rows
    assert [(q.value, u.value) for q, u in rows] == [("2.5", "kg")]  # type: ignore[union-attr]


# -- QIF --------------------------------------------------------------------------------------------------------------
def _as(folder: Path, real: Path, name: str = "results.qif") -> Path:
    """A temporary copy under the export name the mapping declares (the real file stays in place)."""
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copyfile(real, folder / name))


def _inspection_reports(store: Store) -> set[str]:
    rows = store.select(f"SELECT DISTINCT ?id WHERE {{ ?r a <{TL}InspectionResult> ; <{TL}resultId> ?id }}")
    return {value.split("/", 1)[0] for value in rows.values("id")}


def test_qif_reports_accumulate_and_reloading_one_changes_nothing(tmp_path: Path, store: Store) -> None:
    fair = require_conformance("nist-smstestbed") / "tdp" / "mtc" / "FAIR"
    # under the mapping's own file name, so that only accumulation is under test (not matching by content)
    plate = _as(tmp_path / "a", sorted(fair.glob("*Plate_Results.qif"))[0])
    cover = _as(tmp_path / "b", sorted(fair.glob("*Cover_Results.qif"))[0])
    load_files(store, "qif", [plate], ingest_dir=INGEST)
    load_files(store, "qif", [cover], ingest_dir=INGEST)
    assert len(_inspection_reports(store)) == 2  # the second report did not retire the first
    before = store.digest()
    again = load_files(store, "qif", [plate], ingest_dir=INGEST)
    assert [b.skipped for b in again.batches] == [True]
    assert store.digest() == before


def test_qif_results_know_which_part_they_inspected(tmp_path: Path, store: Store) -> None:
    samples = require_conformance("qif3-samples") / "samples" / "Results" / "Sheet_Metal"
    report = samples / "SheetMetal_QIF_Results_6_samples_w_UUIDs.QIF"
    load_files(store, "qif", [_as(tmp_path, report)], ingest_dir=INGEST)
    rows = store.select(
        f"SELECT ?unit (SUM(IF(?s = 'fail', 1, 0)) AS ?fails) (COUNT(?r) AS ?n) WHERE {{ "
        f"?r a <{TL}InspectionResult> ; <{TL}inspectedItem> ?unit ; <{TL}inspectionStatus> ?s }} GROUP BY ?unit"
    ).rows
    per_part = {u.value.rsplit("/", 1)[-1]: int(f.value) for u, f, _ in rows}  # type: ignore[union-attr]
    expected = _expected_failing_parts(report)
    assert set(per_part) == set(expected) and len(per_part) == 6
    assert {serial for serial, fails in per_part.items() if fails} == {s for s, ok in expected.items() if not ok}


def _expected_failing_parts(report: Path) -> dict[str, bool]:
    """Per serial: does the QIF say the component passed? (an independent ElementTree walk)"""
    import xml.etree.ElementTree as ET

    root = ET.parse(report).getroot()
    ns = {"q": "http://qifstandards.org/xsd/qif3"}
    out = {}
    for component in root.iterfind(".//q:ActualComponent", ns):
        serial = component.findtext("q:SerialNumber", namespaces=ns)
        status = component.findtext("q:Status/q:InspectionStatusEnum", namespaces=ns)
        out[serial.strip()] = status.strip() == "PASS"  # type: ignore[union-attr]
    return out


# -- ontology check ---------------------------------------------------------------------------------------------------
def test_a_misspelt_ontology_term_is_refused_with_the_closest_term(tmp_path: Path) -> None:
    pack = tmp_path / "ingest" / "mes"
    pack.mkdir(parents=True)
    text = (INGEST / "mes" / "personnel.yarrrml.yml").read_text().replace("tl:personId", "tl:personID")
    (pack / "personnel.yarrrml.yml").write_text(text)
    export = tmp_path / "personnel.csv"
    export.write_text("person_id,name,personnel_class,mrb_member\nP-1,Ada,inspector,true\n")
    with pytest.raises(MappingError, match=r"tl:personID.*did you mean tl:personId\?"):
        plan("mes", [export], ingest_dir=tmp_path / "ingest")
    mapped = _invoke("map", pack / "personnel.yarrrml.yml", "--base", tmp_path)
    assert mapped.exit_code == 2 and "did you mean tl:personId?" in mapped.output
    dry = _invoke(
        "load", "mes", export, "--dry-run", "--mapping", pack / "personnel.yarrrml.yml", "--store", tmp_path / "store"
    )
    assert dry.exit_code == 2 and "tl:personID" in dry.output


# -- dry run ----------------------------------------------------------------------------------------------------------
def test_dry_run_reports_add_and_replace_and_commits_nothing(tmp_path: Path, store: Store) -> None:
    export = tmp_path / "personnel.csv"
    export.write_text("person_id,name,personnel_class,mrb_member\nP-1,Ada,inspector,true\n")
    first = load_files(store, "mes", [export], ingest_dir=INGEST, options=LoadOptions(dry_run=True))
    assert first.dry_run and first.gate_verdict == "would accept"
    assert not has_data(store)  # nothing but the store's version record
    load_files(store, "mes", [export], ingest_dir=INGEST)
    before = store.digest()
    export.write_text("person_id,name,personnel_class,mrb_member\nP-1,Ada,inspector,true\nP-2,Bo,operator,false\n")
    from threadline.ingest import describe

    second = load_files(store, "mes", [export], ingest_dir=INGEST, options=LoadOptions(dry_run=True))
    assert [row["status"] for row in describe(second)] == ["would replace 1 earlier batch graph(s)"]
    assert second.batches[0].records == 2
    assert store.digest() == before
    result = _invoke("load", "mes", export, "--dry-run", "--store", tmp_path / "cli-store")
    assert result.exit_code == 0 and "nothing committed" in result.output and "would add" in result.output


def test_dry_run_reports_the_gate_refusal_and_commits_nothing(tmp_path: Path, store: Store) -> None:
    from threadline.ingest import hooks

    def refuse(_store: Store, activity: object) -> None:
        raise IngestError("validation gate: 1 violation (tl:Person without tl:name)")

    export = tmp_path / "personnel.csv"
    export.write_text("person_id,name,personnel_class,mrb_member\nP-1,Ada,inspector,true\n")
    hooks.before_commit(refuse)
    try:
        activity = load_files(store, "mes", [export], ingest_dir=INGEST, options=LoadOptions(dry_run=True))
    finally:
        hooks.unregister(refuse)
    assert activity.gate_verdict == "would reject: validation gate: 1 violation (tl:Person without tl:name)"
    assert not has_data(store)  # nothing but the store's version record


def test_the_same_report_twice_in_one_load_is_refused(tmp_path: Path) -> None:
    fair = require_conformance("nist-smstestbed") / "tdp" / "mtc" / "FAIR"
    plate = sorted(fair.glob("*Plate_Results.qif"))[0]
    copy = _as(tmp_path, plate, "plate-again.qif")
    with pytest.raises(IngestError, match="are the same document"):
        plan("qif", [plate, copy], ingest_dir=INGEST)


# -- threadline map ---------------------------------------------------------------------------------------------------
def _rml_case(suite: str, name: str) -> Path:
    folder = require_conformance(suite) / name
    if not folder.is_dir():
        pytest.skip(f"{suite}/{name} not found")
    return folder


def test_map_on_error_skip_and_base_iri_behave_like_the_engine(tmp_path: Path) -> None:
    from tests.test_rml_conformance import assert_same_quads, parse_nquads

    base_case = _rml_case("rml-core-tests", "RMLTC0020a-JSON")
    out = tmp_path / "base.nq"
    result = _invoke("map", base_case / "mapping.ttl", "--base-iri", "http://example.com/", "-o", out)
    assert result.exit_code == 0, result.output
    assert_same_quads(parse_nquads((base_case / "output.nq").read_text()), parse_nquads(out.read_text()), "base")

    error_case = _rml_case("rmlio-rml-test-cases/test-cases", "RMLTC0019b-XML")
    failed = _invoke("map", error_case / "mapping.ttl", "-o", tmp_path / "fail.nq")
    assert failed.exit_code == 2
    skipped = _invoke("map", error_case / "mapping.ttl", "--on-error", "skip", "-o", tmp_path / "skip.nq")
    assert skipped.exit_code == 0, skipped.output
    assert "rejected" in skipped.output
