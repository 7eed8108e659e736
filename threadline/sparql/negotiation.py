"""Content negotiation and the result serialisers of the SPARQL endpoint.

Formats follow what real clients send rather than only the spec's examples: SPARQLWrapper asks for XML and also
adds ``format``/``output``/``results`` parameters (short names, honoured here and meaning "RDF/XML" for graph
queries), rdflib's ``SPARQLStore`` asks for XML, sparql-dataframe for CSV, YASGUI for JSON. A browser that asks
for ``text/html`` without a query gets the editor page (decided in routes).

Solution sequences are serialised here by hand, in the worker that runs the query: pyoxigraph's serialisers
only accept its own live result iterator, whereas the endpoint must stop at the row limit, and serialise answers
that came from a remote store the same way. Graphs use pyoxigraph's serialisers.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import BinaryIO
from xml.sax.saxutils import escape, quoteattr

import pyoxigraph as ox

from threadline.errors import QueryError
from threadline.namespaces import PREFIXES

JSON = "application/sparql-results+json"
XML = "application/sparql-results+xml"
CSV = "text/csv"
TSV = "text/tab-separated-values"
TURTLE = "text/turtle"
NTRIPLES = "application/n-triples"
JSONLD = "application/ld+json"
RDFXML = "application/rdf+xml"

# ``id:`` is left out: data keys hold '/', which Turtle would have to escape (``id:unit\\/SN-1``).
TURTLE_PREFIXES = {name: iri for name, iri in PREFIXES.items() if name != "id"}
RESULT_TYPES = [JSON, XML, CSV, TSV]
GRAPH_TYPES = [TURTLE, NTRIPLES, JSONLD, RDFXML]
GRAPH_FORMATS = {
    TURTLE: ox.RdfFormat.TURTLE,
    NTRIPLES: ox.RdfFormat.N_TRIPLES,
    JSONLD: ox.RdfFormat.JSON_LD,
    RDFXML: ox.RdfFormat.RDF_XML,
}
# Other names clients use for the same formats.
ALIASES = {
    "application/json": (JSON, JSONLD),
    "application/xml": (XML, RDFXML),
    "text/xml": (XML, RDFXML),
    "text/plain": (TSV, NTRIPLES),
    "application/x-turtle": (None, TURTLE),
    "text/n3": (None, TURTLE),
}
# Short names of the format/output/results parameters: (for results, for graphs).
SHORT = {
    "json": (JSON, JSONLD),
    "xml": (XML, RDFXML),
    "csv": (CSV, None),
    "tsv": (TSV, None),
    "turtle": (None, TURTLE),
    "ttl": (None, TURTLE),
    "n3": (None, TURTLE),
    "nt": (None, NTRIPLES),
    "ntriples": (None, NTRIPLES),
    "n-triples": (None, NTRIPLES),
    "rdf": (None, RDFXML),
    "rdf+xml": (None, RDFXML),
    "json-ld": (None, JSONLD),
    "jsonld": (None, JSONLD),
}


class NotAcceptable(QueryError):
    """No format the client accepts fits the query's form (HTTP 406)."""

    status = 406


