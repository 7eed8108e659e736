"""Shape-based constraint components as SPARQL: the nodes that fail a nested shape, as a pattern.

``sh:node``, ``sh:not``, ``sh:and``, ``sh:or``, ``sh:xone`` and ``sh:qualifiedValueShape`` are defined by
which value nodes conform to other shapes. Each shape compiles to a *fail pattern*: a group pattern binding
``?this`` to the focus nodes that do not conform to it — the union of its checks' violations, of its
property shapes' failures mapped back through their paths, and of its own shape-based components. The
components then combine fail patterns as set operations in SPARQL: ``sh:or`` joins the members' failures
(a value fails them all), ``sh:not`` subtracts the negated shape's with ``MINUS``, ``sh:xone`` counts the
members that do not fail, a qualified count groups the value nodes that conform.

Why in the store and not as Python sets: at 100k units the sets behind the core profile's ``sh:or`` over
units are 100k-450k nodes each; moving them out of the store took most of a full run (about 45 s of 117 s on
disk), while joining them in the store costs a few hash joins. Each nesting level repeats its focus pattern
once per check, so fail patterns grow with depth; the recursive shapes that would make them infinite are
not compiled (``engine.py`` sends them to pyshacl).
"""

from __future__ import annotations

from rdflib import Graph, Literal, URIRef
from rdflib.term import Node

from threadline.shacl.compiler import Focus, ShapeCompiler, component, fresh, items, joined
from threadline.shacl.model import SH

NOTHING = "FILTER(false)"  # the fail pattern of a shape no node can fail
QUALIFIED = (component("QualifiedMinCount"), component("QualifiedMaxCount"))


def deactivated(graph: Graph, shape: Node) -> bool:
    return any(v == Literal(True) for v in graph.objects(shape, SH.deactivated))


def distinct(pattern: str) -> str:
    return f"{{ SELECT DISTINCT ?this WHERE {{ {pattern} }} }}"


def as_value(pattern: str, var: str) -> str:
    """The nodes a fail pattern binds to ``?this``, bound to ``?var`` instead."""
    return f"{{ SELECT (?this AS ?{var}) WHERE {{ {pattern} }} }}"


