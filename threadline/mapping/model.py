"""The one internal mapping model that RML, RML-Core and YARRRML documents are all translated into.

Readers validate the document's structure while building these objects, so the executor can assume a
well-formed model: every term map has exactly one of constant / reference / template (or is a blank node
without a value), every referencing object map names an existing triples map.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

TermKind = Literal["constant", "reference", "template", "none"]
TermType = Literal["iri", "uri", "unsafe_iri", "blank", "literal"]
Formulation = Literal["csv", "jsonpath", "xpath", "jsonl"]


@dataclass(frozen=True)
class TermMap:
    """How one RDF term is generated; for constants ``value`` is the IRI or the literal's lexical form."""

    kind: TermKind
    value: str = ""
    term_type: TermType | None = None
    datatype: str | None = None
    datatype_map: TermMap | None = None
    language: str | None = None
    language_map: TermMap | None = None


@dataclass(frozen=True)
class Join:
    child: TermMap
    parent: TermMap


@dataclass(frozen=True)
class RefObjectMap:
    parent: str
    joins: tuple[Join, ...] = ()


@dataclass(frozen=True)
class PredicateObjectMap:
    predicates: tuple[TermMap, ...]
    objects: tuple[TermMap | RefObjectMap, ...]
    graphs: tuple[TermMap, ...] = ()


@dataclass(frozen=True)
class LogicalSource:
    """Where records come from. ``location`` is the source as written in the mapping."""

    location: str
    formulation: Formulation
    iterator: str | None = None
    namespaces: tuple[tuple[str, str], ...] = ()
    delimiter: str = ","
    quotechar: str | None = '"'
    encoding: str = "utf-8"
    header: bool = True
    nulls: tuple[str, ...] = ()
    compression: str | None = None
    root: str = "mapping"  # "mapping" (mapping directory / base_dir) or "cwd"
    # Threadline declarations (tlm: in RML, plain keys in YARRRML): a source whose records may legitimately
    # number zero, and an XPath / JSON key naming the document's own identity (one QIF report) for batch keys.
    may_be_empty: bool = False
    identity: str | None = None

    @property
    def key(self) -> tuple[object, ...]:
        """Equal keys mean one pass over the data can serve every triples map reading that source."""
        return (
            self.location,
            self.formulation,
            self.iterator,
            self.namespaces,
            self.delimiter,
            self.quotechar,
            self.encoding,
            self.header,
            self.nulls,
            self.compression,
            self.root,
        )


@dataclass
class TriplesMap:
    name: str
    source: LogicalSource
    subject: TermMap
    classes: tuple[str, ...] = ()
    subject_graphs: tuple[TermMap, ...] = ()
    poms: list[PredicateObjectMap] = field(default_factory=list)
    base_iri: str | None = None
    label: str | None = None  # short stable name for lineage record IRIs; None for blank-node triples maps


@dataclass
class MappingDocument:
    path: str
    triples_maps: list[TriplesMap]
    base_iri: str | None = None
    natural_types: bool = False  # RML-Core: JSON numbers / booleans become xsd:integer / double / boolean