def parse_accept(header: str | None) -> list[tuple[str, float]]:
    """``Accept`` as (media range, q) pairs; an absent header accepts anything."""
    if not header or not header.strip():
        return [("*/*", 1.0)]
    ranges = []
    for part in header.split(","):
        pieces = [p.strip() for p in part.split(";")]
        media = pieces[0].lower()
        if not media:
            continue
        q = 1.0
        for param in pieces[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        ranges.append((media, q))
    return ranges or [("*/*", 1.0)]


def quality(media: str, ranges: list[tuple[str, float]], names: Sequence[str] = ()) -> float:
    """q of ``media`` (or one of its alias ``names``) under the most specific matching range."""
    best, specificity = 0.0, -1
    for pattern, q in ranges:
        kind, _, sub = pattern.partition("/")
        for candidate in (media, *names):
            ckind = candidate.partition("/")[0]
            if pattern == candidate:
                level = 2
            elif sub == "*" and kind == ckind:
                level = 1
            elif pattern == "*/*":
                level = 0
            else:
                continue
            if level > specificity or (level == specificity and q > best):
                best, specificity = q, level
    return best


def choose(form: str, accept: str | None, short_name: str | None = None) -> str:
    """The media type to answer ``form`` with, given ``Accept`` and an optional short format name."""
    graph = form in ("CONSTRUCT", "DESCRIBE")
    if short_name:
        pair = SHORT.get(short_name.strip().lower())
        if pair is None and "/" in short_name:  # some clients put a media type there
            accept = short_name
        elif pair is not None and pair[1 if graph else 0] is not None:
            return pair[1 if graph else 0]  # type: ignore[return-value]  # each pair holds media types (str)
    offered = GRAPH_TYPES if graph else RESULT_TYPES
    aliases = {media: [a for a, pair in ALIASES.items() if pair[1 if graph else 0] == media] for media in offered}
    try:
        return best(accept, offered, aliases)
    except NotAcceptable:
        raise NotAcceptable(
            f"cannot answer a {form} query in any of: {accept}; offered: {', '.join(offered)}"
        ) from None


def best(accept: str | None, offered: Sequence[str], aliases: Mapping[str, Sequence[str]] | None = None) -> str:
    """The offered media type the client prefers: highest q under its most specific matching range (so
    ``text/html;q=0`` refuses HTML even beside ``*/*``), ties going to the order offered (the first is the
    default for ``*/*`` and for no ``Accept`` at all). Every route that negotiates decides here, never by a
    substring of the header. Raises ``NotAcceptable`` (HTTP 406) when the client accepts none of them."""
    ranges = parse_accept(accept)
    scored = []
    for rank, media in enumerate(offered):
        q = quality(media, ranges, (aliases or {}).get(media, ()))
        if q > 0:
            scored.append((-q, rank, media))
    if not scored:
        raise NotAcceptable(f"none of the formats offered ({', '.join(offered)}) is acceptable to: {accept}")
    return min(scored)[2]


def prefers_page(accept: str | None) -> bool:
    """Whether a request without an operation gets the editor page rather than the service description: when
    the client names ``text/html`` and prefers it, by q-value, to every RDF format (``*/*`` alone, as curl sends,
    gets the description)."""
    ranges = parse_accept(accept)
    if not any(media == "text/html" for media, _ in ranges):
        return False
    graph_aliases = {media: [a for a, pair in ALIASES.items() if pair[1] == media] for media in GRAPH_TYPES}
    try:
        return best(accept, ["text/html", *GRAPH_TYPES], graph_aliases) == "text/html"
    except NotAcceptable:
        return False


def content_type(media: str) -> str:
    return f"{media}; charset=utf-8"


# -- solutions -------------------------------------------------------------------------------------------


def serialize_solutions(variables: Sequence[str], rows: Iterable[Sequence[object]], media: str) -> bytes:
    if media == JSON:
        return _json(variables, rows)
    if media == XML:
        return _xml(variables, rows)
    if media in TABLES:
        out = io.BytesIO()
        write_table(variables, rows, media, out)
        return out.getvalue()
    raise NotAcceptable(f"{media} is not a format for query solutions")


def serialize_boolean(value: bool, media: str) -> bytes:
    text = "true" if value else "false"
    if media == JSON:
        return json.dumps({"head": {}, "boolean": value}).encode()
    if media == XML:
        return (
            '<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">'
            f"<head/><boolean>{text}</boolean></sparql>\n"
        ).encode()
    # CSV/TSV define no boolean; answer with one column, as Jena and Virtuoso do.
    return (f"_askResult\r\n{text}\r\n" if media == CSV else f"?_askResult\n{text}\n").encode()


def serialize_graph(triples: Iterable[ox.Triple], media: str) -> bytes:
    fmt = GRAPH_FORMATS.get(media)
    if fmt is None:
        raise NotAcceptable(f"{media} is not a format for graphs")
    prefixes = TURTLE_PREFIXES if fmt == ox.RdfFormat.TURTLE else None
    return ox.serialize(triples, format=fmt, prefixes=prefixes) or b""


def _json_term(term: object) -> dict[str, object]:
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, ox.Literal):
        out: dict[str, object] = {"type": "literal", "value": term.value}
        if term.language:
            out["xml:lang"] = term.language
        elif term.datatype.value != "http://www.w3.org/2001/XMLSchema#string":
            out["datatype"] = term.datatype.value
        return out
    if isinstance(term, ox.Triple):
        return {
            "type": "triple",
            "value": {
                "subject": _json_term(term.subject),
                "predicate": _json_term(term.predicate),
                "object": _json_term(term.object),
            },
        }
    raise TypeError(f"not an RDF term: {term!r}")


