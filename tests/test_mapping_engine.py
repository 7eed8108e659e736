"""Engine behaviour beyond the conformance suites: errors and their locators, skip mode, lineage,
YARRRML as integrators write it, in-memory records, default-namespace XML, hash joins and streaming."""

from __future__ import annotations

import csv
import tracemalloc
from pathlib import Path

import pytest

from threadline.errors import MappingError, SourceError
from threadline.mapping import load_mapping

try:
    from rdfcompare import assert_same_quads, parse_nquads
except ImportError:  # pragma: no cover
    from tests.rdfcompare import assert_same_quads, parse_nquads

PREFIXES = """\
@prefix rr: <http://www.w3.org/ns/r2rml#> .
@prefix rml: <http://semweb.mmlab.be/ns/rml#> .
@prefix ql: <http://semweb.mmlab.be/ns/ql#> .
@prefix tl: <https://w3id.org/threadline/ontology#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
"""
TL = "https://w3id.org/threadline/ontology#"
ID = "https://w3id.org/threadline/id/"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def rml_csv(tmp_path: Path, rows: str, object_map: str = 'rml:reference "name"') -> Path:
    write(tmp_path / "parts.csv", rows)
    return write(
        tmp_path / "parts.rml.ttl",
        PREFIXES
        + f"""
<#Parts> a rr:TriplesMap ;
  rml:logicalSource [ rml:source "parts.csv" ; rml:referenceFormulation ql:CSV ] ;
  rr:subjectMap [ rr:template "{ID}part/{{partNumber}}" ; rr:class tl:Part ] ;
  rr:predicateObjectMap [ rr:predicate tl:name ; rr:objectMap [ {object_map} ] ] .
""",
    )


def quads(run: object) -> set:
    return parse_nquads("".join(run))  # type: ignore[arg-type]


# -- errors: file, locator and field ------------------------------------------------------------------------
def test_malformed_csv_row_names_file_row_and_count(tmp_path: Path) -> None:
    mapping = load_mapping(rml_csv(tmp_path, "partNumber,name\nP-1,Bolt\nP-2,Nut,extra\n"))
    with pytest.raises(SourceError) as err:
        list(mapping.execute())
    assert err.value.file is not None and err.value.file.endswith("parts.csv")
    assert err.value.locator == "row 3"
    assert "expected 2 fields, found 3" in str(err.value)


def test_missing_csv_column_is_reported_at_the_header(tmp_path: Path) -> None:
    mapping = load_mapping(rml_csv(tmp_path, "partNumber,title\nP-1,Bolt\n"))
    with pytest.raises(SourceError) as err:
        list(mapping.execute())
    assert err.value.field == "name"
    assert err.value.locator == "row 1"
    assert "'name' is not in the header" in str(err.value)


@pytest.mark.parametrize(
    ("value", "datatype", "expected"),
    [
        ("2024-13-45", "xsd:date", "not a valid xsd:date"),
        ("2023-02-29", "xsd:date", "not a valid xsd:date"),
        ("abc", "xsd:decimal", "not a valid xsd:decimal"),
        ("1.5", "xsd:integer", "not a valid xsd:integer"),
        ("yes", "xsd:boolean", "not a valid xsd:boolean"),
        ("2024-01-01 10:00", "xsd:dateTime", "not a valid xsd:dateTime"),
        ("1.0e", "xsd:double", "not a valid xsd:double"),
    ],
)
def test_invalid_lexical_form_raises(tmp_path: Path, value: str, datatype: str, expected: str) -> None:
    path = rml_csv(tmp_path, f"partNumber,name\nP-1,{value}\n", f'rml:reference "name" ; rr:datatype {datatype}')
    with pytest.raises(SourceError) as err:
        list(load_mapping(path).execute())
    assert expected in str(err.value)
    assert (err.value.locator, err.value.field) == ("row 2", "name")


def test_valid_lexical_forms_pass(tmp_path: Path) -> None:
    path = rml_csv(tmp_path, "partNumber,name\nP-1,2024-02-29\n", 'rml:reference "name" ; rr:datatype xsd:date')
    out = "".join(load_mapping(path).execute())
    assert f'<{ID}part/P-1> <{TL}name> "2024-02-29"^^<http://www.w3.org/2001/XMLSchema#date> .\n' in out


