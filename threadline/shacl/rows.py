"""Results flattened into rows people read: identifiers, message, clause, owner, fix — shared by every format."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from urllib.parse import quote

from rdflib.term import Node

from threadline.shacl.model import SH, Outcome, Result
from threadline.shacl.shapes import Shapes
from threadline.store import Store

TL = "https://w3id.org/threadline/ontology#"
IDENTIFIERS = ("serialNumber", "lotNumber", "ncrNumber", "capaNumber", "receiptNumber", "resultId",
               "workOrderNumber", "partNumber", "revisionLabel", "certificateNumber", "personId", "changeNumber")
DEFAULT_TEXT = {
    "MinCount": "A required value is missing.",
    "MaxCount": "There are more values than allowed.",
    "Class": "A value is not of the expected type.",
    "Datatype": "A value has the wrong datatype.",
}


@dataclass
class Row:
    severity: str
    focus: str
    identifier: str
    kind: str
    path: str
    value: str
    message: str
    shape: str
    shape_label: str
    component: str
    clause: str
    owner_role: str
    fix_hint: str
    profile: str
    link: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def short(term: Node | None) -> str:
    if term is None:
        return ""
    text = str(term)
    for sep in ("#", "/id/"):
        if sep in text and text.startswith("http"):
            return text.rsplit(sep, 1)[-1]
    return text


def identifiers(store: Store | None, nodes: set[Node]) -> dict[str, tuple[str, str]]:
    """focus IRI -> (human identifier, class local name), looked up in one query."""
    iris = sorted(str(n) for n in nodes if str(n).startswith("http"))
    if store is None or not iris:
        return {}
    values = " ".join(f"<{i}>" for i in iris)
    props = " ".join(f"<{TL}{p}>" for p in IDENTIFIERS)
    rows = store.select(
        f"SELECT ?s (SAMPLE(?id) AS ?ident) (SAMPLE(?c) AS ?cls) WHERE {{ VALUES ?s {{ {values} }} "
        f"OPTIONAL {{ VALUES ?p {{ {props} }} ?s ?p ?id }} OPTIONAL {{ ?s a ?c FILTER(STRSTARTS(STR(?c), \"{TL}\")) }} }} "
        f"GROUP BY ?s"
    ).rows
    return {r[0].value: (r[1].value if r[1] else "", short_iri(r[2].value) if r[2] else "") for r in rows}  # type: ignore[union-attr]


def short_iri(text: str) -> str:
    return text.rsplit("#", 1)[-1]


def link(focus: Node) -> str:
    """The object in the GraphQL explorer: a node query by IRI."""
    text = str(focus)
    if not text.startswith("http"):
        return ""
    query = f'{{ node(iri: "{text}") {{ iri }} }}'
    return "/graphql?query=" + quote(query, safe="")


def rows(outcome: Outcome, shapes: Shapes, store: Store | None = None) -> list[Row]:
    ids = identifiers(store, {r.focus for r in outcome.results})
    out = []
    for result in outcome.results:
        notes = shapes.annotations(result.shape)
        ident, kind = ids.get(str(result.focus), ("", ""))
        out.append(Row(
            severity=short(result.severity),
            focus=str(result.focus),
            identifier=ident or short(result.focus),
            kind=kind,
            path=_path(result, shapes),
            value=str(result.value) if result.value is not None else "",
            message=" ".join(str(m) for m in result.messages) or _default(result),
            shape=str(result.shape),
            shape_label=shapes.label(result.shape),
            component=short(result.component).removesuffix("ConstraintComponent"),
            clause=notes.get("clause", ""),
            owner_role=notes.get("ownerRole", ""),
            fix_hint=notes.get("fixHint", ""),
            profile=notes.get("profile", ""),
            link=link(result.focus),
        ))
    order = {"Violation": 0, "Warning": 1, "Info": 2}
    out.sort(key=lambda r: (order.get(r.severity, 3), r.clause, r.shape_label, r.identifier))
    return out


def _path(result: Result, shapes: Shapes) -> str:
    if result.path is None:
        return ""
    from threadline.shacl.compiler import NotCompilable, sparql_path

    try:
        return sparql_path(shapes.graph, result.path).replace(f"<{TL}", "tl:").replace(">", "")
    except NotCompilable:
        return short(result.path)


def _default(result: Result) -> str:
    name = short(result.component).removesuffix("ConstraintComponent")
    return DEFAULT_TEXT.get(name, f"The {name} constraint of the shape is not met.")


__all__ = ["SH", "Row", "rows"]
