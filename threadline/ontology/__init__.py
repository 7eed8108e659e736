"""The Threadline ontology as the engine sees it: where its Turtle lives and what its terms are.

The offline HTML page (``threadline.ontology.page``) is rendered by hand rather than with pyLODE or Widoco
because plants are air-gapped: those tools link stylesheets, fonts or scripts from the internet (or need Java),
while this page must be one self-contained document. rdflib does all the RDF parsing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rdflib import OWL, RDF, RDFS, SKOS, BNode, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection

from threadline.errors import ConfigError

TL = Namespace("https://w3id.org/threadline/ontology#")
ONTOLOGY_IRI = URIRef("https://w3id.org/threadline/ontology")
ENV_DIR = "THREADLINE_ONTOLOGY_DIR"
ONTOLOGY_FILE = "threadline.ttl"
ALIGNMENTS_FILE = "alignments.ttl"

# Presentation grouping and order of the classes, shared by page and diagram. Unlisted subclasses follow their
# parent by name; unlisted top-level classes land in "other".
AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("supply", ("Supplier", "PurchaseOrder", "Receipt", "CertificateOfConformance", "MaterialLot")),
    (
        "design",
        ("Part", "PartRevision", "Document", "BOMLine", "ChangeOrder", "Routing", "RoutingStep", "Characteristic"),
    ),
    (
        "production",
        (
            "WorkOrder",
            "SegmentRequirement",
            "MaterialRequirement",
            "SerializedUnit",
            "OperationExecution",
            "Consumption",
            "Equipment",
            "Site",
            "Area",
            "WorkCenter",
            "WorkUnit",
            "Person",
        ),
    ),
    ("quality", ("InspectionResult", "Nonconformance", "Disposition", "CAPA", "ElectronicSignature")),
    ("provenance", ("IngestActivity", "SourceFile", "MappingFile", "SourceRecord")),
)

PREFIXES = {
    "https://w3id.org/threadline/ontology#": "tl",
    "http://www.w3.org/2001/XMLSchema#": "xsd",
    "http://www.w3.org/ns/prov#": "prov",
    "http://www.w3.org/2006/time#": "time",
    "http://qudt.org/schema/qudt/": "qudt",
    "https://spec.industrialontologies.org/ontology/construct/": "iof",
    "http://purl.obolibrary.org/obo/": "obo",
    "http://www.mesa.org/xml/B2MML#": "b2mml",
    "https://eclipse-esmf.github.io/ontologies/I4.0/": "esmf:",
}


def ontology_dir() -> Path:
    """Where threadline.ttl lives: $THREADLINE_ONTOLOGY_DIR, packaged data, or the repository's ontology/."""
    configured = os.environ.get(ENV_DIR)
    if configured:
        path = Path(configured)
        if not (path / ONTOLOGY_FILE).is_file():
            raise ConfigError(f"{ENV_DIR}={configured}: no {ONTOLOGY_FILE} in that directory")
        return path
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "_data" / "ontology", package.parent / "ontology"):
        if (candidate / ONTOLOGY_FILE).is_file():
            return candidate
    raise ConfigError(f"cannot find {ONTOLOGY_FILE}: set {ENV_DIR} to the folder holding it")


def ontology_turtle() -> str:
    """The ontology Turtle exactly as written (without alignments), for serving as text/turtle."""
    return (ontology_dir() / ONTOLOGY_FILE).read_text(encoding="utf-8")


def alignments_turtle() -> str:
    """The alignments Turtle exactly as written."""
    return (ontology_dir() / ALIGNMENTS_FILE).read_text(encoding="utf-8")


def load_graph(*, alignments: bool = False) -> Graph:
    """Parse the ontology (optionally with alignments) into an rdflib graph; a syntax error names the file."""
    graph = Graph()
    names = (ONTOLOGY_FILE, ALIGNMENTS_FILE) if alignments else (ONTOLOGY_FILE,)
    for name in names:
        path = ontology_dir() / name
        try:
            graph.parse(path, format="turtle")
        except Exception as exc:  # rdflib raises assorted parser errors; translate them here, once
            raise ConfigError(f"{path}: cannot parse ontology Turtle: {exc}") from exc
    return graph


def local_name(iri: str) -> str:
    return iri.rsplit("#", 1)[-1] if "#" in iri else iri.rstrip("/").rsplit("/", 1)[-1]


def curie(iri: str) -> str:
    """A prefixed name for display; unknown namespaces stay full IRIs."""
    for namespace, prefix in PREFIXES.items():
        if iri.startswith(namespace):
            rest = iri[len(namespace) :]
            return f"{prefix}{rest}" if prefix.endswith(":") else f"{prefix}:{rest}"
    return iri


@dataclass(frozen=True)
class ClassTerm:
    iri: str
    name: str
    label: str
    definition: str
    superclasses: tuple[str, ...]
    subclasses: tuple[str, ...]
    id_template: str
    area: str


