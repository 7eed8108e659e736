"""The Turtle report and the stored report page: Threadline's annotations go on results, never on the shapes
or data copied into the report, and a stored report still names every check readably."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
from rdflib import RDFS, BNode, Graph, Literal

from threadline.shacl.engine import NativeEngine
from threadline.shacl.model import SH, TL
from threadline.shacl.report import load_stored_report, report_graph, store_describer, store_evidence, stored_page
from threadline.shacl.shapes import load_shapes
from threadline.store import EmbeddedStore

SHAPES = """@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix tl: <https://w3id.org/threadline/ontology#> .
@prefix ex: <http://example.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
ex:UnitShape a sh:NodeShape ; rdfs:label "Unit record" ; sh:targetClass ex:Unit ;
  tl:clause "AS9100D 8.5.2" ; tl:ownerRole "Quality engineer" ; tl:fixHint "Give the unit a serial." ;
  sh:property [ sh:path ex:serial ; sh:minCount 1 ; tl:clause "AS9100D 8.5.2" ] .
ex:PlainShape a sh:NodeShape ; sh:targetClass ex:Part ;
  sh:property [ sh:path ex:lot ; sh:minCount 1 ] .
"""
DATA = b"""<http://example.org/u1> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://example.org/Unit> .
<http://example.org/p1> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://example.org/Part> .
"""


def _run(tmp_path: Path) -> tuple[EmbeddedStore, object, object]:
    (tmp_path / "shapes.ttl").write_text(SHAPES)
    shapes = load_shapes([tmp_path / "shapes.ttl"])
    store = EmbeddedStore(None)
    store.load(DATA, "urn:test:data", ox.RdfFormat.N_TRIPLES)
    return store, shapes, NativeEngine(store, shapes).validate()


def test_copied_shapes_stay_as_written_and_results_carry_the_label(tmp_path: Path) -> None:
    store, shapes, outcome = _run(tmp_path)
    report, _ = report_graph(outcome, shapes, store_describer(store))  # type: ignore[arg-type]
    report = Graph().parse(data=report.serialize(format="turtle"), format="turtle")
    results = {str(report.value(r, SH.focusNode)): r for r in report.subjects(SH.sourceShape, None)}
    assert set(results) == {"http://example.org/u1", "http://example.org/p1"}
    for result in results.values():
        shape = report.value(result, SH.sourceShape)
        assert isinstance(shape, BNode)
        # the copy is exactly the shapes graph's description of the blank property shape: nothing added
        assert set(report.predicates(shape, None)) == set(shapes.graph.predicates(_source(shapes, report, shape), None))
        assert (shape, RDFS.label, None) not in report
    annotated, plain = results["http://example.org/u1"], results["http://example.org/p1"]
    assert report.value(annotated, TL.shapeLabel) == Literal("Unit record (serial)")
    assert report.value(annotated, TL.clause) == Literal("AS9100D 8.5.2")
    assert not [p for p in report.predicates(plain, None) if str(p).startswith(str(TL))]  # a plain SHACL result


def test_stored_page_names_checks_from_the_stored_labels(tmp_path: Path) -> None:
    store, shapes, outcome = _run(tmp_path)
    evidence = store_evidence(store, outcome, shapes, agent="Łukasz")  # type: ignore[arg-type]
    stored = load_stored_report(store, evidence.graph)
    assert not list(stored.triples((None, RDFS.label, None)))
    page = stored_page(store, evidence.graph)
    assert page is not None and "Unit record (serial)" in page and "AS9100D 8.5.2" in page


def _source(shapes, report: Graph, copy: BNode):  # type: ignore[no-untyped-def]
    """The blank property shape of the shapes graph that ``copy`` is a copy of (same path)."""
    path = report.value(copy, SH.path)
    return next(s for s in shapes.graph.subjects(SH.path, path))
