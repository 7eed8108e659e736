"""docs/validation.md documents every shape in shapes/, and every shape states its severity."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import RDF, BNode, Graph, URIRef
from rdflib.term import Node

from threadline.shacl.compiler import items
from threadline.shacl.model import SH, TL
from threadline.shacl.shapes import parse_rdf

REPO = Path(__file__).resolve().parent.parent
SHAPE_FILES = sorted((REPO / "shapes").glob("*.ttl"))
DOC = REPO / "docs" / "validation.md"


def _shapes(graph: Graph) -> set[Node]:
    found = set(graph.subjects(RDF.type, SH.NodeShape)) | set(graph.subjects(RDF.type, SH.PropertyShape))
    found |= set(graph.subjects(SH.path, None))
    for predicate in (SH.property, SH.node, SH.qualifiedValueShape, SH["not"]):
        found |= set(graph.objects(None, predicate))
    for predicate in (SH["or"], SH["and"], SH.xone):
        for members in graph.objects(None, predicate):
            found |= set(items(graph, members))
    return found


@pytest.mark.parametrize("path", SHAPE_FILES, ids=lambda p: p.name)
def test_every_shape_is_documented(path: Path) -> None:
    text = DOC.read_text(encoding="utf-8")
    graph = parse_rdf(path)
    missing = []
    for shape in _shapes(graph):
        if isinstance(shape, URIRef):
            name = f"`{path.stem}:{str(shape).rsplit('#', 1)[1]}`"
            if name not in text:
                missing.append(name)
        else:
            message = graph.value(shape, SH.message)
            if message is not None and str(message) not in text:
                missing.append(f"anonymous shape with message {str(message)!r}")
    assert not missing, f"{DOC.name} does not document: " + ", ".join(sorted(missing))


@pytest.mark.parametrize("path", SHAPE_FILES, ids=lambda p: p.name)
def test_every_shape_states_severity_and_reporting_shapes_are_annotated(path: Path) -> None:
    graph = parse_rdf(path)
    problems = []
    for shape in _shapes(graph):
        label = shape.n3() if not isinstance(shape, BNode) else f"[{graph.value(shape, SH.path)}]"
        if graph.value(shape, SH.severity) is None:
            problems.append(f"{label}: no sh:severity")
        if graph.value(shape, SH.message) is not None:
            for term in (TL.clause, TL.ownerRole, TL.fixHint):
                if graph.value(shape, term) is None:
                    problems.append(f"{label}: has a message but no {term.n3(graph.namespace_manager)}")
    assert not problems, "\n".join(sorted(problems))
