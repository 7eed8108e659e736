"""SHACL Core constraint components compiled to SPARQL SELECT queries that run inside the store.

Why by hand: pyshacl evaluates shapes node by node in Python over an rdflib graph, which needs the whole
thread in memory and takes minutes at 100k units; no maintained library compiles SHACL to SPARQL for an
arbitrary SPARQL 1.1 store. Running one SELECT per constraint in the store (embedded or remote) keeps the
work where the indexes are and makes it linear in the data.

Every query binds ``?this`` (the focus node) through a *focus pattern* supplied by the caller — the shape's
targets at top level, or the value nodes of an enclosing shape for nested shapes — so the same compiled
check serves full runs, nested shapes and incremental runs (focus restricted by ``VALUES``).

Query shapes follow what pyoxigraph 0.5's optimiser does well (see the stack notes): a whole class is joined
with the data by scanning — the data side in a sub-SELECT, which pyoxigraph joins by hashing one scan of the
predicate, and ``MINUS`` for absence — while a few focus nodes are joined by probing (``Focus.bulk``); class
membership uses a precomputed subclass closure and ``MINUS``, never ``rdf:type/rdfs:subClassOf*`` per value;
every "not a valid X" test is ``FILTER(!COALESCE(test, false))``, so an evaluation error counts as a
violation, as SHACL requires (e.g. comparing an IRI with a number).
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pyoxigraph as ox
from rdflib import RDF, RDFS, BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

from threadline.shacl.model import SH, XSD_NS, to_sparql


@dataclass(frozen=True)
class Focus:
    """A group pattern binding a variable to the focus nodes (``focus("this")``).

    ``bulk`` says how checks should join the focus with the data. A whole class (or the values of one) is
    joined by *scanning*: the data side goes into a sub-SELECT, which pyoxigraph 0.5 joins by hashing one
    scan of the predicate (and ``MINUS`` for absence) instead of probing the index once per focus node —
    measured 5-10x faster on disk with 70k focus nodes. A handful of nodes (incremental runs) is joined by
    *probing*: a scan of the whole predicate would cost far more than a few index look-ups.
    """

    pattern: Callable[[str], str]
    bulk: bool = True

    def __call__(self, var: str) -> str:
        return self.pattern(var)


_fresh = itertools.count()


def fresh(stem: str = "v") -> str:
    return f"_{stem}{next(_fresh)}"


class NotCompilable(Exception):
    """The native engine does not handle this shape; it goes to pyshacl."""


CORE_PARAMETERS = {
    SH[name]
    for name in [
        "class",
        "datatype",
        "nodeKind",
        "minCount",
        "maxCount",
        "minExclusive",
        "minInclusive",
        "maxExclusive",
        "maxInclusive",
        "minLength",
        "maxLength",
        "pattern",
        "flags",
        "languageIn",
        "uniqueLang",
        "equals",
        "disjoint",
        "lessThan",
        "lessThanOrEquals",
        "not",
        "and",
        "or",
        "xone",
        "node",
        "property",
        "qualifiedValueShape",
        "qualifiedMinCount",
        "qualifiedMaxCount",
        "qualifiedValueShapesDisjoint",
        "closed",
        "ignoredProperties",
        "hasValue",
        "in",
    ]
}
NOT_CORE = {SH.js, SH.expression, SH.rule}
CASTABLE = {f"{XSD_NS}{t}" for t in ("boolean", "integer", "decimal", "float", "double", "dateTime", "date", "time")}
RDF_LANGSTRING = str(RDF.langString)

NODE_KINDS: dict[Node, str] = {
    SH.IRI: "isIRI(?value)",
    SH.BlankNode: "isBlank(?value)",
    SH.Literal: "isLiteral(?value)",
    SH.BlankNodeOrIRI: "(isBlank(?value) || isIRI(?value))",
    SH.BlankNodeOrLiteral: "(isBlank(?value) || isLiteral(?value))",
    SH.IRIOrLiteral: "(isIRI(?value) || isLiteral(?value))",
}
COMPARISONS = {SH.minExclusive: ">", SH.minInclusive: ">=", SH.maxExclusive: "<", SH.maxInclusive: "<="}
PAIR_COMPARISONS = {SH.lessThan: "<", SH.lessThanOrEquals: "<="}


_SCRATCH = ox.NamedNode("urn:threadline:scratch")


def stored_forms(literals: Iterable[ox.Literal]) -> dict[ox.Literal, ox.Literal]:
    """The literals a pyoxigraph store does not keep as written, each with the form it keeps instead.

    The store keeps typed literals by value: "4.0"^^xsd:decimal comes back as "4", "1"^^xsd:boolean as
    "true", and an ill-formed one may change datatype ("300"^^xsd:byte comes back as xsd:integer). Compiled
    queries compare terms, so such a literal in the shapes, or in a data file being validated, would be seen
    in another form than SHACL sees it; what it affects goes to pyshacl instead."""
    distinct = list(dict.fromkeys(literals))
    if not distinct:
        return {}
    scratch = ox.Store()
    scratch.extend(ox.Quad(ox.NamedNode(f"urn:threadline:scratch:{i}"), _SCRATCH, t) for i, t in enumerate(distinct))
    out: dict[ox.Literal, ox.Literal] = {}
    for quad in scratch:
        written = distinct[int(quad.subject.value.rsplit(":", 1)[1])]
        if quad.object != written:
            out[written] = quad.object
    return out


@functools.lru_cache(maxsize=4096)
def _stored_form(literal: ox.Literal) -> ox.Literal | None:
    return stored_forms([literal]).get(literal)


def written_as_stored(term: Node, role: str) -> None:
    """Refuse to compile a shape whose ``role`` literal the store would keep in another form."""
    if isinstance(term, Literal) and (term.datatype is not None or term.language):
        if term.language:
            literal = ox.Literal(str(term), language=term.language)
        else:
            literal = ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
        stored = _stored_form(literal)
        if stored is not None:
            raise NotCompilable(f"{role} {literal} is kept by the store as {stored}")


def path_predicates(graph: Graph, path: Node) -> set[URIRef]:
    """Every predicate a SHACL path steps over, in either direction."""
    if isinstance(path, URIRef):
        return {path}
    members = items(graph, path) if (path, RDF.first, None) in graph else []
    for predicate in (SH.inversePath, SH.zeroOrMorePath, SH.oneOrMorePath, SH.zeroOrOnePath, SH.alternativePath):
        inner = graph.value(path, predicate)
        if inner is not None:
            members = items(graph, inner) if predicate == SH.alternativePath else [inner]
    return {p for member in members for p in path_predicates(graph, member)}


def predicates_read(graph: Graph, shape: Node, stack: tuple[Node, ...] = ()) -> set[URIRef] | None:
    """Predicates whose triples the results of ``shape`` can depend on (None: any predicate: closed shapes,
    SPARQL constraints, recursion). ``rdf:type`` aside: it only ever has IRIs as objects here."""
    if shape in stack or (shape, SH.sparql, None) in graph or (shape, SH.closed, Literal(True)) in graph:
        return None
    out: set[URIRef] = set()
    path = graph.value(shape, SH.path)
    if path is not None:
        out |= path_predicates(graph, path)
    for predicate in (
        SH.equals,
        SH.disjoint,
        SH.lessThan,
        SH.lessThanOrEquals,
        SH.targetSubjectsOf,
        SH.targetObjectsOf,
    ):
        out.update(p for p in graph.objects(shape, predicate) if isinstance(p, URIRef))
    children = [c for p in (SH.node, SH["not"], SH.qualifiedValueShape, SH.property) for c in graph.objects(shape, p)]
    for p in (SH["and"], SH["or"], SH.xone):
        for members in graph.objects(shape, p):
            children += items(graph, members)
    for child in children:
        below = predicates_read(graph, child, (*stack, shape))
        if below is None:
            return None
        out |= below
    return out


def component(name: str) -> URIRef:
    return SH[f"{name}ConstraintComponent"]


@dataclass
class Check:
    """One compiled constraint: ``query(focus)`` selects ``?this`` [``?value``] [``?rpath``] per violation."""

    component: URIRef
    query: Callable[[Focus], str]
    has_value: bool = True
    path_var: bool = False


_IRI = re.compile(r"<[^>]*>")


def scannable(path: str) -> bool:
    """Whether a SPARQL path can be evaluated with both ends open at reasonable cost: no ``*``, ``+``, ``?``
    (a zero-length path with both ends open enumerates every node of the data)."""
    return not any(c in _IRI.sub("", path) for c in "*+?")


def joined(subject: str, path: str, obj: str, bulk: bool) -> str:
    """``?subject path obj`` as a join partner of a focus pattern: a sub-SELECT when ``bulk`` (hash join on a
    scan, see ``Focus``), a plain pattern otherwise (probe per focus node). ``obj`` is a variable or term."""
    pattern = f"?{subject} {path} {obj} ."
    if not bulk or not scannable(path):
        return pattern
    projected = f"?{subject} {obj}" if obj.startswith("?") else f"?{subject}"
    return f"{{ SELECT {projected} WHERE {{ {pattern} }} }}"


def lacks(subject: str, path: str, obj: str, bulk: bool) -> str:
    """Keeps the solutions whose ``?subject`` has no ``path`` to ``obj``: ``MINUS`` (one scan, hashed) when
    ``bulk``, ``FILTER NOT EXISTS`` (one probe per solution) otherwise. Equivalent here because ``?subject``
    is always bound on the left."""
    if bulk and scannable(path):
        return f"MINUS {{ ?{subject} {path} {obj} }}"
    return f"FILTER NOT EXISTS {{ ?{subject} {path} {obj} }}"


def items(graph: Graph, node: Node) -> list[Node]:
    return list(Collection(graph, node)) if node != RDF.nil else []


def sparql_path(graph: Graph, path: Node) -> str:
    """A SHACL property path as a SPARQL property path."""
    if isinstance(path, URIRef):
        return to_sparql(path)
    if (path, RDF.first, None) in graph:
        members = items(graph, path)
        if len(members) < 2:
            raise NotCompilable("a sequence path needs at least two members")
        return "(" + "/".join(sparql_path(graph, m) for m in members) + ")"
    for predicate, template in (
        (SH.inversePath, "^({})"),
        (SH.zeroOrMorePath, "({})*"),
        (SH.oneOrMorePath, "({})+"),
        (SH.zeroOrOnePath, "({})?"),
    ):
        inner = graph.value(path, predicate)
        if inner is not None:
            return template.format(sparql_path(graph, inner))
    alternatives = graph.value(path, SH.alternativePath)
    if alternatives is not None:
        return "(" + "|".join(sparql_path(graph, m) for m in items(graph, alternatives)) + ")"
    raise NotCompilable(f"unsupported property path {path!r}")


def target_pattern(graph: Graph, shape: Node, closure: Callable[[URIRef], list[URIRef]]) -> Focus | None:
    """The shape's targets as a focus pattern, or None when the shape has no target."""
    branches: list[Callable[[str], str]] = []
    for cls in graph.objects(shape, SH.targetClass):
        branches.append(_class_branch(cls, closure))
    if (shape, RDF.type, RDFS.Class) in graph or (
        shape,
        RDF.type,
        URIRef("http://www.w3.org/2002/07/owl#Class"),
    ) in graph:
        branches.append(_class_branch(shape, closure))
    nodes = list(graph.objects(shape, SH.targetNode))
    if nodes:
        if any(isinstance(n, BNode) for n in nodes):
            raise NotCompilable("blank node sh:targetNode")
        for node in nodes:
            written_as_stored(node, "sh:targetNode")
        branches.append(_values_branch(" ".join(to_sparql(n) for n in nodes)))
    for prop in graph.objects(shape, SH.targetSubjectsOf):
        branches.append(_subjects_branch(to_sparql(prop)))
    for prop in graph.objects(shape, SH.targetObjectsOf):
        branches.append(_objects_branch(to_sparql(prop)))
    if not branches:
        return None
    if len(branches) == 1:
        return Focus(branches[0])
    return Focus(
        lambda v: (
            "{ SELECT DISTINCT ?" + v + " WHERE { " + " UNION ".join("{ " + b(v) + " }" for b in branches) + " } }"
        )
    )


