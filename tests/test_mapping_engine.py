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
    record = ("I", f"{ID}record/plm/parts.csv/Parts/P%201")

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


SHARED_KEYS_XML = """<r>
  <items><item id="7"><name>Bore</name></item><item id="8"><name>Face</name></item></items>
  <actuals><actual id="7"><v>1.5</v></actual></actuals>
</r>
"""


def test_lineage_records_of_two_maps_sharing_a_key_do_not_collide(tmp_path: Path) -> None:
    """Item 7 and actual 7 are different elements: two record nodes, each with exactly one locator."""
    write(tmp_path / "doc.xml", SHARED_KEYS_XML)
    path = write(
        tmp_path / "m.rml.ttl",
        PREFIXES
        + f"""
<#Item> rml:logicalSource [ rml:source "doc.xml" ; rml:referenceFormulation ql:XPath ; rml:iterator "/r/items/item" ] ;
  rr:subjectMap [ rr:template "{ID}characteristic/{{@id}}" ] ;
  rr:predicateObjectMap [ rr:predicate tl:name ; rr:objectMap [ rml:reference "name" ] ] .
<#Actual> rml:logicalSource [ rml:source "doc.xml" ; rml:referenceFormulation ql:XPath ;
    rml:iterator "/r/actuals/actual" ] ;
  rr:subjectMap [ rr:template "{ID}inspection/{{@id}}" ] ;
  rr:predicateObjectMap [ rr:predicate tl:measuredValue ; rr:objectMap [ rml:reference "v" ] ] .
""",
    )
    out = quads(load_mapping(path).execute(lineage_system="qms"))
    records = {q[0][1]: q[2][1] for q in out if q[1] == ("I", f"{TL}sourceRecord")}
    assert records == {
        f"{ID}characteristic/7": f"{ID}record/qms/doc.xml/Item/7",
        f"{ID}characteristic/8": f"{ID}record/qms/doc.xml/Item/8",
        f"{ID}inspection/7": f"{ID}record/qms/doc.xml/Actual/7",
    }
    locators = [(q[0][1], q[2][1]) for q in out if q[1] == ("I", f"{TL}locator")]
    assert sorted(locators) == [
        (f"{ID}record/qms/doc.xml/Actual/7", "(/r/actuals/actual)[1]"),
        (f"{ID}record/qms/doc.xml/Item/7", "(/r/items/item)[1]"),
        (f"{ID}record/qms/doc.xml/Item/8", "(/r/items/item)[2]"),
    ]


def test_blank_node_triples_maps_get_stable_record_names(tmp_path: Path) -> None:
    rows = "partNumber,name\nP-1,Bolt\n"
    write(tmp_path / "parts.csv", rows)
    text = (
        PREFIXES
        + f"""
[] rml:logicalSource [ rml:source "parts.csv" ; rml:referenceFormulation ql:CSV ] ;
  rr:subjectMap [ rr:template "{ID}part/{{partNumber}}" ] ;
  rr:predicateObjectMap [ rr:predicate tl:name ; rr:objectMap [ rml:reference "name" ] ] .
"""
    )
    path = write(tmp_path / "m.rml.ttl", text)
    runs = [
        {q[2][1] for q in quads(load_mapping(path).execute(lineage_system="plm")) if q[1][1] == f"{TL}sourceRecord"}
        for _ in range(2)
    ]
    assert runs[0] == runs[1] and len(runs[0]) == 1
    (record,) = runs[0]
    assert record.startswith(f"{ID}record/plm/parts.csv/map-") and record.endswith("/P-1")


# -- output de-duplication and stats ---------------------------------------------------------------------------
def test_one_record_never_emits_the_same_line_twice(tmp_path: Path) -> None:
    """Two maps typing the same subject, a repeated predicate-object and a repeated XPath value: one line each."""
    write(tmp_path / "doc.xml", "<r><lot><id>L1</id><tag>a</tag><tag>a</tag><tag>b</tag></lot></r>")
    path = write(
        tmp_path / "m.rml.ttl",
        PREFIXES
        + f"""
<#A> rml:logicalSource [ rml:source "doc.xml" ; rml:referenceFormulation ql:XPath ; rml:iterator "/r/lot" ] ;
  rr:subjectMap [ rr:template "{ID}lot/{{id}}" ; rr:class tl:MaterialLot ] ;
  rr:predicateObjectMap [ rr:predicate tl:lotNumber ; rr:objectMap [ rml:reference "id" ] ] ,
    [ rr:predicate tl:lotNumber ; rr:objectMap [ rml:reference "id" ] ] ,
    [ rr:predicate tl:location ; rr:objectMap [ rml:reference "tag" ] ] .
<#B> rml:logicalSource [ rml:source "doc.xml" ; rml:referenceFormulation ql:XPath ; rml:iterator "/r/lot" ] ;
  rr:subjectMap [ rr:template "{ID}lot/{{id}}" ; rr:class tl:MaterialLot ] .
""",
    )
    run = load_mapping(path).execute()
    lines = list(run)
    assert len(lines) == len(set(lines)) == 4, lines  # type, lotNumber, location a, location b
    assert run.stats.triples == 4


