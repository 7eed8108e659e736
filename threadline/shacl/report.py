"""The SHACL validation report as RDF, and as evidence in the store.

``report_graph`` writes a standard ``sh:ValidationReport`` (what pyshacl and every SHACL tool read), adding
the Threadline annotations of each result's shape (``tl:clause``, ``tl:ownerRole``, ``tl:fixHint``,
``tl:profile``, and its readable name as ``tl:shapeLabel``) on the result itself, so a filed report is
self-explanatory. Results of shapes that carry no Threadline annotation get nothing extra, and nothing is ever
added to the shapes and data copied into the report: blank-node shapes and paths (and blank focus nodes and
values) are copied exactly as their graphs describe them, as SHACL requires, so the report compares equal, by
structure, to any other engine's report (the W3C test suite compares the Turtle ``threadline validate`` writes).

``store_evidence`` keeps the report in a named graph of its own with PROV-O: when, by whom (agent), which
shapes (files and sha256) and which data state (the catalog's committed batch graphs and their content
hashes), so an auditor can tell exactly what was checked.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyoxigraph as ox
from rdflib import RDF, XSD, BNode, Graph, Literal, Namespace, URIRef
from rdflib.term import Node

from threadline.namespaces import CATALOG_GRAPH, GRAPH, ID
from threadline.namespaces import TL as TL_IRI
from threadline.shacl.model import SH, TL, Outcome, Result
from threadline.shacl.shapes import Shapes
from threadline.store import Store, text, text_or_none
from threadline.store.engines import truth

PROV = Namespace("http://www.w3.org/ns/prov#")
REPORT_GRAPH_PREFIX = GRAPH + "validation/"
Describe = Callable[[Node], Iterable[tuple[Node, Node]]]


def report_graph(
    outcome: Outcome, shapes: Shapes, describe: Describe | None = None, annotate: bool = True
) -> tuple[Graph, BNode]:
    """The results as an ``sh:ValidationReport``; ``describe`` yields (predicate, object) of data blank nodes."""
    g = Graph()
    for prefix, namespace in shapes.graph.namespace_manager.namespaces():
        g.bind(prefix, namespace, override=False)
    g.bind("sh", SH)
    g.bind("tl", TL)
    report = BNode()
    g.add((report, RDF.type, SH.ValidationReport))
    g.add((report, SH.conforms, Literal(outcome.conforms)))
    copied: set[Node] = set()
    for result in outcome.results:
        node = BNode()
        g.add((report, SH.result, node))
        g.add((node, RDF.type, SH.ValidationResult))
        g.add((node, SH.focusNode, result.focus))
        g.add((node, SH.sourceConstraintComponent, result.component))
        g.add((node, SH.sourceShape, result.shape))
        g.add((node, SH.resultSeverity, result.severity))
        if result.path is not None:
            g.add((node, SH.resultPath, result.path))
            _copy(shapes.graph, result.path, g, copied)
        if result.value is not None:
            g.add((node, SH.value, result.value))
        for message in result.messages:
            g.add((node, SH.resultMessage, message))
        _copy(shapes.graph, result.shape, g, copied)
        if describe is not None:
            for term in (result.focus, result.value):
                _copy_data(term, describe, g, copied)
        if annotate:
            notes = shapes.annotations(result.shape)
            for name, value in notes.items():
                g.add((node, TL[name], Literal(value)))
            if notes:
                g.add((node, TL.shapeLabel, Literal(shapes.label(result.shape))))
    return g, report


def _copy(source: Graph, node: Node, target: Graph, seen: set[Node]) -> None:
    """Copy a blank node's description (recursively), as pyshacl does for shapes and paths."""
    if not isinstance(node, BNode) or node in seen:
        return
    seen.add(node)
    for p, o in source.predicate_objects(node):
        target.add((node, p, o))
        _copy(source, o, target, seen)


def either(*describers: Describe | None) -> Describe | None:
    """The first describer that knows a blank node: results may name blank nodes of the store and of the data
    files as written (which pyshacl validated instead, where the store keeps literals in another form)."""
    found = [d for d in describers if d is not None]
    if not found:
        return None

    def describe(node: Node) -> Iterable[tuple[Node, Node]]:
        for each in found:
            pairs = list(each(node))
            if pairs:
                return pairs
        return []

    return describe


def _copy_data(node: Node | None, describe: Describe, target: Graph, seen: set[Node]) -> None:
    if not isinstance(node, BNode) or node in seen:
        return
    seen.add(node)
    for p, o in describe(node):
        target.add((node, p, o))
        _copy_data(o, describe, target, seen)