def test_reference_yielding_invalid_iri_raises(tmp_path: Path) -> None:
    path = rml_csv(tmp_path, "partNumber,name\nP-1,not an iri\n", 'rml:reference "name" ; rr:termType rr:IRI')
    with pytest.raises(SourceError) as err:
        list(load_mapping(path).execute(base_iri="http://example.com/"))
    assert "forbidden character ' '" in str(err.value)
    assert err.value.locator == "row 2"


def test_template_values_are_percent_encoded(tmp_path: Path) -> None:
    path = rml_csv(tmp_path, 'partNumber,name\n"A/1 ü?",Bolt\n')
    out = "".join(load_mapping(path).execute())
    assert f"<{ID}part/A%2F1%20ü%3F>" in out


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    write(tmp_path / "items.json", '{"items": [\n  {"id": 1,}\n]}')
    path = write(
        tmp_path / "m.yml",
        """
prefixes: {tl: "https://w3id.org/threadline/ontology#"}
mappings:
  item:
    sources: [['items.json~jsonpath', '$.items[*]']]
    s: http://example.com/$(id)
    po: [[tl:name, $(name)]]
""",
    )
    with pytest.raises(SourceError) as err:
        list(load_mapping(path).execute())
    assert err.value.locator is not None and err.value.locator.startswith("line 2 column")
    assert "invalid JSON" in str(err.value)


def test_bad_json_lines_line_is_located_and_skippable(tmp_path: Path) -> None:
    write(tmp_path / "events.jsonl", '{"id": "e1", "name": "a"}\n{"id": "e2", \n{"id": "e3", "name": "c"}\n')
    path = write(
        tmp_path / "m.yml",
        """
mappings:
  event:
    sources: ['events.jsonl~jsonpath']
    s: http://example.com/$(id)
    po: [[http://example.com/name, $(name)]]
""",
    )
    mapping = load_mapping(path)
    with pytest.raises(SourceError) as err:
        list(mapping.execute())
    assert err.value.locator == "line 2"
    run = mapping.execute(on_error="skip")
    out = quads(run)
    assert {q[0][1] for q in out} == {"http://example.com/e1", "http://example.com/e3"}
    assert [r.locator for r in run.rejects] == ["line 2"]


def test_json_path_locator_and_field_for_bad_value(tmp_path: Path) -> None:
    write(tmp_path / "lots.json", '{"lots": [{"lot": "L1", "qty": "5"}, {"lot": "L2", "qty": "five"}]}')
    path = write(
        tmp_path / "m.yml",
        """
prefixes: {tl: "https://w3id.org/threadline/ontology#", xsd: "http://www.w3.org/2001/XMLSchema#"}
mappings:
  lot:
    sources: [['lots.json~jsonpath', '$.lots[*]']]
    s: https://w3id.org/threadline/id/lot/$(lot)
    po: [[tl:quantity, $(qty), xsd:decimal]]
""",
    )
    with pytest.raises(SourceError) as err:
        list(load_mapping(path).execute())
    assert (err.value.locator, err.value.field) == ("$.lots[1]", "qty")
    assert "'five' is not a valid xsd:decimal" in str(err.value)


def test_reference_matching_nothing_is_a_typo(tmp_path: Path) -> None:
    write(tmp_path / "lots.json", '[{"lot": "L1"}, {"lot": "L2"}]')
    path = write(
        tmp_path / "m.yml",
        """
mappings:
  lot:
    sources: [['lots.json~jsonpath', '$[*]']]
    s: http://example.com/$(lot)
    po: [[http://example.com/qty, $(quantiy)]]
""",
    )
    with pytest.raises(SourceError) as err:
        list(load_mapping(path).execute())
    assert err.value.field == "quantiy"
    assert "matched nothing" in str(err.value)


