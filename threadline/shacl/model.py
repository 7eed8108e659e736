"""One result model for both engines, and the conversions between pyoxigraph and rdflib terms.

Results carry rdflib terms because the shapes graph, the SHACL report graph and pyshacl all live in rdflib;
the native engine converts the store's pyoxigraph terms once, here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import overload

import pyoxigraph as ox
from rdflib import BNode, Literal, Namespace, URIRef
from rdflib.term import Node

SH = Namespace("http://www.w3.org/ns/shacl#")
TL = Namespace("https://w3id.org/threadline/ontology#")
XSD_NS = "http://www.w3.org/2001/XMLSchema#"

ANNOTATIONS = ("clause", "ownerRole", "fixHint", "profile")


@dataclass(frozen=True)
class Result:
    """One SHACL validation result, as both engines report it."""

    focus: Node
    component: Node  # an IRI from our engine; whatever term pyshacl's or a stored report names
    shape: Node
    severity: Node = SH.Violation  # as the shape states it (sh:severity is an IRI in valid shapes)
    path: Node | None = None
    value: Node | None = None
    messages: tuple[Node, ...] = ()  # literals in a valid report

    def key(self) -> tuple[str, str, str, str, str]:
        """Identity used to compare engines: focus, path, value, source shape, component."""
        return (
            term_key(self.focus),
            term_key(self.path),
            term_key(self.value),
            term_key(self.shape),
            str(self.component),
        )


@dataclass
class Outcome:
    """All results of one run, plus what the native engine handed to pyshacl and why."""

    results: list[Result] = field(default_factory=list)
    engine: str = "native"
    fallback: dict[str, str] = field(default_factory=dict)  # shape -> reason
    seconds: float = 0.0

    @property
    def conforms(self) -> bool:
        return not self.results


def term_key(term: Node | None) -> str:
    """A comparable string for a term: blank nodes collapse (their labels differ between stores)."""
    if term is None:
        return ""
    if isinstance(term, BNode):
        return "_:"
    if isinstance(term, Literal):
        return f"{term!s}|{term.datatype or ''}|{term.language or ''}"
    return str(term)


OxTerm = ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple  # what a pyoxigraph quad or result cell holds


@overload
def to_rdflib(term: OxTerm, normalize: bool = True) -> Node: ...
@overload
def to_rdflib(term: None, normalize: bool = True) -> None: ...
@overload
def to_rdflib(term: OxTerm | None, normalize: bool = True) -> Node | None: ...
def to_rdflib(term: OxTerm | None, normalize: bool = True) -> Node | None:
    """Convert a term; ``normalize=False`` keeps lexical forms (shapes: \"1\"^^xsd:boolean is not true). A
    quoted triple (RDF-star) has no rdflib term here: refused."""
    if term is None:
        return None
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return Literal(term.value, lang=term.language)
        datatype = term.datatype.value
        if datatype == XSD_NS + "string":
            return Literal(term.value)
        return Literal(term.value, datatype=URIRef(datatype), normalize=normalize)
    raise TypeError(f"unsupported term {term!r}")


def to_sparql(term: Node) -> str:
    """A term as SPARQL text (IRIs and literals; blank nodes cannot be named in a query)."""
    if isinstance(term, URIRef):
        return str(ox.NamedNode(str(term)))
    if isinstance(term, Literal):
        if term.language:
            return str(ox.Literal(str(term), language=term.language))
        if term.datatype is not None:
            return str(ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype))))
        return str(ox.Literal(str(term)))
    raise ValueError(f"a blank node cannot appear in a compiled query: {term!r}")
