"""The Threadline ontology as the engine sees it: where its Turtle lives, its terms, and its offline HTML page.

The page is rendered here rather than with pyLODE or Widoco because plants are air-gapped: those tools link
stylesheets, fonts or scripts from the internet (or need Java), while this page must be one self-contained
document with inline CSS and the class diagram inlined. rdflib does all the RDF parsing.
"""

from __future__ import annotations

import functools
import html
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
    package = Path(__file__).resolve().parent
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
        for iri in sorted(s for s in graph.subjects(RDF.type, rdf_type) if str(s).startswith(tl)):
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


# --- HTML page ------------------------------------------------------------------------------------------------------

_ALIGNMENT_PREDICATES = {
    RDFS.subClassOf: "subclass of",
    RDFS.subPropertyOf: "subproperty of",
    SKOS.exactMatch: "exact match",
    SKOS.closeMatch: "close match",
    SKOS.broadMatch: "broad match",
    SKOS.relatedMatch: "related match",
    RDFS.seeAlso: "see also",
}

_CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans",Arial,sans-serif;margin:0;color:#1d2330}
header,main{max-width:1200px;margin:0 auto;padding:0 24px}
header{padding-top:24px;border-bottom:1px solid #d8dde6}
h1{font-size:28px;margin:0 0 8px}h2{margin-top:40px;border-bottom:2px solid #d8dde6}h3{margin:0 0 4px}
code{font:13px/1.4 "DejaVu Sans Mono",Menlo,Consolas,monospace;background:#f2f4f8;padding:1px 4px;border-radius:3px}
nav ul{columns:3;list-style:none;padding-left:0}nav li{break-inside:avoid}
nav h3{margin-top:16px;font-size:15px;text-transform:capitalize}
.term{border:1px solid #d8dde6;border-radius:6px;padding:12px 16px;margin:16px 0}
.term:target{border-color:#1f5fa8;box-shadow:0 0 0 3px #cfe0f5}
.def{margin:4px 0 8px}dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:8px 0}
dt{font-weight:600;color:#4a5468}dd{margin:0}
table{border-collapse:collapse;width:100%;margin-top:8px;font-size:14px}
th,td{text-align:left;vertical-align:top;border-top:1px solid #e5e8ee;padding:4px 8px}th{color:#4a5468}
.area{display:inline-block;font-size:12px;padding:0 6px;border-radius:8px;background:#eef1f6;color:#4a5468}
.diagram{overflow:auto;border:1px solid #d8dde6;border-radius:6px}.diagram svg{display:block;max-width:none}
"""


def ontology_html() -> str:
    """The ontology as one offline HTML page (inline CSS, inline SVG diagram, no external assets)."""
    return _page(str(ontology_dir().resolve()))


@functools.cache
def _page(directory: str) -> str:  # cached per directory: the files do not change while the server runs
    from threadline.diagram import render_svg

    vocab = vocabulary(load_graph())
    aligned = load_graph(alignments=True)
    parts = [
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>\n",
        f"<title>{_e(vocab.title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n",
        _header(vocab),
        "<main>\n",
        _toc(vocab),
        "<section id='diagram'><h2>Class diagram</h2>\n<div class='diagram'>",
        render_svg(vocab),
        "</div></section>\n<section id='classes'><h2>Classes</h2>\n",
        *(_class_section(vocab, term, aligned) for term in vocab.classes),
        "</section>\n",
    ]
    for kind, heading in (("object", "Object properties"), ("datatype", "Datatype properties")):
        parts.append(f"<section id='{kind}-properties'><h2>{heading}</h2>\n")
        parts.extend(_property_section(term, aligned) for term in vocab.properties if term.kind == kind)
        parts.append("</section>\n")
    parts.append("<section id='annotation-properties'><h2>Annotation properties</h2>\n")
    parts.extend(_property_section(term, aligned) for term in vocab.properties if term.kind == "annotation")
    parts.append("</section>\n</main>\n</body>\n</html>\n")
    return "".join(parts)


def _e(value: str) -> str:
    return html.escape(value, quote=True)


def _ref(iri: str) -> str:
    """A link to the term's section when it is ours, else the prefixed name as code."""
    if iri.startswith(str(TL)):
        name = local_name(iri)
        return f"<a href='#{_e(name)}'><code>tl:{_e(name)}</code></a>"
    return f"<code title='{_e(iri)}'>{_e(curie(iri))}</code>"


def _refs(iris: tuple[str, ...], empty: str = "—", sep: str = ", ") -> str:
    return sep.join(_ref(iri) for iri in iris) if iris else _e(empty)


def _header(vocab: Vocabulary) -> str:
    return (
        f"<header><h1>{_e(vocab.title)}</h1>\n<p>{_e(vocab.description)}</p>\n<dl>"
        f"<dt>Ontology IRI</dt><dd><code>{_e(str(ONTOLOGY_IRI))}</code></dd>"
        f"<dt>Namespace</dt><dd><code>tl:</code> = <code>{_e(str(TL))}</code></dd>"
        f"<dt>Version</dt><dd>{_e(vocab.version)}</dd>"
        f"<dt>License</dt><dd><code>{_e(vocab.license)}</code></dd>"
        f"<dt>Terms</dt><dd>{len(vocab.classes)} classes, "
        f"{sum(p.kind != 'annotation' for p in vocab.properties)} properties</dd></dl></header>\n"
    )


def _toc(vocab: Vocabulary) -> str:
    out = ["<nav id='toc'><h2>Contents</h2>\n<p><a href='#diagram'>Class diagram</a></p>\n"]
    areas = list(dict.fromkeys(term.area for term in vocab.classes))
    for area in areas:
        links = "".join(f"<li>{_ref(t.iri)}</li>" for t in vocab.classes if t.area == area)
        out.append(f"<h3>Classes: {_e(area)}</h3><ul>{links}</ul>\n")
    for kind in ("object", "datatype", "annotation"):
        links = "".join(f"<li>{_ref(t.iri)}</li>" for t in vocab.properties if t.kind == kind)
        out.append(f"<h3><a href='#{kind}-properties'>{kind.capitalize()} properties</a></h3><ul>{links}</ul>\n")
    out.append("</nav>\n")
    return "".join(out)


def _alignments(graph: Graph, iri: str) -> str:
    rows = []
    for predicate, label in _ALIGNMENT_PREDICATES.items():
        for target in sorted(graph.objects(URIRef(iri), predicate), key=str):
            if isinstance(target, URIRef) and not str(target).startswith(str(TL)):
                rows.append(f"{_e(label)} {_ref(str(target))}")
            elif isinstance(target, BNode) and graph.value(target, OWL.onProperty) is not None:
                on = str(graph.value(target, OWL.onProperty))
                some = str(graph.value(target, OWL.someValuesFrom))
                rows.append(f"{_e(label)} {_ref(on)} <em>some</em> {_ref(some)}")
    return "<br>".join(rows)


def _class_section(vocab: Vocabulary, term: ClassTerm, aligned: Graph) -> str:
    own = [p for p in vocab.properties if term.iri in p.domains]
    incoming = [p for p in vocab.properties if p.kind == "object" and term.iri in p.ranges]
    rows = "".join(
        f"<tr><td>{_ref(p.iri)}</td><td>{_refs(p.ranges, 'any', ' or ')}</td>"
        f"<td>{'functional' if p.functional else 'repeatable'}</td><td>{_e(p.definition)}</td></tr>"
        for p in own
    )
    table = (
        "<table><tr><th>Property</th><th>Range</th><th>Values</th><th>Definition</th></tr>" + rows + "</table>"
        if own
        else ""
    )
    details = [
        ("IRI", f"<code>{_e(term.iri)}</code>"),
        ("Data IRIs", f"<code>{_e(term.id_template)}</code>" if term.id_template else ""),
        ("Subclass of", _refs(tuple(s for s in term.superclasses if s.startswith(str(TL))), "")),
        ("Subclasses", _refs(term.subclasses, "")),
        ("Used as range by", _refs(tuple(p.iri for p in incoming), "")),
        ("Alignments", _alignments(aligned, term.iri)),
    ]
    dl = "".join(f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in details if v)
    return (
        f"<article class='term' id='{_e(term.name)}'><h3>{_e(term.label)} <code>tl:{_e(term.name)}</code> "
        f"<span class='area'>{_e(term.area)}</span></h3>\n<p class='def'>{_e(term.definition)}</p>"
        f"<dl>{dl}</dl>{table}</article>\n"
    )


def _property_section(term: PropertyTerm, aligned: Graph) -> str:
    details = [
        ("IRI", f"<code>{_e(term.iri)}</code>"),
        ("Domain", _refs(term.domains, "", " or ")),
        ("Range", _refs(term.ranges, "", " or ")),
        ("Characteristics", "functional (at most one value)" if term.functional else ""),
        ("Subproperty of", _refs(term.superproperties, "")),
        ("Allowed values", ", ".join(f"<code>{_e(v)}</code>" for v in term.allowed_values)),
        ("Alignments", _alignments(aligned, term.iri)),
    ]
    dl = "".join(f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in details if v)
    return (
        f"<article class='term' id='{_e(term.name)}'><h3>{_e(term.label)} <code>tl:{_e(term.name)}</code></h3>\n"
        f"<p class='def'>{_e(term.definition)}</p><dl>{dl}</dl></article>\n"
    )