def test_xml_not_well_formed_names_line(tmp_path: Path) -> None:
    write(tmp_path / "lots.xml", "<Lots>\n  <Lot><Id>1</Id></Lot>\n  <Lot><Id>2</Lot>\n</Lots>\n")
    path = write(
        tmp_path / "m.yml",
        """
mappings:
  lot:
    sources: [['lots.xml~xpath', '/Lots/Lot']]
    s: http://example.com/$(Id)
    po: [[http://example.com/id, $(Id)]]
""",
    )
    with pytest.raises(SourceError) as err:
        list(load_mapping(path).execute())
    assert err.value.locator == "line 3"
    assert "XML not well formed" in str(err.value)


def test_bad_template_is_a_mapping_error_naming_the_file(tmp_path: Path) -> None:
    path = rml_csv(tmp_path, "partNumber,name\nP-1,Bolt\n", 'rr:template "{name"')
    with pytest.raises(MappingError, match=r"parts\.rml\.ttl|unclosed"):
        list(load_mapping(path).execute())
    write(path, PREFIXES + '<#X> rml:logicalSource [ rml:source "parts.csv" ] .')
    with pytest.raises(MappingError, match=r"parts\.rml\.ttl.*exactly one subject map"):
        load_mapping(path)


# -- skip mode ------------------------------------------------------------------------------------------------
def test_skip_rejects_whole_records_and_continues(tmp_path: Path) -> None:
    write(
        tmp_path / "parts.csv",
        "partNumber,name,released\nP-1,Bolt,2024-01-02\nP-2,Nut,2024-02-31\nP-3,Gear,2024-03-01\n",
    )
    path = write(
        tmp_path / "m.ttl",
        PREFIXES
        + f"""
<#Parts> a rr:TriplesMap ;
  rml:logicalSource [ rml:source "parts.csv" ; rml:referenceFormulation ql:CSV ] ;
  rr:subjectMap [ rr:template "{ID}part/{{partNumber}}" ; rr:class tl:Part ] ;
  rr:predicateObjectMap [ rr:predicate tl:name ; rr:objectMap [ rml:reference "name" ] ] ;
  rr:predicateObjectMap [ rr:predicate tl:releasedAt ;
                          rr:objectMap [ rml:reference "released" ; rr:datatype xsd:date ] ] .
""",
    )
    run = load_mapping(path).execute(on_error="skip")
    out = quads(run)
    subjects = {q[0][1] for q in out}
    assert subjects == {f"{ID}part/P-1", f"{ID}part/P-3"}, "P-2 must be dropped entirely, type and name too"
    assert (run.stats.records, run.stats.rejected, run.stats.triples) == (3, 1, len(out))
    [reject] = run.rejects
    assert (reject.locator, reject.field) == ("row 3", "released")
    assert reject.file.endswith("parts.csv") and "xsd:date" in reject.reason


# -- lineage --------------------------------------------------------------------------------------------------
def test_lineage_links_each_subject_to_its_source_record(tmp_path: Path) -> None:
    path = rml_csv(tmp_path, "partNumber,name\nP 1,Bolt\n")
    out = quads(load_mapping(path).execute(lineage_system="plm"))
    subject = ("I", f"{ID}part/P%201")
    record = ("I", f"{ID}record/plm/parts.csv/P%201")

    def lit(v: str) -> tuple[str, str, str, str]:
        return ("L", v, "", "")

    expected = {
        (subject, ("I", "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"), ("I", f"{TL}Part"), None),
        (subject, ("I", f"{TL}name"), lit("Bolt"), None),
        (subject, ("I", f"{TL}sourceRecord"), record, None),
        (record, ("I", "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"), ("I", f"{TL}SourceRecord"), None),
        (record, ("I", f"{TL}inFile"), lit("parts.csv"), None),
        (record, ("I", f"{TL}locator"), lit("row 2"), None),
        (record, ("I", f"{TL}sourceKey"), lit("P 1"), None),
        (record, ("I", f"{TL}sourceSystem"), lit("plm"), None),
    }
    assert_same_quads(expected, out, "lineage")


