"""The two validation engines behind one interface: native (SPARQL in the store) and pyshacl (reference).

The native engine runs each shape's compiled checks (``compiler.py``) in the store and the shape-based
components (``sh:node``, ``sh:not``, ``sh:and``, ``sh:or``, ``sh:xone``, ``sh:qualifiedValueShape``,
``sh:property``) as queries that join the nested shapes' failures in the store (``conformance.py``), where
the nested shape's focus nodes are given as a SPARQL pattern (the enclosing shape's value nodes), so blank
nodes never have to be named in a query. A shape it cannot compile (non-Core constraints, recursive shapes,
literals the store would keep in another form) is validated by pyshacl instead, on a copy of the shapes
graph in which only those shapes keep their targets; ``Outcome.fallback`` says which and why.

``default_graphs`` chooses the state validated: every query (and the pyshacl fallback's copy) sees just the
merge of those graphs, so the load gate can check the thread as a staged load would leave it, or as it was
before, without writing anything.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pyoxigraph as ox
from rdflib import RDF, RDFS, BNode, Graph, Literal, URIRef
from rdflib.term import Node

from threadline.errors import StoreError, ValidationError
from threadline.shacl.compiler import (
    Check,
    Focus,
    NotCompilable,
    ShapeCompiler,
    items,
    predicates_read,
    restricted,
    stored_forms,
    target_pattern,
)
from threadline.shacl.conformance import Conformance
from threadline.shacl.model import SH, Outcome, Result, to_rdflib, to_sparql
from threadline.shacl.shapes import Shapes, messages
from threadline.store import Store

TARGETS = (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf)
NESTED = (SH.node, SH["not"], SH["and"], SH["or"], SH.xone, SH.qualifiedValueShape, SH.property)
OWL_CLASS = URIRef("http://www.w3.org/2002/07/owl#Class")
# makes one shape's result: (constraint component, focus node, value, result path) -> Result
Maker = Callable[..., Result]


def target_shapes(graph: Graph) -> list[Node]:
    """Shapes with at least one target (explicit or implicit class target), not deactivated."""
    found: set[Node] = set()
    for predicate in TARGETS:
        found.update(graph.subjects(predicate, None))
    for kind in (SH.NodeShape, SH.PropertyShape):
        for shape in graph.subjects(RDF.type, kind):
            if (shape, RDF.type, RDFS.Class) in graph or (shape, RDF.type, OWL_CLASS) in graph:
                found.add(shape)
    return sorted((s for s in found if not deactivated(graph, s)), key=lambda s: (isinstance(s, BNode), str(s)))


def deactivated(graph: Graph, shape: Node) -> bool:
    return any(v == Literal(True) for v in graph.objects(shape, SH.deactivated))


@dataclass
class Written:
    """Data validated from files, as written. ``altered``: per predicate, one of its literals the store keeps
    in another form (``compiler.stored_forms``); shapes that read those predicates go to pyshacl, on
    ``graph``, so that results name values as the files wrote them."""

    graph: Graph
    altered: dict[URIRef, str]


def as_written(quads: Iterable[ox.Quad]) -> Written | None:
    """The data of files being validated, when the store would not keep some of its literals as written."""
    quads = list(quads)
    stored = stored_forms(q.object for q in quads if isinstance(q.object, ox.Literal))
    if not stored:
        return None
    graph = Graph()
    altered: dict[URIRef, str] = {}
    for quad in quads:
        graph.add((to_rdflib(quad.subject), to_rdflib(quad.predicate), to_rdflib(quad.object, normalize=False)))
        if quad.object in stored:
            altered.setdefault(URIRef(quad.predicate.value), f"{quad.object} (kept as {stored[quad.object]})")  # type: ignore[index]  # quad.object is a Literal here: keys are Literals
    return Written(graph, altered)


class NativeEngine:
    """SHACL Core compiled to SPARQL, run in ``store``; pyshacl for whatever it does not compile, and, for
    data files (``written``), for the shapes that read literals the store does not keep as written."""

    name = "native"

    def __init__(
        self,
        store: Store,
        shapes: Shapes,
        *,
        fallback: bool = True,
        default_graphs: list[str] | None = None,
        written: Written | None = None,
    ) -> None:
        self.store = store
        self.written = written
        self.default_graphs = default_graphs
        self.shapes = shapes
        self.graph = shapes.graph
        self.allow_fallback = fallback
        self._closure: dict[URIRef, list[URIRef]] = {}
        self.compiler = ShapeCompiler(self.graph, self.closure)
        self.conformance = Conformance(self.graph, self.compiler)
        self.queries = 0

    # -- public ------------------------------------------------------------------------------------
    def validate(self, restrict: dict[Node, list[Node] | None] | None = None) -> Outcome:
        """Validate every targeted shape; with ``restrict`` only its shapes, each limited to the listed focus
        nodes, or to all of its focus nodes for ``None`` (incremental runs)."""
        started = time.perf_counter()
        outcome = Outcome(engine=self.name)
        fallback: list[Node] = []
        as_written = False  # a shape goes to pyshacl for literals of the data files: it sees them as written
        for shape in target_shapes(self.graph):
            if restrict is not None and shape not in restrict:
                continue
            try:
                self.compilable(shape, ())
                focus = target_pattern(self.graph, shape, self.closure)
                altered = self.altered_read(shape)
            except NotCompilable as exc:
                fallback.append(shape)
                outcome.fallback[str(shape)] = str(exc)
                continue
            if altered:
                fallback.append(shape)
                outcome.fallback[str(shape)] = altered
                as_written = True
                continue
            if focus is None:
                continue
            if restrict is not None and (among := restrict[shape]) is not None:
                focus = self.focus_among(focus, among)
                if focus is None:
                    continue
            outcome.results += self.evaluate(shape, focus)
        if fallback:
            if not self.allow_fallback:
                raise NotCompilable("; ".join(f"{s}: {r}" for s, r in outcome.fallback.items()))
            written = self.written.graph if as_written and self.written else None
            data = written if written is not None else store_graph(self.store, self.default_graphs)
            outcome.results += pyshacl_results(data, self.shapes, only=fallback)
        outcome.results.sort(key=Result.key)
        outcome.seconds = time.perf_counter() - started
        return outcome

    def focus_among(self, focus: Focus, nodes: list[Node]) -> Focus | None:
        """The focus nodes among ``nodes``, named in a ``VALUES`` block (None: there are none). Asked once,
        so that every check of the shape and of its nested shapes carries just those nodes, not the whole
        candidate list of an incremental run."""
        if not nodes:
            return None
        rows = self.select(f"SELECT DISTINCT ?this WHERE {{ {restricted(focus, nodes)('this')} }}")
        found = [to_rdflib(r[0]) for r in rows]
        if not found:
            return None
        terms = " ".join(to_sparql(n) for n in found)
        return Focus(lambda v: f"VALUES ?{v} {{ {terms} }}", bulk=False)

    # -- static checks -----------------------------------------------------------------------------
    def altered_read(self, shape: Node) -> str | None:
        """Why ``shape`` must see the data files as written: it reads a predicate some of whose literals the
        store keeps in another form (None: it does not)."""
        if self.written is None:
            return None
        reads = predicates_read(self.graph, shape)
        hit = sorted(self.written.altered) if reads is None else sorted(reads & set(self.written.altered))
        return f"the data's {hit[0]} values include {self.written.altered[hit[0]]}" if hit else None

    def compilable(self, shape: Node, stack: tuple[Node, ...]) -> None:
        if shape in stack:
            raise NotCompilable("recursive shape")
        self.compiler.checks(shape)
        self.compiler.path(shape)
        for child in self.children(shape):
            self.compilable(child, (*stack, shape))

    def children(self, shape: Node) -> list[Node]:
        g = self.graph
        out: list[Node] = []
        for predicate in (SH.node, SH["not"], SH.qualifiedValueShape, SH.property):
            out += list(g.objects(shape, predicate))
        for predicate in (SH["and"], SH["or"], SH.xone):
            for members in g.objects(shape, predicate):
                out += items(g, members)
        return out

    def closure(self, cls: URIRef) -> list[URIRef]:
        """``cls`` and its subclasses in the data (asked once per engine)."""
        if cls not in self._closure:
            rows = self.select(f"SELECT DISTINCT ?c WHERE {{ ?c <{RDFS.subClassOf}>* <{cls}> }}")
            found = {URIRef(row[0].value) for row in rows if isinstance(row[0], ox.NamedNode)} | {cls}
            self._closure[cls] = sorted(found)
        return self._closure[cls]

    # -- evaluation --------------------------------------------------------------------------------
    def select(self, query: str) -> list[tuple]:
        self.queries += 1
        try:
            return self.store.select(self.compiler.prologue() + query, default_graphs=self.default_graphs).rows
        except StoreError as exc:
            raise StoreError(f"{exc}\nin compiled query:\n{query}") from exc

    def evaluate(self, shape: Node, focus: Focus) -> list[Result]:
        """Every result of ``shape`` for the focus nodes, including those of its property shapes."""
        if deactivated(self.graph, shape):
            return []
        results = self.own(shape, focus)
        props = list(self.graph.objects(shape, SH.property))
        if not props:
            return results
        values = self.values_focus(shape, focus)
        nested = [result for prop in props for result in self.evaluate(prop, values)]
        if nested and self.graph.value(shape, SH.path) is not None:
            # Each focus node validates each of its value nodes: a value shared by several focus nodes
            # yields its nested results once per focus node, as in pyshacl and the W3C expectations.
            multiplicity: dict[Node, int] = {}
            for _, value in self.pairs(shape, focus):
                multiplicity[value] = multiplicity.get(value, 0) + 1
            nested = [r for r in nested for _ in range(multiplicity.get(r.focus, 1))]
        return results + nested

    def values_focus(self, shape: Node, focus: Focus) -> Focus:
        return self.compiler.values_focus(shape, focus)

    def pairs(self, shape: Node, focus: Focus) -> list[tuple[Node, Node]]:
        vp = self.compiler.value_pattern(shape, focus.bulk)
        rows = self.select(f"SELECT DISTINCT ?this ?value WHERE {{ {focus('this')} {vp} }}")
        return [(to_rdflib(r[0]), to_rdflib(r[1])) for r in rows]

    def own(self, shape: Node, focus: Focus) -> list[Result]:
        """Results of the shape's own constraints (focus nodes are the shape's focus nodes)."""
        make = self.maker(shape)
        results: list[Result] = []
        for check in self.compiler.checks(shape):
            results += self.run_check(check, focus, make)
        results += self.nested(shape, focus, make)
        return results

    def maker(self, shape: Node) -> Maker:
        g = self.graph
        path = g.value(shape, SH.path)
        severity = g.value(shape, SH.severity) or SH.Violation
        texts = messages(g, shape)

        def make(cc: URIRef, this: Node, value: Node | None = None, rpath: Node | None = None) -> Result:
            return Result(this, cc, shape, severity, rpath if rpath is not None else path, value, texts)

        return make

    def run_check(self, check: Check, focus: Focus, make: Maker) -> list[Result]:
        rows = self.select(check.query(focus))
        out = []
        for row in rows:
            if check.path_var:
                out.append(make(check.component, to_rdflib(row[0]), to_rdflib(row[2]), to_rdflib(row[1])))
            elif check.has_value:
                out.append(make(check.component, to_rdflib(row[0]), to_rdflib(row[1])))
            else:
                out.append(make(check.component, to_rdflib(row[0])))
        return out

    def nested(self, shape: Node, focus: Focus, make: Maker) -> list[Result]:
        """Results of the shape-based components: one query each, the nested shapes' failures joined in the
        store (``conformance.py``)."""
        if not any((shape, p, None) in self.graph for p in NESTED[:-1]):
            return []
        out: list[Result] = []
        for cc, query in self.conformance.reports(shape, focus):
            out += [make(cc, to_rdflib(r[0]), to_rdflib(r[1]) if len(r) > 1 else None) for r in self.select(query)]
        return out


def store_graph(store: Store, graphs: list[str] | None = None) -> Graph:
    """The store's union graph (or the merge of ``graphs``) in rdflib: what users of pyshacl do — dump,
    parse, validate."""
    buffer = io.BytesIO()
    if graphs is None:
        store.dump(buffer, ox.RdfFormat.N_QUADS)
        return nquads_graph(buffer.getvalue())
    for graph in graphs:
        store.dump(buffer, ox.RdfFormat.N_TRIPLES, graph=graph)
    return nquads_graph(buffer.getvalue(), ox.RdfFormat.N_TRIPLES)


def nquads_graph(data: bytes, rdf_format: ox.RdfFormat = ox.RdfFormat.N_QUADS) -> Graph:
    graph = Graph()
    add = graph.add
    for quad in ox.parse(data, format=rdf_format):
        add((to_rdflib(quad.subject), to_rdflib(quad.predicate), to_rdflib(quad.object)))
    return graph


class PyshaclEngine:
    """pyshacl over an rdflib copy of the data: the reference the native engine is tested against."""

    name = "pyshacl"

    def __init__(self, data: Graph | Store, shapes: Shapes, *, default_graphs: list[str] | None = None) -> None:
        self.data = data
        self.shapes = shapes
        self.default_graphs = default_graphs

    def validate(self) -> Outcome:
        started = time.perf_counter()
        data = self.data if isinstance(self.data, Graph) else store_graph(self.data, self.default_graphs)
        outcome = Outcome(engine=self.name, results=pyshacl_results(data, self.shapes))
        outcome.results.sort(key=Result.key)
        outcome.seconds = time.perf_counter() - started
        return outcome


def pyshacl_results(data: Graph, shapes: Shapes, only: list[Node] | None = None) -> list[Result]:
    """Run pyshacl; with ``only``, every other shape loses its targets first."""
    import pyshacl

    shapes_graph = shapes.graph
    if only is not None:
        keep = set(only)
        shapes_graph = Graph()
        for triple in shapes.graph:
            s, p, o = triple
            if s not in keep and (p in TARGETS or (p == RDF.type and o in (RDFS.Class, OWL_CLASS))):
                continue
            shapes_graph.add(triple)
    try:
        _, report, _ = pyshacl.validate(
            data, shacl_graph=shapes_graph, inference="none", advanced=False, allow_warnings=True, allow_infos=True
        )
    except Exception as exc:  # pyshacl raises its own error types for malformed shapes
        raise ValidationError(f"pyshacl could not validate: {exc}") from exc
    if not isinstance(report, Graph):
        raise ValidationError(f"pyshacl could not validate: {report}")
    return parse_report(report, shapes)


def parse_report(report: Graph, shapes: Shapes) -> list[Result]:
    results = []
    top = [n for r in report.subjects(RDF.type, SH.ValidationReport) for n in report.objects(r, SH.result)]
    for node in top:
        shape = _required(report, node, SH.sourceShape)
        own = messages(shapes.graph, shape)
        texts: tuple[Node, ...] = own or tuple(sorted(report.objects(node, SH.resultMessage), key=str))
        results.append(
            Result(
                focus=_required(report, node, SH.focusNode),
                component=_required(report, node, SH.sourceConstraintComponent),
                shape=shape,
                severity=report.value(node, SH.resultSeverity) or SH.Violation,
                path=report.value(node, SH.resultPath),
                value=report.value(node, SH.value),
                messages=texts,
            )
        )
    return results


def _required(report: Graph, result: Node, predicate: URIRef) -> Node:
    """A term every ``sh:ValidationResult`` has (SHACL 3.6.1); a report result without it cannot be shown."""
    term = report.value(result, predicate)
    if term is None:
        raise ValidationError(f"the validation report's result {result} has no {predicate}")
    return term