def _values_branch(terms: str) -> Callable[[str], str]:
    return lambda v: f"VALUES ?{v} {{ {terms} }}"


def _subjects_branch(p: str) -> Callable[[str], str]:
    return lambda v: f"?{v} {p} ?{fresh('o')} ."


def _objects_branch(p: str) -> Callable[[str], str]:
    return lambda v: f"?{fresh('s')} {p} ?{v} ."


def _class_branch(cls: Node, closure: Callable[[URIRef], list[URIRef]]) -> Callable[[str], str]:
    if not isinstance(cls, URIRef):
        raise NotCompilable("blank node class target")
    classes = closure(cls)
    if len(classes) == 1:
        return lambda v: f"?{v} a {to_sparql(classes[0])} ."
    terms = " ".join(to_sparql(c) for c in classes)
    return lambda v: _typed(v, terms)


def _typed(v: str, terms: str) -> str:
    c = fresh("c")
    return f"VALUES ?{c} {{ {terms} }} ?{v} a ?{c} ."


def restricted(focus: Focus, nodes: list[Node]) -> Focus:
    """Focus limited to ``nodes`` (IRIs and literals; incremental runs)."""
    terms = " ".join(to_sparql(n) for n in nodes)
    return Focus(
        lambda v: "{ SELECT DISTINCT ?" + v + " WHERE { VALUES ?" + v + " { " + terms + " } " + focus(v) + " } }",
        bulk=False,
    )