# -- YARRRML as integrators write it -------------------------------------------------------------------------
YARRRML = """
prefixes:
  tl: "https://w3id.org/threadline/ontology#"
  id: "https://w3id.org/threadline/id/"
  xsd: "http://www.w3.org/2001/XMLSchema#"
  rdfs: "http://www.w3.org/2000/01/rdf-schema#"
mappings:
  part:
    sources: ['parts.csv~csv']
    s: id:part/$(partNumber)
    po:
      - [a, tl:Part]
      - [tl:partNumber, $(partNumber)]
      - [tl:isSerialized, $(serialized), xsd:boolean]
      - [rdfs:label, $(name), en~lang]
      - p: tl:unitOfMeasure
        o: {value: $(uom), datatype: xsd:string}
  lot:
    sources: [['lots.json~jsonpath', '$.items[*]']]
    s: id:lot/$(lot)
    po:
      - [a, tl:MaterialLot]
      - [tl:quantity, $(qty), xsd:decimal]
      - [tl:lotNumber, "LOT-$(lot)"]
      - p: tl:ofPart
        o:
          mapping: part
          condition:
            function: equal
            parameters:
              - [str1, $(part)]
              - [str2, $(partNumber)]
      - [tl:receivedIn, id:receipt/$(receipt)~iri]
"""


def test_yarrrml_features(tmp_path: Path) -> None:
    write(tmp_path / "parts.csv", "partNumber,name,serialized,uom\nP-1,Bolt,true,EA\nP-2,Nut,false,EA\n")
    write(
        tmp_path / "lots.json",
        '{"items": [{"lot": "L1", "qty": "5.5", "part": "P-2", "receipt": "R 9"},'
        ' {"lot": "L2", "qty": "1", "part": "P-404", "receipt": "R1"}]}',
    )
    mapping = load_mapping(write(tmp_path / "m.yarrrml.yml", YARRRML))
    assert mapping.sources == ["parts.csv", "lots.json"]
    expected = parse_nquads(
        f"""
<{ID}part/P-1> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{TL}Part> .
<{ID}part/P-1> <{TL}partNumber> "P-1" .
<{ID}part/P-1> <{TL}isSerialized> "true"^^<http://www.w3.org/2001/XMLSchema#boolean> .
<{ID}part/P-1> <http://www.w3.org/2000/01/rdf-schema#label> "Bolt"@en .
<{ID}part/P-1> <{TL}unitOfMeasure> "EA" .
<{ID}part/P-2> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{TL}Part> .
<{ID}part/P-2> <{TL}partNumber> "P-2" .
<{ID}part/P-2> <{TL}isSerialized> "false"^^<http://www.w3.org/2001/XMLSchema#boolean> .
<{ID}part/P-2> <http://www.w3.org/2000/01/rdf-schema#label> "Nut"@en .
<{ID}part/P-2> <{TL}unitOfMeasure> "EA" .
<{ID}lot/L1> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{TL}MaterialLot> .
<{ID}lot/L1> <{TL}quantity> "5.5"^^<http://www.w3.org/2001/XMLSchema#decimal> .
<{ID}lot/L1> <{TL}lotNumber> "LOT-L1" .
<{ID}lot/L1> <{TL}ofPart> <{ID}part/P-2> .
<{ID}lot/L1> <{TL}receivedIn> <{ID}receipt/R%209> .
<{ID}lot/L2> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{TL}MaterialLot> .
<{ID}lot/L2> <{TL}quantity> "1"^^<http://www.w3.org/2001/XMLSchema#decimal> .
<{ID}lot/L2> <{TL}lotNumber> "LOT-L2" .
<{ID}lot/L2> <{TL}receivedIn> <{ID}receipt/R1> .
"""
    )
    assert_same_quads(expected, quads(mapping.execute(base_dir=tmp_path)), "yarrrml")


def test_in_memory_records_and_source_override(tmp_path: Path) -> None:
    mapping = load_mapping(write(tmp_path / "m.yml", YARRRML))
    parts = [{"partNumber": "P-9", "name": "Cog", "serialized": True, "uom": "EA"}]
    lots = {"items": [{"lot": "L9", "qty": 2, "part": "P-9", "receipt": "R2"}]}
    out = "".join(mapping.execute(sources={"parts.csv": parts, "lots.json": lots}))
    assert f'<{ID}part/P-9> <{TL}isSerialized> "true"^^<http://www.w3.org/2001/XMLSchema#boolean> .\n' in out
    assert f"<{ID}lot/L9> <{TL}ofPart> <{ID}part/P-9> .\n" in out
    assert f'<{ID}lot/L9> <{TL}quantity> "2"^^<http://www.w3.org/2001/XMLSchema#decimal> .\n' in out


