"""SHACL Core constraint components compiled to SPARQL SELECT queries that run inside the store.

Why by hand: pyshacl evaluates shapes node by node in Python over an rdflib graph, which needs the whole
thread in memory and takes minutes at 100k units; no maintained library compiles SHACL to SPARQL for an
arbitrary SPARQL 1.1 store. Running one SELECT per constraint in the store (embedded or remote) keeps the
work where the indexes are and makes it linear in the data.

Every query binds ``?this`` (the focus node) through a *focus pattern* supplied by the caller — the shape's
targets at top level, or the value nodes of an enclosing shape for nested shapes — so the same compiled
check serves full runs, nested shapes and incremental runs (focus restricted by ``VALUES``).

Query shapes follow what pyoxigraph 0.5's optimiser does well (see the stack notes): class membership uses
a precomputed subclass closure and ``MINUS``, never ``rdf:type/rdfs:subClassOf*`` per value; every
"not a valid X" test is ``FILTER(!COALESCE(test, false))``, so an evaluation error counts as a violation,
as SHACL requires (e.g. comparing an IRI with a number).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

from rdflib import RDF, RDFS, BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

from threadline.shacl.model import SH, XSD_NS, to_sparql

Focus = Callable[[str], str]  # variable name -> group pattern binding that variable to the focus nodes

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

NODE_KINDS = {
    SH.IRI: "isIRI(?value)",
    SH.BlankNode: "isBlank(?value)",
    SH.Literal: "isLiteral(?value)",
    SH.BlankNodeOrIRI: "(isBlank(?value) || isIRI(?value))",
    SH.BlankNodeOrLiteral: "(isBlank(?value) || isLiteral(?value))",
    SH.IRIOrLiteral: "(isIRI(?value) || isLiteral(?value))",
}
COMPARISONS = {SH.minExclusive: ">", SH.minInclusive: ">=", SH.maxExclusive: "<", SH.maxInclusive: "<="}
PAIR_COMPARISONS = {SH.lessThan: "<", SH.lessThanOrEquals: "<="}


def component(name: str) -> URIRef:
    return SH[f"{name}ConstraintComponent"]


@dataclass
class Check:
    """One compiled constraint: ``query(focus)`` selects ``?this`` [``?value``] [``?rpath``] per violation."""

    component: URIRef
    query: Callable[[Focus], str]
    has_value: bool = True
    path_var: bool = False


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
        terms = " ".join(to_sparql(n) for n in nodes)
        branches.append(lambda v, terms=terms: f"VALUES ?{v} {{ {terms} }}")
    for prop in graph.objects(shape, SH.targetSubjectsOf):
        subject_of = to_sparql(prop)
        branches.append(lambda v, p=subject_of: f"?{v} {p} ?{fresh('o')} .")
    for prop in graph.objects(shape, SH.targetObjectsOf):
        object_of = to_sparql(prop)
        branches.append(lambda v, p=object_of: f"?{fresh('s')} {p} ?{v} .")
    if not branches:
        return None
    if len(branches) == 1:
        only = branches[0]
        return lambda v: only(v)
    return lambda v: (
        "{ SELECT DISTINCT ?" + v + " WHERE { " + " UNION ".join("{ " + b(v) + " }" for b in branches) + " } }"
    )


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
    return lambda v: "{ SELECT DISTINCT ?" + v + " WHERE { VALUES ?" + v + " { " + terms + " } " + focus(v) + " } }"


class ShapeCompiler:
    """Compiles the direct (non-nested) constraints of one shape into Checks."""

    def __init__(self, graph: Graph, closure: Callable[[URIRef], list[URIRef]]) -> None:
        self.graph = graph
        self.closure = closure

    def path(self, shape: Node) -> str | None:
        path = self.graph.value(shape, SH.path)
        return None if path is None else sparql_path(self.graph, path)

    def value_pattern(self, shape: Node) -> str:
        path = self.path(shape)
        return f"?this {path} ?value ." if path else "BIND(?this AS ?value)"

    def has_value(self, shape: Node, var: str) -> str:
        """Pattern true when ``?var`` is a value node of ``?this``."""
        path = self.path(shape)
        return f"?this {path} ?{var} ." if path else f"FILTER(sameTerm(?this, ?{var}))"

    def check_supported(self, shape: Node) -> None:
        g = self.graph
        for predicate in set(g.predicates(shape, None)):
            if predicate in NOT_CORE:
                raise NotCompilable(f"{predicate} is not a SHACL Core constraint")
        custom = {p for c in g.subjects(RDF.type, SH.ConstraintComponent) for p in _parameters(g, c)}
        used = custom & set(g.predicates(shape, None))
        if used:
            raise NotCompilable(f"custom constraint component parameter {sorted(used)[0]}")

    def checks(self, shape: Node) -> list[Check]:
        self.check_supported(shape)
        g = self.graph
        out: list[Check] = []
        vp = self.value_pattern(shape)
        is_property = g.value(shape, SH.path) is not None

        def filtered(name: str, condition: str) -> Check:
            return Check(
                component(name),
                lambda f: (
                    f"SELECT DISTINCT ?this ?value WHERE {{ {f('this')} {vp} FILTER(!COALESCE({condition}, false)) }}"
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
        for predicate, op in (("minLength", ">="), ("maxLength", "<=")):
            for length in g.objects(shape, SH[predicate]):
                out.append(
                    filtered(
                        predicate[0].upper() + predicate[1:],
                        f"!isBlank(?value) && STRLEN(STR(?value)) {op} {int(length)}",
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
                            f"SELECT ?this WHERE {{ {f('this')} {vp} "
                            f'FILTER(isLiteral(?value) && lang(?value) != "") }} '
                            f"GROUP BY ?this (LCASE(lang(?value)) AS ?lang) HAVING (COUNT(DISTINCT ?value) > 1)"
                        ),
                        has_value=False,
                    )
                )
        for prop in g.objects(shape, SH.equals):
            out.append(self._equals(shape, prop))
        for prop in g.objects(shape, SH.disjoint):
            p = to_sparql(prop)
            out.append(
                Check(
                    component("Disjoint"),
                    lambda f, p=p: f"SELECT DISTINCT ?this ?value WHERE {{ {f('this')} {vp} ?this {p} ?value . }}",
                )
            )
        for predicate, op in PAIR_COMPARISONS.items():
            for prop in g.objects(shape, predicate):
                p = to_sparql(prop)
                name = str(predicate).rsplit("#", 1)[1]
                out.append(
                    Check(
                        component(name[0].upper() + name[1:]),
                        lambda f, p=p, op=op: (
                            f"SELECT DISTINCT ?this ?value ?_other WHERE {{ {f('this')} {vp} ?this {p} ?_other . "
                            f"FILTER(!COALESCE(?value {op} ?_other, false)) }}"
                        ),
                    )
                )
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
        prefixes = "".join(
            f"PREFIX {g.value(decl, SH.prefix)}: <{g.value(decl, SH.namespace)}>\n"
            for source in g.objects(constraint, SH.prefixes)
            for decl in g.objects(source, SH.declare)
        )
        body = text.replace("$this", "?this")
        brace = _first_group_brace(body)
        if brace is None:
            raise NotCompilable("SPARQL constraint without a WHERE group")
        selects_value = "?value" in body[:brace]
        inner = body[: brace + 1] + " {} " + body[brace + 1 :]

        def query(f: Focus) -> str:
            where = inner.replace(" {} ", " " + f("this") + " ", 1)
            return prefixes + f"SELECT DISTINCT ?this {'?value' if selects_value else ''} WHERE {{ {{ {where} }} }}"

        return Check(component("SPARQL"), query, has_value=selects_value)

    def _class(self, cls: Node, vp: str) -> Check:
        if not isinstance(cls, URIRef):
            raise NotCompilable("blank node sh:class")
        classes = self.closure(cls)
        terms = " ".join(to_sparql(c) for c in classes)
        return Check(
            component("Class"),
            lambda f: (
                f"SELECT DISTINCT ?this ?value WHERE {{ {f('this')} {vp} "
                f"MINUS {{ VALUES ?_class {{ {terms} }} ?value a ?_class . }} }}"
            ),
        )

    def _has_value(self, shape: Node, value: Node) -> Check:
        if isinstance(value, BNode):
            raise NotCompilable("blank node sh:hasValue")
        term = to_sparql(value)
        path = self.path(shape)
        if path:
            return Check(
                component("HasValue"),
                lambda f: f"SELECT DISTINCT ?this WHERE {{ {f('this')} FILTER NOT EXISTS {{ ?this {path} {term} }} }}",
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
        out = []
        for bound in g.objects(shape, SH.minCount):
            n = int(bound)
            if n <= 0:
                continue
            if n == 1:
                out.append(
                    Check(
                        component("MinCount"),
                        lambda f: (
                            f"SELECT DISTINCT ?this WHERE {{ {f('this')} FILTER NOT EXISTS {{ ?this {path} ?_any }} }}"
                        ),
                        has_value=False,
                    )
                )
            else:
                out.append(
                    Check(
                        component("MinCount"),
                        lambda f, n=n: (
                            f"SELECT ?this WHERE {{ {f('this')} OPTIONAL {{ ?this {path} ?value }} }} "
                            f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) < {n})"
                        ),
                        has_value=False,
                    )
                )
        for bound in g.objects(shape, SH.maxCount):
            n = int(bound)
            out.append(
                Check(
                    component("MaxCount"),
                    lambda f, n=n: (
                        f"SELECT ?this WHERE {{ {f('this')} ?this {path} ?value . }} "
                        f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) > {n})"
                    ),
                    has_value=False,
                )
            )
        return out

    def _equals(self, shape: Node, prop: Node) -> Check:
        p = to_sparql(prop)
        vp = self.value_pattern(shape)
        member = self.has_value(shape, "value")
        return Check(
            component("Equals"),
            lambda f: (
                f"SELECT DISTINCT ?this ?value WHERE {{ {{ {f('this')} {vp} "
                f"FILTER NOT EXISTS {{ ?this {p} ?value }} }} "
                f"UNION {{ {f('this')} ?this {p} ?value . FILTER NOT EXISTS {{ {member} }} }} }}"
            ),
        )

    def _closed(self, shape: Node, vp: str) -> Check:
        g = self.graph
        allowed = {
            p for prop in g.objects(shape, SH.property) for p in g.objects(prop, SH.path) if isinstance(p, URIRef)
        }
        for ignored in g.objects(shape, SH.ignoredProperties):
            allowed.update(m for m in items(g, ignored) if isinstance(m, URIRef))
        test = f"FILTER(?rpath NOT IN ({', '.join(to_sparql(p) for p in sorted(allowed))}))" if allowed else ""
        return Check(
            component("Closed"),
            lambda f: f"SELECT DISTINCT ?this ?rpath ?obj WHERE {{ {f('this')} {vp} ?value ?rpath ?obj . {test} }}",
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