class Conformance:
    """Fail patterns of the shapes of one shapes graph."""

    def __init__(self, graph: Graph, compiler: ShapeCompiler) -> None:
        self.graph = graph
        self.compiler = compiler

    def fail(self, shape: Node, focus: Focus) -> str:
        """A group pattern binding ``?this`` to each focus node that does not conform to ``shape``."""
        if deactivated(self.graph, shape):
            return NOTHING
        parts = [f"{{ {check.query(focus)} }}" for check in self.compiler.checks(shape)]
        values = self.compiler.values_focus(shape, focus)
        parts += [self.to_focus(shape, focus, bad) for _, bad in self.components(shape, values)]
        for qualified in self.graph.objects(shape, SH.qualifiedValueShape):
            parts.append(self.qualified(shape, qualified, focus, values, None))
        for prop in self.graph.objects(shape, SH.property):
            parts.append(self.to_focus(shape, focus, self.fail(prop, values)))
        parts = [p for p in parts if p != NOTHING]
        return distinct(" UNION ".join(f"{{ {p} }}" for p in parts)) if parts else NOTHING

    def components(self, shape: Node, values: Focus) -> list[tuple[URIRef, str]]:
        """Per shape-based component of ``shape`` (qualified ones aside), a pattern binding ``?this`` to
        each value node that violates it."""
        g = self.graph
        out: list[tuple[URIRef, str]] = []
        for node_shape in g.objects(shape, SH.node):
            out.append((component("Node"), self.fail(node_shape, values)))
        for negated in g.objects(shape, SH["not"]):
            out.append((component("Not"), distinct(f"{values('this')} MINUS {{ {self.fail(negated, values)} }}")))
        for members in g.objects(shape, SH["and"]):
            fails = [self.fail(m, values) for m in items(g, members)]
            anyone = " UNION ".join(f"{{ {f} }}" for f in fails if f != NOTHING)
            out.append((component("And"), distinct(anyone) if anyone else NOTHING))
        for members in g.objects(shape, SH["or"]):
            fails = [self.fail(m, values) for m in items(g, members)]
            if NOTHING in fails:
                out.append((component("Or"), NOTHING))
            else:
                out.append((component("Or"), distinct(" ".join(distinct(f) for f in fails) or values("this"))))
        for members in g.objects(shape, SH.xone):
            fails = [self.fail(m, values) for m in items(g, members)]
            flags = [fresh("x") for _ in fails]
            optional = " ".join(
                f"OPTIONAL {{ {{ SELECT DISTINCT ?this (1 AS ?{v}) WHERE {{ {f} }} }} }}"
                for v, f in zip(flags, fails, strict=True)
            )
            passing = " + ".join(f"(1 - COALESCE(?{v}, 0))" for v in flags) or "0"
            out.append((component("Xone"), distinct(f"{values('this')} {optional} FILTER(({passing}) != 1)")))
        return out

    def to_focus(self, shape: Node, focus: Focus, bad: str) -> str:
        """The focus nodes with a value node in ``bad`` (a pattern binding ``?this`` to value nodes)."""
        path = self.compiler.path(shape)
        if path is None or bad == NOTHING:
            return bad
        v = fresh("v")
        return distinct(f"{focus('this')} {joined('this', path, '?' + v, focus.bulk)} {as_value(bad, v)}")

    def qualified(self, shape: Node, qualified: Node, focus: Focus, values: Focus, which: URIRef | None) -> str:
        """Focus nodes violating ``which`` (qualifiedMinCount or qualifiedMaxCount; None: either): the number
        of their value nodes that conform to ``qualified`` (and, when disjoint, to no sibling) is off."""
        g = self.graph
        path = self.compiler.path(shape)
        low, high = g.value(shape, SH.qualifiedMinCount), g.value(shape, SH.qualifiedMaxCount)
        tests = []
        if low is not None and which in (None, QUALIFIED[0]):
            tests.append(f"COUNT(DISTINCT ?_q) < {int(low)}")  # type: ignore[call-overload]  # sh:qualifiedMinCount is an integer Literal
        if high is not None and which in (None, QUALIFIED[1]):
            tests.append(f"COUNT(DISTINCT ?_q) > {int(high)}")  # type: ignore[call-overload]  # sh:qualifiedMaxCount is an integer Literal
        if path is None or not tests:
            return NOTHING
        conforming = (
            f"{joined('this', path, '?_q', focus.bulk)} MINUS {{ {as_value(self.fail(qualified, values), '_q')} }}"
        )
        if any(v == Literal(True) for v in g.objects(shape, SH.qualifiedValueShapesDisjoint)):
            conforming += " " + " ".join(as_value(self.fail(s, values), "_q") for s in self.siblings(shape, qualified))
        return (
            f"{{ SELECT ?this WHERE {{ {focus('this')} OPTIONAL {{ {conforming} }} }} "
            f"GROUP BY ?this HAVING ({' || '.join(tests)}) }}"
        )

    def siblings(self, shape: Node, qualified: Node) -> list[Node]:
        """The other qualified value shapes of the property shapes next to ``shape``."""
        g = self.graph
        out: set[Node] = set()
        for parent in g.subjects(SH.property, shape):
            for other in g.objects(parent, SH.property):
                if other != shape:
                    out.update(q for q in g.objects(other, SH.qualifiedValueShape) if q != qualified)
        return sorted(out, key=str)

    def reports(self, shape: Node, focus: Focus) -> list[tuple[URIRef, str]]:
        """Per shape-based component of ``shape``, a SELECT of its violations: ``?this`` and, except for
        qualified counts, ``?value``."""
        values = self.compiler.values_focus(shape, focus)
        path = self.compiler.path(shape)
        out: list[tuple[URIRef, str]] = []
        for cc, bad in self.components(shape, values):
            if bad == NOTHING:
                continue
            if path is None:
                out.append((cc, f"SELECT DISTINCT ?this (?this AS ?value) WHERE {{ {bad} }}"))
            else:
                value = joined("this", path, "?value", focus.bulk)
                out.append(
                    (cc, f"SELECT DISTINCT ?this ?value WHERE {{ {focus('this')} {value} {as_value(bad, 'value')} }}")
                )
        for qualified in self.graph.objects(shape, SH.qualifiedValueShape):
            for which in QUALIFIED:
                pattern = self.qualified(shape, qualified, focus, values, which)
                if pattern != NOTHING:
                    out.append((which, f"SELECT ?this WHERE {{ {pattern} }}"))
        return out