def store_describer(store: Store) -> Describe | None:
    """Blank nodes can only be looked up by identity in an embedded store."""
    native = getattr(store, "native", None)
    if native is None:
        return None
    from threadline.shacl.model import to_rdflib

    def describe(node: Node) -> Iterable[tuple[Node, Node]]:
        for quad in native.quads_for_pattern(ox.BlankNode(str(node)), None, None):
            yield to_rdflib(quad.predicate), to_rdflib(quad.object)

    return describe


def graph_describer(graph: Graph) -> Describe:
    return lambda node: graph.predicate_objects(node)


@dataclass
class Evidence:
    """Where a stored report lives and what it says."""

    graph: str
    report: str
    profile: str | None
    conforms: bool
    results: int
    generated: str
    shapes: list[dict[str, str]] = field(default_factory=list)
    data_state: str = ""


def data_state(store: Store) -> tuple[str, list[tuple[str, str]]]:
    """The committed batches (graph, content hash) and one digest over them: the data state validated."""
    rows = store.select(
        f"SELECT ?g ?h WHERE {{ GRAPH <{CATALOG_GRAPH}> {{ ?g a <{TL_IRI}BatchGraph> "
        f"OPTIONAL {{ ?g <{TL_IRI}contentHash> ?h }} }} }} ORDER BY ?g"
    ).rows
    batches = [(text(graph), text_or_none(digest) or "") for graph, digest in rows]
    sha = hashlib.sha256()
    for graph, digest in batches:
        sha.update(f"{graph} {digest}\n".encode())
    return sha.hexdigest(), batches


def evidence_graph(
    outcome: Outcome,
    shapes: Shapes,
    *,
    agent: str,
    store: Store | None,
    describe: Describe | None = None,
    informed_by: str | None = None,
) -> tuple[Graph, Evidence]:
    """The report plus its PROV description, ready to store in its own named graph; ``informed_by`` is the
    ingest activity a load gate's report is about (its results are the ones that load introduced)."""
    g, report = report_graph(outcome, shapes, describe)
    stamp = datetime.now(UTC)  # microseconds: two reports within one second still order
    run_id = stamp.strftime("%Y%m%dT%H%M%S%fZ") + "-" + uuid.uuid4().hex[:8]
    graph_iri = f"{REPORT_GRAPH_PREFIX}{run_id}"
    report_iri = URIRef(f"{ID}validation/{run_id}")
    activity = URIRef(f"{ID}validation-run/{run_id}")
    # Give the report a stable IRI so PROV statements can name it.
    for p, o in list(g.predicate_objects(report)):
        g.remove((report, p, o))
        g.add((report_iri, p, o))
    g.bind("prov", PROV)
    when = Literal(stamp.isoformat().replace("+00:00", "Z"), datatype=XSD.dateTime)
    g.add((report_iri, RDF.type, PROV.Entity))
    g.add((report_iri, RDF.type, TL.ValidationReport))
    g.add((report_iri, PROV.wasGeneratedBy, activity))
    g.add((report_iri, PROV.generatedAtTime, when))
    g.add((activity, RDF.type, PROV.Activity))
    g.add((activity, RDF.type, TL.ValidationActivity))
    g.add((activity, PROV.startedAtTime, when))
    g.add((activity, PROV.endedAtTime, when))
    g.add((activity, PROV.wasAssociatedWith, URIRef(f"{ID}agent/{_slug(agent)}")))
    g.add((activity, TL.engine, Literal(outcome.engine)))
    g.add((activity, TL.resultCount, Literal(len(outcome.results))))
    if shapes.profile:
        g.add((activity, TL.profile, Literal(shapes.profile)))
    if informed_by:
        g.add((activity, PROV.wasInformedBy, URIRef(informed_by)))
    shape_rows = []
    for source in shapes.sources:
        entity = URIRef(f"{ID}shapes-file/{source.sha256}")
        g.add((activity, PROV.used, entity))
        g.add((entity, RDF.type, TL.ShapesFile))
        g.add((entity, TL.fileName, Literal(source.path.rsplit("/", 1)[-1])))
        g.add((entity, TL.sha256, Literal(source.sha256)))
        shape_rows.append({"file": source.path, "sha256": source.sha256})
    state = ""
    if store is not None:
        state, batches = data_state(store)
        g.add((activity, TL.dataState, Literal(state)))
        for batch, _ in batches:
            g.add((activity, PROV.used, URIRef(batch)))
    evidence = Evidence(
        graph_iri,
        str(report_iri),
        shapes.profile,
        outcome.conforms,
        len(outcome.results),
        when.toPython().isoformat() if False else str(when),
        shape_rows,
        state,
    )
    return g, evidence