def test_csv_record_with_a_repeated_column_emits_it_once(tmp_path: Path) -> None:
    path = rml_csv(tmp_path, "partNumber,name\nP-1,Bolt\n")
    text = path.read_text().replace(
        "rr:predicateObjectMap [",
        'rr:predicateObjectMap [ rr:predicate tl:name ; rr:objectMap [ rml:reference "name" ] ] , [',
    )
    run = load_mapping(write(path, text)).execute(lineage_system="plm")
    lines = list(run)
    assert len(lines) == len(set(lines)) and sum(f"<{TL}name>" in line for line in lines) == 1
    assert run.stats.triples == len(lines) == 8  # type, name, sourceRecord and five lineage lines


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


@pytest.mark.parametrize("key", ["null", '"null"'])
def test_yarrrml_null_values_with_unquoted_or_quoted_key(tmp_path: Path, key: str) -> None:
    """PyYAML reads an unquoted ``null:`` key as None; it still declares the source's null values."""
    write(tmp_path / "parts.csv", "partNumber,name\nP-1,NA\nP-2,Nut\n")
    text = f"""
prefixes:
  tl: "https://w3id.org/threadline/ontology#"
mappings:
  part:
    sources:
      - access: parts.csv
        referenceFormulation: csv
        {key}: ["NA"]
    s: {ID}part/$(partNumber)
    po: [[tl:name, $(name)]]
"""
    out = "".join(load_mapping(write(tmp_path / "m.yml", text)).execute())
    assert out == f'<{ID}part/P-2> <{TL}name> "Nut" .\n'


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
    assert err.value.locator == "(/b2mml:MaterialInformation/b2mml:MaterialLot)[2]"
    run = mapping.execute(on_error="skip")
    out = "".join(run)
    assert out == f'<{ID}lot/L-1> <{TL}quantity> "5"^^<http://www.w3.org/2001/XMLSchema#decimal> .\n'


def test_xml_locator_selects_exactly_the_record(tmp_path: Path) -> None:
    """``/r/g/i[3]`` would mean "third i of its g" (nothing here); ``(/r/g/i)[3]`` is the third record."""
    from lxml import etree

    doc = write(tmp_path / "doc.xml", "<r><g><i>1</i><i>2</i></g><g><i>x</i><i>4</i></g></r>")
    path = write(
        tmp_path / "m.rml.ttl",
        PREFIXES
        + f"""
<#I> rml:logicalSource [ rml:source "doc.xml" ; rml:referenceFormulation ql:XPath ; rml:iterator "/r/g/i" ] ;
  rr:subjectMap [ rr:template "{ID}lot/{{text()}}" ] ;
  rr:predicateObjectMap [ rr:predicate tl:quantity ;
                          rr:objectMap [ rml:reference "text()" ; rr:datatype xsd:decimal ] ] .
""",
    )
    with pytest.raises(SourceError) as err:
        list(load_mapping(path).execute())
    assert err.value.locator == "(/r/g/i)[3]"
    tree = etree.parse(str(doc))
    assert [el.text for el in tree.xpath(err.value.locator)] == ["x"]
    out = quads(load_mapping(path).execute(on_error="skip", lineage_system="mes"))
    records = {q[0][1]: q[2][1] for q in out if q[1] == ("I", f"{TL}sourceRecord")}
    locators = {q[0][1]: q[2][1] for q in out if q[1] == ("I", f"{TL}locator")}
    assert len(records) == 3
    for subject, record in records.items():
        [element] = tree.xpath(locators[record])
        assert subject == f"{ID}lot/{element.text}"