class ShapeCompiler:
    """Compiles the direct (non-nested) constraints of one shape into Checks."""

    def __init__(self, graph: Graph, closure: Callable[[URIRef], list[URIRef]]) -> None:
        self.graph = graph
        self.closure = closure
        self.prefixes: dict[str, str] = {}  # declared by SPARQL constraints; every query starts with them

    def prologue(self) -> str:
        """PREFIX declarations of the SPARQL constraints compiled so far (compiled checks nest into each
        other's queries, so the declarations go in front of every query)."""
        return "".join(f"PREFIX {name}: <{namespace}>\n" for name, namespace in sorted(self.prefixes.items()))

    def values_focus(self, shape: Node, focus: Focus) -> Focus:
        """The value nodes of ``shape`` for ``focus``, as the focus of its nested shapes."""
        path = self.path(shape)
        if path is None:
            return focus

        def values(var: str) -> str:
            outer = fresh("f")
            step = joined(outer, path, f"?{var}", focus.bulk)
            return f"{{ SELECT DISTINCT ?{var} WHERE {{ {focus(outer)} {step} }} }}"

        return Focus(values, focus.bulk)

    def path(self, shape: Node) -> str | None:
        path = self.graph.value(shape, SH.path)
        return None if path is None else sparql_path(self.graph, path)

    def value_pattern(self, shape: Node, bulk: bool = False) -> str:
        """Binds ``?value`` to each value node of ``?this`` (joined as ``Focus.bulk`` says)."""
        path = self.path(shape)
        return joined("this", path, "?value", bulk) if path else "BIND(?this AS ?value)"

    def check_supported(self, shape: Node) -> None:
        g = self.graph
        for predicate in set(g.predicates(shape, None)):
            if predicate in NOT_CORE:
                raise NotCompilable(f"{predicate} is not a SHACL Core constraint")
        custom = {p for c in g.subjects(RDF.type, SH.ConstraintComponent) for p in _parameters(g, c)}
        used = custom & set(g.predicates(shape, None))
        if used:
            raise NotCompilable(f"custom constraint component parameter {min(used, key=str)}")

    def checks(self, shape: Node) -> list[Check]:
        self.check_supported(shape)
        g = self.graph
        out: list[Check] = []
        is_property = g.value(shape, SH.path) is not None

        def vp(f: Focus) -> str:
            return self.value_pattern(shape, f.bulk)

        def filtered(name: str, condition: str) -> Check:
            return Check(
                component(name),
                lambda f: (
                    f"SELECT DISTINCT ?this ?value WHERE {{ {f('this')} {vp(f)} "
                    f"FILTER(!COALESCE({condition}, false)) }}"
                ),
            )

        for cls in g.objects(shape, SH["class"]):
            out.append(self._class(cls, vp))
        for datatype in g.objects(shape, SH.datatype):
            out.append(filtered("Datatype", _datatype_test(str(datatype))))
        for kind in g.objects(shape, SH.nodeKind):
            if kind not in NODE_KINDS:
                raise NotCompilable(f"unknown sh:nodeKind {kind}")
            out.append(filtered("NodeKind", NODE_KINDS[kind]))
        for predicate, op in COMPARISONS.items():
            for bound in g.objects(shape, predicate):
                name = str(predicate).rsplit("#", 1)[1]
                out.append(filtered(name[0].upper() + name[1:], f"?value {op} {to_sparql(bound)}"))
        for local, op in (("minLength", ">="), ("maxLength", "<=")):
            for length in g.objects(shape, SH[local]):
                out.append(
                    filtered(
                        local[0].upper() + local[1:],
                        f"!isBlank(?value) && STRLEN(STR(?value)) {op} {int(str(length))}",
                    )
                )
        for pattern in g.objects(shape, SH.pattern):
            flags = g.value(shape, SH.flags)
            args = to_sparql(Literal(str(pattern))) + (f", {to_sparql(Literal(str(flags)))}" if flags else "")
            out.append(filtered("Pattern", f"!isBlank(?value) && REGEX(STR(?value), {args})"))
        for languages in g.objects(shape, SH.languageIn):
            tests = (
                " || ".join(f"langMatches(lang(?value), {to_sparql(Literal(str(t)))})" for t in items(g, languages))
                or "false"
            )
            out.append(filtered("LanguageIn", f"isLiteral(?value) && ({tests})"))
        for members in g.objects(shape, SH["in"]):
            allowed = [m for m in items(g, members) if not isinstance(m, BNode)]
            for member in allowed:
                written_as_stored(member, "sh:in member")
            tests = " || ".join(f"sameTerm(?value, {to_sparql(m)})" for m in allowed) or "false"
            out.append(filtered("In", tests))
        for value in g.objects(shape, SH.hasValue):
            out.append(self._has_value(shape, value))
        if is_property:
            out += self._counts(shape)
            if any(v == Literal(True) for v in g.objects(shape, SH.uniqueLang)):
                out.append(
                    Check(
                        component("UniqueLang"),
                        lambda f: (
                            f"SELECT ?this WHERE {{ {f('this')} {vp(f)} "
                            f'FILTER(isLiteral(?value) && lang(?value) != "") }} '
                            f"GROUP BY ?this (LCASE(lang(?value)) AS ?lang) HAVING (COUNT(DISTINCT ?value) > 1)"
                        ),
                        has_value=False,
                    )
                )
        for prop in g.objects(shape, SH.equals):
            out.append(self._equals(shape, prop))
        for prop in g.objects(shape, SH.disjoint):
            out.append(Check(component("Disjoint"), _disjoint(to_sparql(prop), vp)))
        for predicate, op in PAIR_COMPARISONS.items():
            for prop in g.objects(shape, predicate):
                name = str(predicate).rsplit("#", 1)[1]
                out.append(Check(component(name[0].upper() + name[1:]), _compared(to_sparql(prop), op, vp)))
        if any(v == Literal(True) for v in g.objects(shape, SH.closed)):
            out.append(self._closed(shape, vp))
        for constraint in g.objects(shape, SH.sparql):
            out.append(self._sparql(constraint))
        return out

    def _sparql(self, constraint: Node) -> Check:
        """A SHACL-SPARQL constraint: its SELECT runs as is, with the focus pattern joined in first."""
        from threadline.store.params import _first_group_brace

        g = self.graph
        if any(v == Literal(True) for v in g.objects(constraint, SH.deactivated)):
            return Check(component("SPARQL"), lambda f: "SELECT ?this WHERE { FILTER(false) }", has_value=False)
        select = g.value(constraint, SH.select)
        if select is None:
            raise NotCompilable("sh:sparql without sh:select")
        text = str(select)
        if "$PATH" in text or "?PATH" in text or "$currentShape" in text or "$shapesGraph" in text:
            raise NotCompilable("SPARQL constraint uses $PATH/$currentShape/$shapesGraph")
        for source in g.objects(constraint, SH.prefixes):
            for decl in g.objects(source, SH.declare):
                name, namespace = str(g.value(decl, SH.prefix)), str(g.value(decl, SH.namespace))
                if self.prefixes.setdefault(name, namespace) != namespace:
                    raise NotCompilable(f"prefix {name}: is declared with two namespaces")
        body = text.replace("$this", "?this")
        brace = _first_group_brace(body)
        if brace is None:
            raise NotCompilable("SPARQL constraint without a WHERE group")
        selects_value = "?value" in body[:brace]
        inner = body[: brace + 1] + " {} " + body[brace + 1 :]

        def query(f: Focus) -> str:
            where = inner.replace(" {} ", " " + f("this") + " ", 1)
            return f"SELECT DISTINCT ?this {'?value' if selects_value else ''} WHERE {{ {{ {where} }} }}"

        return Check(component("SPARQL"), query, has_value=selects_value)

    def _class(self, cls: Node, vp: Callable[[Focus], str]) -> Check:
        if not isinstance(cls, URIRef):
            raise NotCompilable("blank node sh:class")
        classes = self.closure(cls)
        terms = " ".join(to_sparql(c) for c in classes)
        return Check(
            component("Class"),
            lambda f: (
                f"SELECT DISTINCT ?this ?value WHERE {{ {f('this')} {vp(f)} "
                f"MINUS {{ VALUES ?_class {{ {terms} }} ?value a ?_class . }} }}"
            ),
        )

    def _has_value(self, shape: Node, value: Node) -> Check:
        if isinstance(value, BNode):
            raise NotCompilable("blank node sh:hasValue")
        written_as_stored(value, "sh:hasValue")
        term = to_sparql(value)
        path = self.path(shape)
        if path:
            return Check(
                component("HasValue"),
                lambda f: f"SELECT DISTINCT ?this WHERE {{ {f('this')} {lacks('this', path, term, f.bulk)} }}",
                has_value=False,
            )
        return Check(
            component("HasValue"),
            lambda f: f"SELECT DISTINCT ?this WHERE {{ {f('this')} FILTER(!sameTerm(?this, {term})) }}",
            has_value=False,
        )

    def _counts(self, shape: Node) -> list[Check]:
        g = self.graph
        path = self.path(shape)
        if path is None:  # called for property shapes only: a node shape has no values to count
            return []
        out = []
        for bound in g.objects(shape, SH.minCount):
            n = int(str(bound))
            if n <= 0:
                continue
            if n == 1:
                out.append(
                    Check(
                        component("MinCount"),
                        lambda f: (
                            f"SELECT DISTINCT ?this WHERE {{ {f('this')} {lacks('this', path, '?_any', f.bulk)} }}"
                        ),
                        has_value=False,
                    )
                )
            else:
                out.append(Check(component("MinCount"), _fewer_than(n, path), has_value=False))
        for bound in g.objects(shape, SH.maxCount):
            out.append(Check(component("MaxCount"), _more_than(int(str(bound)), path), has_value=False))
        return out

    def _equals(self, shape: Node, prop: Node) -> Check:
        p = to_sparql(prop)
        path = self.path(shape)

        def query(f: Focus) -> str:
            # value nodes that are not values of p, and values of p that are not value nodes
            not_member = lacks("this", path, "?value", f.bulk) if path else "FILTER(!sameTerm(?this, ?value))"
            return (
                f"SELECT DISTINCT ?this ?value WHERE {{ {{ {f('this')} {self.value_pattern(shape, f.bulk)} "
                f"{lacks('this', p, '?value', f.bulk)} }} "
                f"UNION {{ {f('this')} {joined('this', p, '?value', f.bulk)} {not_member} }} }}"
            )

        return Check(component("Equals"), query)

    def _closed(self, shape: Node, vp: Callable[[Focus], str]) -> Check:
        g = self.graph
        allowed = {
            p for prop in g.objects(shape, SH.property) for p in g.objects(prop, SH.path) if isinstance(p, URIRef)
        }
        for ignored in g.objects(shape, SH.ignoredProperties):
            allowed.update(m for m in items(g, ignored) if isinstance(m, URIRef))
        test = f"FILTER(?rpath NOT IN ({', '.join(to_sparql(p) for p in sorted(allowed))}))" if allowed else ""
        return Check(
            component("Closed"),
            lambda f: f"SELECT DISTINCT ?this ?rpath ?obj WHERE {{ {f('this')} {vp(f)} ?value ?rpath ?obj . {test} }}",
            path_var=True,
        )