def _json(variables: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    bindings = [
        {name: _json_term(term) for name, term in zip(variables, row, strict=True) if term is not None} for row in rows
    ]
    return json.dumps({"head": {"vars": list(variables)}, "results": {"bindings": bindings}}).encode()


def _xml_term(term: object) -> str:
    if isinstance(term, ox.NamedNode):
        return f"<uri>{escape(term.value)}</uri>"
    if isinstance(term, ox.BlankNode):
        return f"<bnode>{escape(term.value)}</bnode>"
    if isinstance(term, ox.Literal):
        if term.language:
            return f"<literal xml:lang={quoteattr(term.language)}>{escape(term.value)}</literal>"
        if term.datatype.value != "http://www.w3.org/2001/XMLSchema#string":
            return f"<literal datatype={quoteattr(term.datatype.value)}>{escape(term.value)}</literal>"
        return f"<literal>{escape(term.value)}</literal>"
    if isinstance(term, ox.Triple):
        return (
            f"<triple><subject>{_xml_term(term.subject)}</subject><predicate>{_xml_term(term.predicate)}"
            f"</predicate><object>{_xml_term(term.object)}</object></triple>"
        )
    raise TypeError(f"not an RDF term: {term!r}")


def _xml(variables: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    out = io.StringIO()
    out.write('<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#"><head>')
    out.writelines(f"<variable name={quoteattr(name)}/>" for name in variables)
    out.write("</head><results>")
    for row in rows:
        out.write("<result>")
        for name, term in zip(variables, row, strict=True):
            if term is not None:
                out.write(f"<binding name={quoteattr(name)}>{_xml_term(term)}</binding>")
        out.write("</result>")
    out.write("</results></sparql>\n")
    return out.getvalue().encode()


def _csv_value(term: object) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.BlankNode):
        return f"_:{term.value}"
    if isinstance(term, ox.Triple):
        return str(term)
    if isinstance(term, ox.NamedNode | ox.Literal):
        return term.value
    raise TypeError(f"not an RDF term: {term!r}")


TABLES = (CSV, TSV)  # the formats an answer can be written row by row to a file (``write_table``)


def write_table(variables: Sequence[str], rows: Iterable[Sequence[object]], media: str, out: BinaryIO) -> int:
    """Write solutions as CSV or TSV to ``out`` as they come (nothing is held but one row); returns the rows
    written. The endpoint spools such answers to a file, so their size is bounded by disk, not memory."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=False)
    count = 0
    try:
        if media == CSV:
            writer = csv.writer(text, lineterminator="\r\n")
            writer.writerow(variables)
            for row in rows:
                writer.writerow([_csv_value(term) for term in row])
                count += 1
        elif media == TSV:
            text.write("\t".join(f"?{name}" for name in variables) + "\n")
            for row in rows:
                text.write("\t".join("" if term is None else str(term) for term in row) + "\n")
                count += 1
        else:
            raise NotAcceptable(f"{media} is not a table format")
        text.flush()
    finally:
        text.detach()  # leave ``out`` open for the caller
    return count