ID_REFERENCES_XML = """<doc>
  <defs><def id="d1"><min>4.2</min><max>4.8</max></def><def id="d2"><min>-0.13</min><max>0.13</max></def></defs>
  <noms><nom id="n1"><def>d1</def><target>4.5</target></nom><nom id="n2"><def>d2</def><target>25.4</target></nom>
    <nom id="n3"><def>d2</def></nom></noms>
  <items><item id="i1"><nom>n1</nom></item><item id="i2"><nom>n2</nom></item><item id="i3"><nom>n3</nom></item></items>
</doc>
"""


def test_xpath_references_see_the_record_as_a_variable(tmp_path: Path) -> None:
    """``$record`` lets a reference follow id references; XPath arithmetic gives decimals, NaN no value."""
    write(tmp_path / "doc.xml", ID_REFERENCES_XML)
    nom = "/doc/noms/nom[@id = $record/nom]"
    definition = f"/doc/defs/def[@id = {nom}/def]"
    path = write(
        tmp_path / "m.rml.ttl",
        PREFIXES
        + f"""
<#C> rml:logicalSource [ rml:source "doc.xml" ; rml:referenceFormulation ql:XPath ; rml:iterator "/doc/items/item" ] ;
  rr:subjectMap [ rr:template "{ID}characteristic/{{@id}}" ] ;
  rr:predicateObjectMap
    [ rr:predicate tl:nominal ; rr:objectMap [ rml:reference "{nom}/target" ; rr:datatype xsd:decimal ] ] ,
    [ rr:predicate tl:upperLimit ; rr:objectMap [ rml:reference "{nom}/target + {definition}/max" ;
                                                   rr:datatype xsd:decimal ] ] .
""",
    )
    out = quads(load_mapping(path).execute())
    got = {(q[0][1].rsplit("/", 1)[1], q[1][1].rsplit("#", 1)[1], q[2][1]) for q in out}
    assert got == {
        ("i1", "nominal", "4.5"),
        ("i1", "upperLimit", "9.3"),
        ("i2", "nominal", "25.4"),
        ("i2", "upperLimit", "25.53"),  # a double would print 25.529999999999998
    }, "i3 has no target: no nominal and no limit (NaN is no value)"


def test_named_xpath_reference_formulation_with_namespace(tmp_path: Path) -> None:
    """``rml:referenceFormulation <#x>`` with ``<#x> a rml:XPathReferenceFormulation ; rml:namespace [...]``."""
    write(tmp_path / "lots.xml", B2MML)
    path = write(
        tmp_path / "m.rml.ttl",
        f"""@prefix rml: <http://w3id.org/rml/> .
@prefix tl: <https://w3id.org/threadline/ontology#> .
<#xpath> a rml:XPathReferenceFormulation ;
  rml:namespace [ a rml:Namespace ; rml:namespacePrefix "m" ; rml:namespaceURL "http://www.mesa.org/xml/B2MML" ] .
<#Lot> a rml:TriplesMap ;
  rml:logicalSource [ rml:source [ a rml:FilePath ; rml:path "lots.xml" ] ; rml:referenceFormulation <#xpath> ;
                      rml:iterator "/m:MaterialInformation/m:MaterialLot" ] ;
  rml:subjectMap [ rml:template "{ID}lot/{{m:ID}}" ] ;
  rml:predicateObjectMap [ rml:predicate tl:lotNumber ; rml:objectMap [ rml:reference "m:ID" ] ] .
""",
    )
    out = "".join(load_mapping(path).execute())
    assert out.count(f"<{TL}lotNumber>") == 2 and f'<{ID}lot/L-2> <{TL}lotNumber> "L-2" .' in out


# -- joins and streaming ------------------------------------------------------------------------------------
def test_join_reads_parent_source_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from threadline.mapping import csv_source

    write(tmp_path / "parts.csv", "partNumber,name,serialized,uom\n" + "".join(f"P-{i},n,true,EA\n" for i in range(50)))
    items = ",".join(f'{{"lot": "L{i}", "qty": "1", "part": "P-{i % 50}", "receipt": "R"}}' for i in range(200))
    write(tmp_path / "lots.json", f'{{"items": [{items}]}}')
    opened: list[str] = []
    original = csv_source.CsvSource.prepare

    def counting(self: csv_source.CsvSource, references: object) -> None:
        opened.append(self.file_name)
        original(self, references)  # type: ignore[arg-type]

    monkeypatch.setattr(csv_source.CsvSource, "prepare", counting)
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
