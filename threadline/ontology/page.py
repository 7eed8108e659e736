"""The ontology as a readable, self-contained HTML page (served at /ontology for browsers; works offline).

Built from the Turtle on each start (cached per ontology folder), with the class diagram inlined, so the page a
plant's engineers read is always the ontology the service runs on. Which of the two /ontology answers is chosen
by the route (``threadline.ontology.routes``).
"""

from __future__ import annotations

import functools
import html

from rdflib import OWL, RDFS, SKOS, BNode, Graph, URIRef

from threadline.ontology import (
    ONTOLOGY_IRI,
    TL,
    ClassTerm,
    PropertyTerm,
    Vocabulary,
    curie,
    load_graph,
    local_name,
    ontology_dir,
    vocabulary,
)
from threadline.ontology.diagram import render_svg

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
