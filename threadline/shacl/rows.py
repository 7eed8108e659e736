"""Results flattened into rows people read: identifiers, message, clause, owner, fix — shared by every format."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from urllib.parse import quote, unquote

from rdflib import URIRef
from rdflib.term import Node

from threadline.namespaces import IDENTIFIERS
from threadline.shacl.model import SH, Outcome, Result
from threadline.shacl.shapes import Shapes
from threadline.store import Store, text

TL = "https://w3id.org/threadline/ontology#"
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
    name = str(term)
    for sep in ("#", "/id/"):
        if sep in name and name.startswith("http"):
            return name.rsplit(sep, 1)[-1]
    return name


def identifiers(
    store: Store | None, nodes: set[Node], default_graphs: list[str] | None = None
) -> dict[str, tuple[str, str]]:
    """focus IRI -> (human identifier, class local name), looked up in one query per 2000 nodes.

    The identifier is the first of ``IDENTIFIERS`` the object has (serial before lot before NCR number ...);
    objects without one (revisions, BOM lines, signatures) show the key of their IRI, e.g. ``FC-1000/B``.
    """
    iris = sorted(str(n) for n in nodes if str(n).startswith("http"))
    if store is None or not iris:
        return {}
    rank = {f"{TL}{p}": i for i, p in enumerate(IDENTIFIERS)}
    props = ", ".join(f"<{p}>" for p in rank)
    found: dict[str, tuple[int, str]] = {}
    kinds: dict[str, str] = {}
    for start in range(0, len(iris), 2000):
        values = " ".join(f"<{i}>" for i in iris[start : start + 2000])
        # VALUES inside each branch and the properties as a FILTER: a ``VALUES ?p`` joined with the nodes made
        # pyoxigraph 0.5 scan every triple of those properties (1.4 s for 100 results at 10k units)
        result = store.select(
            f"SELECT DISTINCT ?s ?p ?id ?c WHERE {{ {{ VALUES ?s {{ {values} }} ?s ?p ?id FILTER(?p IN ({props})) }} "
            f'UNION {{ VALUES ?s {{ {values} }} ?s a ?c FILTER(STRSTARTS(STR(?c), "{TL}")) }} }}',
            default_graphs=default_graphs,
        )
        for s, p, ident, cls in result.rows:
            subject = text(s)
            if cls is not None:
                kinds[subject] = min(kinds.get(subject, "~"), short_iri(text(cls)))
            elif p is not None and ident is not None and rank[text(p)] < found.get(subject, (99, ""))[0]:
                found[subject] = (rank[text(p)], text(ident))
    return {i: (found[i][1] if i in found else iri_key(i), kinds.get(i, "")) for i in iris}


def iri_key(iri: str) -> str:
    """``.../id/rev/FC-1000/B`` -> ``FC-1000/B`` (the key the IRI was minted from)."""
    if "/id/" not in iri:
        return short(URIRef(iri))
    _, _, rest = iri.partition("/id/")
    return unquote(rest.partition("/")[2] or rest)


def short_iri(text: str) -> str:
    return text.rsplit("#", 1)[-1]


def link(focus: Node) -> str:
    """The object in the GraphQL explorer: a node query by IRI."""
    text = str(focus)
    if not text.startswith("http"):
        return ""
    query = f'{{ node(id: "{text}") {{ __typename id provenance {{ sourceSystem file locators sourceKey }} }} }}'
    return "/graphql?query=" + quote(query, safe="")


def rows(
    outcome: Outcome, shapes: Shapes, store: Store | None = None, default_graphs: list[str] | None = None
) -> list[Row]:
    """``default_graphs``: the state to look identifiers up in (the gate's view of a staged load)."""
    ids = identifiers(store, {r.focus for r in outcome.results}, default_graphs)
    out = []
    for result in outcome.results:
        notes = shapes.annotations(result.shape)
        ident, kind = ids.get(str(result.focus), ("", ""))
        out.append(
            Row(
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
            )
        )
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