def store_evidence(
    store: Store, outcome: Outcome, shapes: Shapes, *, agent: str, informed_by: str | None = None
) -> Evidence:
    g, evidence = evidence_graph(
        outcome, shapes, agent=agent, store=store, describe=store_describer(store), informed_by=informed_by
    )
    from threadline.audit import writes

    what = {
        "report": evidence.report,
        "profile": evidence.profile,
        "conforms": evidence.conforms,
        "results": evidence.results,
        "shapes": [{"file": str(row.get("file", "")), "sha256": str(row.get("sha256", ""))} for row in evidence.shapes],
        "data_state": evidence.data_state,
    }
    data = g.serialize(format="nt", encoding="utf-8")
    writes.replace_graph(
        store,
        evidence.graph,
        data,
        ox.RdfFormat.N_TRIPLES,
        action="validation-evidence",
        actor=agent,
        what=what,
        why=None,
        preserve=False,  # a fresh graph per run: nothing is replaced
    )
    return evidence


def latest_reports(store: Store, readable: Callable[[str], bool] | None = None) -> list[dict[str, object]]:
    """The newest stored report per profile (profile-less runs under ""), among the report graphs
    ``readable`` admits."""
    rows = store.select(
        f"SELECT ?g ?report ?when ?profile ?conforms ?count WHERE {{ GRAPH ?g {{ "
        f"?report a <{TL_IRI}ValidationReport> ; <{PROV}generatedAtTime> ?when ; "
        f"<{SH}conforms> ?conforms ; <{PROV}wasGeneratedBy> ?run . ?run <{TL_IRI}resultCount> ?count . "
        f"OPTIONAL {{ ?run <{TL_IRI}profile> ?profile }} }} "
        f'FILTER(STRSTARTS(STR(?g), "{REPORT_GRAPH_PREFIX}")) }} ORDER BY DESC(?when) DESC(?g)'
    ).dicts()
    latest: dict[str, dict[str, object]] = {}
    for row in rows:
        profile = text(row["profile"]) if "profile" in row else ""
        if profile in latest or (readable is not None and not readable(text(row["g"]))):
            continue
        latest[profile] = {
            "profile": profile or None,
            "graph": text(row["g"]),
            "report": text(row["report"]),
            "generated": text(row["when"]),
            "conforms": truth(row["conforms"]),
            "results": int(text(row["count"])),
        }
    return [latest[k] for k in sorted(latest)]


def load_stored_report(store: Store, graph: str) -> Graph:
    import io

    from threadline.shacl.engine import nquads_graph

    buffer = io.BytesIO()
    store.dump(buffer, ox.RdfFormat.N_TRIPLES, graph=graph)
    return nquads_graph(buffer.getvalue(), ox.RdfFormat.N_TRIPLES)


def results_from_graph(g: Graph) -> list[Result]:
    from threadline.shacl.engine import parse_report

    return parse_report(g, Shapes(g))


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text) or "unknown"


def stored_page(store: Store, graph: str, settings: object | None = None) -> str | None:
    """Re-render a stored report as HTML, with annotations as stored on each result."""
    from threadline.shacl.render_html import to_html
    from threadline.shacl.rows import rows

    g = load_stored_report(store, graph)
    reports = list(g.subjects(SH.conforms, None))
    if not reports:
        return None
    shapes = Shapes(g)
    annotated: dict[Node | None, dict[str, str]] = {}  # None: a result without sh:sourceShape, as it is stored
    labels: dict[Node | None, str] = {}
    from threadline.shacl.engine import parse_report

    for node in g.objects(reports[0], SH.result):
        shape = g.value(node, SH.sourceShape)
        annotated[shape] = {
            n: str(g.value(node, TL[n]))
            for n in ("clause", "ownerRole", "fixHint", "profile")
            if g.value(node, TL[n]) is not None
        }
        if g.value(node, TL.shapeLabel) is not None:
            labels[shape] = str(g.value(node, TL.shapeLabel))
    results = parse_report(g, shapes)
    shapes.annotations = lambda shape: annotated.get(shape, {})  # type: ignore[method-assign]  # replaced on this one instance on purpose
    own_label = shapes.label
    shapes.label = lambda shape: labels.get(shape) or own_label(shape)  # type: ignore[method-assign]  # replaced on this one instance on purpose
    run = g.value(reports[0], PROV.wasGeneratedBy)
    outcome = Outcome(results=results, engine=str(g.value(run, TL.engine) or ""))
    profile = g.value(run, TL.profile)
    shapes.profile = str(profile) if profile else None
    when = str(g.value(reports[0], PROV.generatedAtTime) or "").replace("+00:00", "Z")
    when = when.split(".")[0] + "Z" if "." in when else when
    files = sorted(
        (str(g.value(f, TL.fileName)), str(g.value(f, TL.sha256))) for f in g.subjects(RDF.type, TL.ShapesFile)
    )
    state = g.value(run, TL.dataState)
    return to_html(
        rows(outcome, shapes, store),
        conforms=outcome.conforms,
        profile=shapes.profile,
        engine=outcome.engine,
        generated=when,
        shapes_files=files,
        data_state=str(state or ""),
    )
