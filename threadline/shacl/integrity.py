"""Records changed after they were signed, as validation results (21 CFR 11.70: signatures linked to records).

SHACL cannot express "the hash of this record's statements still equals the hash its signature holds", so
the check is ``threadline.signatures.check`` in Python, and its findings are added to every report as
ordinary results of one source shape, ``SHAPE``, whatever the engine or profile: the report's consumers
(renderers, stored evidence, the HTML page) need nothing new. The shape's annotations (label, clause, owner,
fix hint) are added to the run's shapes graph only when there is a finding, so a report without one is
exactly what the SHACL engine produced.

Not run by the load gate: the gate judges what a load introduces among the SHACL results, and a change to a
signed record is legitimate in the source system's own process — it is flagged at the next validation, not
refused.
"""

from __future__ import annotations

import pyoxigraph as ox
from rdflib import RDFS, Literal, Namespace, URIRef

from threadline.shacl.model import SH, TL, Outcome, Result
from threadline.shacl.shapes import Shapes
from threadline.signatures import SIGNATURES_GRAPH, Mismatch, check
from threadline.store import Store

CHECKS = Namespace("https://w3id.org/threadline/shapes/signatures#")
SHAPE = CHECKS.SignatureIntegrityCheck
COMPONENT = CHECKS.SignatureIntegrityConstraintComponent
LABEL = "Signed record unchanged since signing"
CLAUSE = "21 CFR 11.70"
OWNER = "Quality systems administrator"
FIX = (
    "Find who changed the record after it was signed (threadline audit export; the load or update after the "
    "signature's time), then restore the signed content, or have the record signed again (POST /signatures) "
    "if the change was intended."
)


def results(store: Store, default_graphs: list[str] | None = None) -> list[Result]:
    """One Violation per Threadline-made signature whose record changed; ``default_graphs`` (a scoped caller's
    view) keeps only findings about records and signatures that view shows."""
    found = check(store)
    if default_graphs is not None:
        found = _visible(store, found, default_graphs)
    return [_result(m) for m in found]


def _visible(store: Store, found: list[Mismatch], graphs: list[str]) -> list[Mismatch]:
    if not found or SIGNATURES_GRAPH not in graphs:
        return []
    shown = set(
        store.select(
            "SELECT DISTINCT ?s WHERE { ?s ?p ?o }",
            {"s": [ox.NamedNode(m.record) for m in found]},
            default_graphs=graphs,
        ).values("s")
    )
    return [m for m in found if m.record in shown or not m.record_exists]


def _result(mismatch: Mismatch) -> Result:
    return Result(
        focus=URIRef(mismatch.record),
        component=COMPONENT,
        shape=SHAPE,
        severity=SH.Violation,
        messages=(Literal(mismatch.message()),),
    )


def annotate(shapes: Shapes) -> None:
    """Describe ``SHAPE`` in the run's shapes graph, so labels and annotations reach every report format."""
    g = shapes.graph
    g.bind("tlsig", CHECKS, override=False)
    g.add((SHAPE, RDFS.label, Literal(LABEL)))
    g.add((SHAPE, TL.clause, Literal(CLAUSE)))
    g.add((SHAPE, TL.ownerRole, Literal(OWNER)))
    g.add((SHAPE, TL.fixHint, Literal(FIX)))


def add(store: Store, shapes: Shapes, outcome: Outcome, default_graphs: list[str] | None = None) -> Outcome:
    """``outcome`` with the signature findings appended (the same for both engines)."""
    found = results(store, default_graphs)
    if found:
        annotate(shapes)
        outcome.results.extend(found)
    return outcome