@dataclass(frozen=True)
class PropertyTerm:
    iri: str
    name: str
    kind: str  # "object", "datatype" or "annotation"
    label: str
    definition: str
    domains: tuple[str, ...]
    ranges: tuple[str, ...]
    functional: bool
    superproperties: tuple[str, ...]
    allowed_values: tuple[str, ...]


@dataclass(frozen=True)
class Vocabulary:
    title: str
    version: str
    description: str
    license: str
    classes: tuple[ClassTerm, ...]
    properties: tuple[PropertyTerm, ...]

    def cls(self, name: str) -> ClassTerm:
        return next(term for term in self.classes if term.name == name)


def _text(graph: Graph, subject: URIRef, predicate: URIRef) -> str:
    values = sorted(str(value) for value in graph.objects(subject, predicate) if isinstance(value, Literal))
    return values[0] if values else ""


def _members(graph: Graph, node: object) -> tuple[str, ...]:
    """Named classes behind a domain/range: the class itself, or the members of an owl:unionOf."""
    if isinstance(node, URIRef):
        return (str(node),)
    if isinstance(node, BNode):
        union = graph.value(node, OWL.unionOf)
        if union is not None:
            return tuple(str(item) for item in Collection(graph, union) if isinstance(item, URIRef))
    return ()


def _area(name: str, parents: dict[str, tuple[str, ...]]) -> str:
    for area, names in AREAS:
        if name in names:
            return area
    for parent in parents.get(name, ()):
        if parent.startswith(str(TL)):
            return _area(local_name(parent), parents)
    return "other"


def _ordered(names: list[str], parents: dict[str, tuple[str, ...]]) -> list[str]:
    """Area order, then the order listed in AREAS, subclasses right after their parent, then by name."""
    listed = [name for _, members in AREAS for name in members]

    def key(name: str) -> tuple[int, int, str]:
        chain = name
        while chain not in listed and parents.get(chain):
            tl_parents = [p for p in parents[chain] if p.startswith(str(TL))]
            if not tl_parents:
                break
            chain = local_name(tl_parents[0])
        position = listed.index(chain) if chain in listed else len(listed)
        return (position, 0 if chain == name else 1, name)

    return sorted(names, key=key)


def vocabulary(graph: Graph | None = None) -> Vocabulary:
    """The ontology's terms in display order, with unions expanded to their member classes."""
    graph = graph if graph is not None else load_graph()
    tl = str(TL)
    class_iris = sorted(str(s) for s in graph.subjects(RDF.type, OWL.Class) if str(s).startswith(tl))
    parents = {
        local_name(iri): tuple(
            sorted(str(o) for o in graph.objects(URIRef(iri), RDFS.subClassOf) if isinstance(o, URIRef))
        )
        for iri in class_iris
    }
    classes = []
    for name in _ordered([local_name(iri) for iri in class_iris], parents):
        iri = URIRef(tl + name)
        classes.append(
            ClassTerm(
                iri=str(iri),
                name=name,
                label=_text(graph, iri, RDFS.label),
                definition=_text(graph, iri, SKOS.definition),
                superclasses=parents[name],
                subclasses=tuple(sorted(str(s) for s in graph.subjects(RDFS.subClassOf, iri) if isinstance(s, URIRef))),
                id_template=_text(graph, iri, TL.idTemplate),
                area=_area(name, parents),
            )
        )
    kinds = {OWL.ObjectProperty: "object", OWL.DatatypeProperty: "datatype", OWL.AnnotationProperty: "annotation"}
    properties = []
    for rdf_type, kind in kinds.items():
        for iri in sorted(s for s in graph.subjects(RDF.type, rdf_type) if str(s).startswith(tl)):  # type: ignore[assignment,type-var]  # the tl: subjects are URIRefs, which sort as strings
            properties.append(
                PropertyTerm(
                    iri=str(iri),
                    name=local_name(str(iri)),
                    kind=kind,
                    label=_text(graph, iri, RDFS.label),
                    definition=_text(graph, iri, SKOS.definition),
                    domains=tuple(m for node in graph.objects(iri, RDFS.domain) for m in _members(graph, node)),
                    ranges=tuple(m for node in graph.objects(iri, RDFS.range) for m in _members(graph, node)),
                    functional=(iri, RDF.type, OWL.FunctionalProperty) in graph,
                    superproperties=tuple(sorted(str(o) for o in graph.objects(iri, RDFS.subPropertyOf))),
                    allowed_values=tuple(sorted(str(v) for v in graph.objects(iri, TL.allowedValue))),
                )
            )
    return Vocabulary(
        title=_text(graph, ONTOLOGY_IRI, URIRef("http://purl.org/dc/terms/title")),
        version=_text(graph, ONTOLOGY_IRI, OWL.versionInfo),
        description=_text(graph, ONTOLOGY_IRI, URIRef("http://purl.org/dc/terms/description")),
        license=str(graph.value(ONTOLOGY_IRI, URIRef("http://purl.org/dc/terms/license")) or ""),
        classes=tuple(classes),
        properties=tuple(properties),
    )