def test_in_memory_missing_field_is_an_error_with_record_locator(tmp_path: Path) -> None:
    mapping = load_mapping(write(tmp_path / "m.yml", YARRRML))
    parts = [{"partNumber": "P-1", "name": "A", "serialized": "true", "uom": "EA"}, {"partNumber": "P-2"}]
    with pytest.raises(SourceError) as err:
        list(mapping.execute(sources={"parts.csv": parts, "lots.json": {"items": []}}))
    assert (err.value.locator, err.value.field) == ("record 2", "serialized")


# -- XML with a default namespace (B2MML) ------------------------------------------------------------------
B2MML = """<?xml version="1.0"?>
<MaterialInformation xmlns="http://www.mesa.org/xml/B2MML">
  <MaterialLot><ID>L-1</ID><Quantity><QuantityString>5</QuantityString></Quantity></MaterialLot>
  <MaterialLot><ID>L-2</ID><Quantity><QuantityString>x</QuantityString></Quantity></MaterialLot>
</MaterialInformation>
"""


def test_b2mml_default_namespace_via_declared_prefix(tmp_path: Path) -> None:
    write(tmp_path / "lots.xml", B2MML)
    path = write(
        tmp_path / "m.yml",
        """
prefixes:
  b2mml: "http://www.mesa.org/xml/B2MML"
  tl: "https://w3id.org/threadline/ontology#"
  xsd: "http://www.w3.org/2001/XMLSchema#"
mappings:
  lot:
    sources: [['lots.xml~xpath', '/b2mml:MaterialInformation/b2mml:MaterialLot']]
    s: https://w3id.org/threadline/id/lot/$(b2mml:ID)
    po: [[tl:quantity, $(b2mml:Quantity/b2mml:QuantityString), xsd:decimal]]
""",
    )
    mapping = load_mapping(path)
    with pytest.raises(SourceError) as err:
        list(mapping.execute())
    assert err.value.locator == "/b2mml:MaterialInformation/b2mml:MaterialLot[2]"
    run = mapping.execute(on_error="skip")
    out = "".join(run)
    assert out == f'<{ID}lot/L-1> <{TL}quantity> "5"^^<http://www.w3.org/2001/XMLSchema#decimal> .\n'


# -- joins and streaming ------------------------------------------------------------------------------------
def test_join_reads_parent_source_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from threadline.mapping import sources

    write(tmp_path / "parts.csv", "partNumber,name,serialized,uom\n" + "".join(f"P-{i},n,true,EA\n" for i in range(50)))
    items = ",".join(f'{{"lot": "L{i}", "qty": "1", "part": "P-{i % 50}", "receipt": "R"}}' for i in range(200))
    write(tmp_path / "lots.json", f'{{"items": [{items}]}}')
    opened: list[str] = []
    original = sources.CsvSource.prepare

    def counting(self: sources.CsvSource, references: object) -> None:
        opened.append(self.file_name)
        original(self, references)  # type: ignore[arg-type]

    monkeypatch.setattr(sources.CsvSource, "prepare", counting)
    out = quads(load_mapping(write(tmp_path / "m.yml", YARRRML)).execute())
    links = [q for q in out if q[1] == ("I", f"{TL}ofPart")]
    assert len(links) == 200
    assert len(opened) == 2, "one pass for the part mapping, one to index the parent side of the join"


def test_memory_stays_flat_on_a_large_csv(tmp_path: Path) -> None:
    rows = 200_000
    with (tmp_path / "parts.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["partNumber", "name"])
        writer.writerows([f"P-{i:07d}", f"Part number {i}"] for i in range(rows))
    mapping = load_mapping(rml_csv(tmp_path, (tmp_path / "parts.csv").read_text()))
    tracemalloc.start()
    try:
        run = mapping.execute()
        count = sum(1 for _ in run)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == rows * 2
    assert peak < 8_000_000, f"peak traced memory {peak / 1e6:.1f} MB for {rows} rows"