def _datatype_test(datatype: str) -> str:
    if datatype == RDF_LANGSTRING:
        return 'isLiteral(?value) && lang(?value) != ""'
    test = f"isLiteral(?value) && datatype(?value) = <{datatype}>"
    if datatype in CASTABLE:
        test += f" && isLiteral(<{datatype}>(?value))"
    return test


def _parameters(graph: Graph, component_node: Node) -> set[Node]:
    return {p for param in graph.objects(component_node, SH.parameter) for p in graph.objects(param, SH.path)}


def _disjoint(p: str, vp: Callable[[Focus], str]) -> Callable[[Focus], str]:
    return lambda f: (
        f"SELECT DISTINCT ?this ?value WHERE {{ {f('this')} {vp(f)} {joined('this', p, '?value', f.bulk)} }}"
    )


def _compared(p: str, op: str, vp: Callable[[Focus], str]) -> Callable[[Focus], str]:
    return lambda f: (
        f"SELECT DISTINCT ?this ?value ?_other WHERE {{ {f('this')} {vp(f)} "
        f"{joined('this', p, '?_other', f.bulk)} FILTER(!COALESCE(?value {op} ?_other, false)) }}"
    )


def _fewer_than(n: int, path: str) -> Callable[[Focus], str]:
    return lambda f: (
        f"SELECT ?this WHERE {{ {f('this')} OPTIONAL {{ {joined('this', path, '?value', f.bulk)} }} }} "
        f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) < {n})"
    )


def _more_than(n: int, path: str) -> Callable[[Focus], str]:
    return lambda f: (
        f"SELECT ?this WHERE {{ {f('this')} {joined('this', path, '?value', f.bulk)} }} "
        f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) > {n})"
    )
