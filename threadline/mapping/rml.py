"""Reader for RML mappings in Turtle: legacy RML (rml: semweb.mmlab.be + R2RML rr: + ql:) and RML-Core.

Both vocabularies describe the same things with different namespaces, so every lookup asks for a local
name in all of them; the structure is checked here (exactly one subject map, one value per term map,
legal term types, valid language tags) so that bad mappings fail at load time with the mapping's name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TypedDict

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import RDF
from rdflib.term import Node

from threadline.errors import MappingError
from threadline.mapping.model import (
    Formulation,
    Join,
    LogicalSource,
    MappingDocument,
    PredicateObjectMap,
    RefObjectMap,
    TermKind,
    TermMap,
    TermType,
    TriplesMap,
)
from threadline.mapping.nquads import XSD, valid_language

RR = Namespace("http://www.w3.org/ns/r2rml#")
RML_LEGACY = Namespace("http://semweb.mmlab.be/ns/rml#")
RML = Namespace("http://w3id.org/rml/")
QL = Namespace("http://semweb.mmlab.be/ns/ql#")
CSVW = Namespace("http://www.w3.org/ns/csvw#")
D2RQ = Namespace("http://www.wiwiss.fu-berlin.de/suhl/bizer/D2RQ/0.1#")
TLM = Namespace("https://w3id.org/threadline/mapping#")  # Threadline's own source declarations (mayBeEmpty, identity)
_NAMESPACES = (RML, RR, RML_LEGACY)

_TERM_TYPES: dict[str, TermType] = {
    "IRI": "iri",
    "URI": "uri",
    "UnsafeIRI": "unsafe_iri",
    "BlankNode": "blank",
    "Literal": "literal",
}
_FORMULATIONS: dict[str, Formulation] = {
    "CSV": "csv",
    "JSONPath": "jsonpath",
    "XPath": "xpath",
    "XPathReferenceFormulation": "xpath",
    "JSONPathReferenceFormulation": "jsonpath",
    "CSVReferenceFormulation": "csv",
}
_COMPRESSIONS = {"gzip": "gzip", "zip": "zip", "tarxz": "tarxz", "targz": "targz", "none": None}
_BASE = re.compile(r"^\s*(?:@base|BASE)\s*<([^>]*)>", re.MULTILINE | re.IGNORECASE)
DEFAULT_GRAPH = ""


class SourceOptions(TypedDict, total=False):
    """What a source description may say beyond its location (``LogicalSource``'s fields of the same names)."""

    delimiter: str
    quotechar: str | None
    encoding: str
    header: bool
    compression: str | None
    root: str
    may_be_empty: bool
    identity: str


def _local(term: Node) -> str:
    text = str(term)
    return re.split(r"[#/]", text)[-1]


class _Reader:
    def __init__(self, graph: Graph, path: str) -> None:
        self.g = graph
        self.path = path
        self.prefixes = {p: str(ns) for p, ns in graph.namespaces() if p}

    def fail(self, node: Node | None, problem: str) -> MappingError:
        return MappingError(f"{self.path}: {self._name(node)}: {problem}")

    def _name(self, node: Node | None) -> str:
        return "blank node" if isinstance(node, BNode) else f"<{node}>"

    def objects(self, node: Node, local: str) -> list[Node]:
        found: list[Node] = []
        for ns in _NAMESPACES:
            found.extend(self.g.objects(node, ns[local]))
        return found

    def one(self, node: Node, local: str, owner: Node | None = None) -> Node | None:
        found = self.objects(node, local)
        if len(found) > 1:
            raise self.fail(owner or node, f"more than one {local}")
        return found[0] if found else None

    # -- triples maps ---------------------------------------------------------------------------------
    def triples_maps(self) -> list[TriplesMap]:
        nodes: list[Node] = []
        for ns in (RR, RML):
            nodes.extend(self.g.subjects(RDF.type, ns.TriplesMap))
        for ns in (RML_LEGACY, RML):
            nodes.extend(self.g.subjects(ns.logicalSource, None))
        unique = list(dict.fromkeys(nodes))
        unique.sort(key=str)
        if not unique:
            raise MappingError(f"{self.path}: no triples map found")
        return [self.triples_map(node) for node in unique]

    def triples_map(self, node: Node) -> TriplesMap:
        source_node = self.one(node, "logicalSource")
        if source_node is None:
            raise self.fail(node, "triples map has no logical source")
        source = self.logical_source(source_node, node)
        subject_nodes = self.objects(node, "subjectMap")
        shortcuts = self.objects(node, "subject")
        if len(subject_nodes) + len(shortcuts) != 1:
            raise self.fail(node, f"a triples map needs exactly one subject map, found {len(subject_nodes)}")
        classes: tuple[str, ...] = ()
        graphs: tuple[TermMap, ...] = ()
        if shortcuts:
            subject = self.constant(shortcuts[0], "subject", node)
        else:
            subject = self.term_map(subject_nodes[0], "subject", node)
            classes = tuple(str(c) for c in self.objects(subject_nodes[0], "class"))
            graphs = self.graph_maps(subject_nodes[0], node)
        poms = [self.pom(p, node) for p in self.objects(node, "predicateObjectMap")]
        base = self.one(node, "baseIRI")
        return TriplesMap(
            name=str(node),
            source=source,
            subject=subject,
            classes=classes,
            subject_graphs=graphs,
            poms=poms,
            base_iri=str(base) if base is not None else None,
            label=(_local(node) or None) if isinstance(node, URIRef) else None,
        )

    def graph_maps(self, node: Node, owner: Node) -> tuple[TermMap, ...]:
        maps = [self.term_map(g, "graph", owner) for g in self.objects(node, "graphMap")]
        maps += [self.constant(g, "graph", owner) for g in self.objects(node, "graph")]
        return tuple(maps)

    def pom(self, node: Node, owner: Node) -> PredicateObjectMap:
        preds = [self.term_map(p, "predicate", owner) for p in self.objects(node, "predicateMap")]
        preds += [self.constant(p, "predicate", owner) for p in self.objects(node, "predicate")]
        objs: list[TermMap | RefObjectMap] = []
        for o in self.objects(node, "objectMap"):
            parent = self.one(o, "parentTriplesMap", owner)
            objs.append(
                self.ref_object_map(o, parent, owner) if parent is not None else self.term_map(o, "object", owner)
            )
        objs += [self.constant(o, "object", owner) for o in self.objects(node, "object")]
        if not preds or not objs:
            raise self.fail(owner, "predicate-object map needs at least one predicate and one object")
        return PredicateObjectMap(tuple(preds), tuple(objs), self.graph_maps(node, owner))

    def ref_object_map(self, node: Node, parent: Node, owner: Node) -> RefObjectMap:
        joins = []
        for cond in self.objects(node, "joinCondition"):
            child = self.one(cond, "child", owner)
            child_map = self.one(cond, "childMap", owner)
            parent_ref = self.one(cond, "parent", owner)
            parent_map = self.one(cond, "parentMap", owner)
            if (child is None) == (child_map is None) or (parent_ref is None) == (parent_map is None):
                raise self.fail(owner, "join condition needs one child and one parent")
            joins.append(Join(self.join_side(child, child_map, owner), self.join_side(parent_ref, parent_map, owner)))
        return RefObjectMap(str(parent), tuple(joins))

    def join_side(self, reference: Node | None, term_map: Node | None, owner: Node) -> TermMap:
        """One side of a join condition: a reference (``rr:child``) or a term map (``rml:childMap``)."""
        if reference is not None:
            return TermMap("reference", str(reference))
        if term_map is None:
            raise self.fail(owner, "join condition needs one child and one parent")
        return self.term_map(term_map, "join", owner)

    # -- term maps ------------------------------------------------------------------------------------
    def constant(self, value: Node, role: str, owner: Node) -> TermMap:
        if isinstance(value, URIRef):
            if str(value) in (str(RR.defaultGraph), str(RML.defaultGraph)) and role == "graph":
                return TermMap("constant", DEFAULT_GRAPH, "iri")
            return TermMap("constant", str(value), "iri")
        if isinstance(value, Literal):
            if role not in ("object", "join", "language"):
                raise self.fail(owner, f"a {role} cannot be the literal {value!s}")
            datatype = str(value.datatype) if value.datatype else None
            if datatype == XSD + "string":
                datatype = None
            return TermMap("constant", str(value), "literal", datatype=datatype, language=value.language)
        raise self.fail(owner, f"a constant {role} cannot be a blank node")

    def term_map(self, node: Node, role: str, owner: Node) -> TermMap:
        if not isinstance(node, BNode | URIRef):
            if role == "join":
                return TermMap("reference", str(node))
            raise self.fail(owner, f"{role} map must be a node, found {node!r}")
        constant = self.one(node, "constant", owner)
        template = self.one(node, "template", owner)
        reference = self.one(node, "reference", owner)
        column = self.one(node, "column", owner)
        if reference is None:
            reference = column
        given = [x for x in (constant, template, reference) if x is not None]
        term_type_node = self.one(node, "termType", owner)
        term_type = None
        if term_type_node is not None:
            term_type = _TERM_TYPES.get(_local(term_type_node))
            if term_type is None:
                raise self.fail(owner, f"unknown term type {term_type_node}")
        if len(given) > 1:
            raise self.fail(owner, f"{role} map has more than one of constant / template / reference")
        if not given:
            if role == "subject" and term_type == "blank":
                return TermMap("none", term_type="blank")
            raise self.fail(owner, f"{role} map has no constant, template or reference")
        if constant is not None:
            tm = self.constant(constant, role, owner)
            if (
                term_type is not None
                and term_type != tm.term_type
                and not (term_type in ("iri", "uri", "unsafe_iri") and tm.term_type == "iri")
            ):
                raise self.fail(owner, f"constant {constant} cannot have term type {term_type}")
            return tm
        kind: TermKind = "template" if template is not None else "reference"
        value = str(template if template is not None else reference)
        datatype = self.one(node, "datatype", owner)
        language = self.one(node, "language", owner)
        datatype_map = self.one(node, "datatypeMap", owner)
        language_map = self.one(node, "languageMap", owner)
        if language is not None and not valid_language(str(language)):
            raise self.fail(owner, f"invalid language tag {language!s}")
        if term_type is None:
            literal_hint = any(x is not None for x in (datatype, language, datatype_map, language_map))
            term_type = "literal" if role in ("object", "join") and (kind == "reference" or literal_hint) else "iri"
        if role == "subject" and term_type == "literal":
            raise self.fail(owner, "a subject cannot be a literal")
        if role in ("predicate", "graph") and term_type not in ("iri", "uri", "unsafe_iri"):
            raise self.fail(owner, f"a {role} must be an IRI, not {term_type}")
        if term_type != "literal" and any(x is not None for x in (datatype, language, datatype_map, language_map)):
            raise self.fail(owner, "datatype or language on a term map that does not make literals")
        dt_map = self.term_map(datatype_map, "datatype", owner) if datatype_map is not None else None
        lang_map = self.term_map(language_map, "language", owner) if language_map is not None else None
        datatype_iri = str(datatype) if datatype is not None else None
        language_tag = str(language) if language is not None else None
        if dt_map is not None and dt_map.kind == "constant":
            datatype_iri, dt_map = dt_map.value, None
        if lang_map is not None and lang_map.kind == "constant":
            language_tag, lang_map = lang_map.value, None
            if not valid_language(language_tag):
                raise self.fail(owner, f"invalid language tag {language_tag}")
        return TermMap(
            kind,
            value,
            term_type,
            datatype=datatype_iri,
            language=language_tag,
            datatype_map=dt_map,
            language_map=lang_map,
        )

    # -- logical sources ------------------------------------------------------------------------------
    def logical_source(self, node: Node, owner: Node) -> LogicalSource:
        src = self.one(node, "source", owner)
        if src is None:
            table = self.one(node, "tableName", owner)
            raise self.fail(owner, "database sources are not supported" if table else "logical source has no source")
        options: SourceOptions = {}
        nulls: list[str] = []
        location = str(src) if isinstance(src, Literal) else self._source_location(src, owner, options, nulls)
        formulation_node = self.one(node, "referenceFormulation", owner)
        iterator = self.one(node, "iterator", owner)
        namespaces = dict(self.prefixes)
        formulation = None
        if formulation_node is not None:
            name = _local(formulation_node)
            # A blank node or a named node (``<#x> a rml:XPathReferenceFormulation``) described in the document.
            if (formulation_node, None, None) in self.g:
                kinds = [_local(t) for t in self.g.objects(formulation_node, RDF.type)]
                name = next((k for k in kinds if k in _FORMULATIONS), name)
                for ns_node in self.objects(formulation_node, "namespace"):
                    prefix = self.one(ns_node, "namespacePrefix", owner)
                    url = self.one(ns_node, "namespaceURL", owner)
                    if prefix is None or url is None:
                        raise self.fail(owner, "rml:namespace needs namespacePrefix and namespaceURL")
                    namespaces[str(prefix)] = str(url)
            formulation = _FORMULATIONS.get(name)
            if formulation is None:
                raise self.fail(owner, f"unsupported reference formulation {formulation_node}")
        if formulation is None:
            formulation = _formulation_from_name(location)
            if formulation is None:
                raise self.fail(owner, f"cannot tell the reference formulation of source {location!r}")
        if formulation == "jsonpath" and location.lower().endswith((".jsonl", ".ndjson")):
            formulation = "jsonl"
        if formulation != "xpath":
            namespaces = {}
        if not isinstance(src, Literal):
            options.update(self._declarations(src))
        return LogicalSource(
            location=location,
            formulation=formulation,
            iterator=str(iterator) if iterator is not None else None,
            namespaces=tuple(sorted(namespaces.items())),
            nulls=tuple(nulls),
            **options,
        )

    def _source_location(self, src: Node, owner: Node, options: SourceOptions, nulls: list[str]) -> str:
        types = {_local(t) for t in self.g.objects(src, RDF.type)}
        if "Database" in types or self.g.value(src, D2RQ.jdbcDSN) is not None:
            raise self.fail(owner, "database sources are not supported")
        if "SPARQLEndpoint" in types or "Service" in types:
            raise self.fail(owner, "SPARQL endpoint sources are not supported")
        url = self.g.value(src, CSVW.url)
        if url is not None:
            dialect = self.g.value(src, CSVW.dialect)
            if dialect is not None:
                self._csvw_dialect(dialect, options)
            nulls.extend(str(n) for n in self.g.objects(src, CSVW.null))
            return str(url)
        path = self.one(src, "path", owner)
        if path is None:
            raise self.fail(owner, "source has no rml:path (only file sources are supported)")
        root = self.one(src, "root", owner)
        if root is not None and _local(root) == "CurrentWorkingDirectory":
            options["root"] = "cwd"
        encoding = self.one(src, "encoding", owner)
        if encoding is not None:
            options["encoding"] = _local(encoding).lower()
        compression = self.one(src, "compression", owner)
        if compression is not None:
            name = _local(compression)
            if name not in _COMPRESSIONS:
                raise self.fail(owner, f"unsupported compression {compression}")
            options["compression"] = _COMPRESSIONS[name]
        nulls.extend(str(n) for n in self.objects(src, "null"))
        return str(path)

    def _declarations(self, src: Node) -> SourceOptions:
        """``tlm:mayBeEmpty true`` and ``tlm:identity "xpath"`` on the source description."""
        out: SourceOptions = {}
        empty = self.g.value(src, TLM.mayBeEmpty)
        if empty is not None:
            out["may_be_empty"] = bool(empty.toPython()) if isinstance(empty, Literal) else True
        identity = self.g.value(src, TLM.identity)
        if identity is not None:
            out["identity"] = str(identity)
        return out

    def _csvw_dialect(self, dialect: Node, options: SourceOptions) -> None:
        delimiter = self.g.value(dialect, CSVW.delimiter)
        if delimiter is not None:
            options["delimiter"] = str(delimiter)
        encoding = self.g.value(dialect, CSVW.encoding)
        if encoding is not None:
            options["encoding"] = str(encoding).lower()
        header = self.g.value(dialect, CSVW.header)
        if header is not None:
            options["header"] = bool(header.toPython()) if isinstance(header, Literal) else True
        quote = self.g.value(dialect, CSVW.quoteChar)
        if quote is not None:
            options["quotechar"] = str(quote) or None


def _formulation_from_name(location: str) -> Formulation | None:
    lower = location.lower()
    by_extension: tuple[tuple[str, Formulation], ...] = (
        (".csv", "csv"),
        (".tsv", "csv"),
        (".json", "jsonpath"),
        (".jsonl", "jsonl"),
        (".ndjson", "jsonl"),
        (".xml", "xpath"),
    )
    for ext, formulation in by_extension:
        if lower.endswith(ext) or ext + "." in lower:
            return formulation
    return None


def read_rml(path: Path, text: str | None = None) -> MappingDocument:
    """Parse an RML / RML-Core Turtle document into the internal model."""
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise MappingError(f"{path}: cannot read mapping: {exc}") from exc
    graph = Graph()
    try:
        graph.parse(data=text, format="turtle", publicID=path.resolve().as_uri())
    except Exception as exc:
        raise MappingError(f"{path}: not valid Turtle: {exc}") from exc
    base = _BASE.search(text)
    reader = _Reader(graph, str(path))
    core = any(str(p).startswith(str(RML)) for p in graph.predicates())
    return MappingDocument(
        str(path), reader.triples_maps(), base_iri=base.group(1) if base else None, natural_types=core
    )
