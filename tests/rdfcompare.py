"""Dataset isomorphism with a readable diff, for tests that compare mapped N-Quads with expected output.

Quads are parsed by a small tolerant N-Quads reader (the conformance suites contain IRIs that rdflib
refuses, e.g. RML-Core's UnsafeIRI case with spaces) into plain tuples. Without blank nodes the check is
set equality; with blank nodes each quad is reified into an rdflib graph (one blank node per quad with
s/p/o/g edges), so ``rdflib.compare`` decides isomorphism across named graphs and yields canonical blank
node labels for the diff.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.compare import isomorphic, to_canonical_graph

Term = tuple[str, ...]  # ("I", iri) | ("B", label) | ("L", lexical, datatype, language)
Quad = tuple[Term, Term, Term, Term | None]

_TOKEN = re.compile(
    r"""\s*(?:<([^>]*)>|_:([^\s.<"]+(?:\.[^\s.<"]+)*)|"((?:[^"\\]|\\.)*)"(?:@([A-Za-z0-9\-]+)|\^\^<([^>]*)>)?)"""
)
_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)")
_SIMPLE = {"t": "\t", "n": "\n", "r": "\r", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


def _unescape(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        code = m.group(1)
        if code[0] in "uU" and len(code) > 1:
            return chr(int(code[1:], 16))
        return _SIMPLE.get(code, code)

    return _ESCAPE.sub(repl, text)


def parse_nquads(text: str) -> set[Quad]:
    """Parse N-Quads / N-Triples leniently; raises ValueError naming the line on garbage."""
    quads: set[Quad] = set()
    for line_no, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        terms: list[Term] = []
        pos = 0
        body = stripped[:-1].rstrip() if stripped.endswith(".") else stripped
        while pos < len(body):
            m = _TOKEN.match(body, pos)
            if m is None:
                raise ValueError(f"line {line_no}: cannot parse {line!r}")
            iri, bnode, lex, lang, dt = m.groups()
            if iri is not None:
                terms.append(("I", _unescape(iri)))
            elif bnode is not None:
                terms.append(("B", bnode))
            else:
                datatype = dt or ("" if lang else XSD_STRING)
                if datatype == XSD_STRING:
                    datatype = ""
                terms.append(("L", _unescape(lex), datatype, (lang or "").lower()))
            pos = m.end()
            while pos < len(body) and body[pos].isspace():
                pos += 1
        if len(terms) not in (3, 4):
            raise ValueError(f"line {line_no}: expected 3 or 4 terms in {line!r}")
        quads.add((terms[0], terms[1], terms[2], terms[3] if len(terms) == 4 else None))
    return quads


def from_rdflib(term: object) -> Term:
    if isinstance(term, URIRef):
        return ("I", str(term))
    if isinstance(term, BNode):
        return ("B", str(term))
    if isinstance(term, Literal):
        datatype = str(term.datatype) if term.datatype and str(term.datatype) != XSD_STRING else ""
        return ("L", str(term), datatype, (term.language or "").lower())
    raise TypeError(f"unexpected term {term!r}")


def _to_rdflib(term: Term) -> object:
    if term[0] == "I":
        return URIRef(term[1])
    if term[0] == "B":
        return BNode(term[1])
    return Literal(term[1], lang=term[3] or None, datatype=URIRef(term[2]) if term[2] else None)


_P = {k: URIRef(f"urn:quad:{k}") for k in "spog"}


def _reify(quads: Iterable[Quad]) -> Graph:
    graph = Graph()
    for i, (s, p, o, g) in enumerate(sorted(quads, key=repr)):
        node = BNode(f"quad{i}")
        graph.add((node, _P["s"], _to_rdflib(s)))  # type: ignore[arg-type]
        graph.add((node, _P["p"], _to_rdflib(p)))  # type: ignore[arg-type]
        graph.add((node, _P["o"], _to_rdflib(o)))  # type: ignore[arg-type]
        graph.add((node, _P["g"], _to_rdflib(g) if g else URIRef("urn:quad:default")))  # type: ignore[arg-type]
    return graph


def _render(term: Term | None) -> str:
    if term is None:
        return ""
    if term[0] == "I":
        return f"<{term[1]}>"
    if term[0] == "B":
        return f"_:{term[1]}"
    text = '"' + term[1].replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if term[3]:
        return f"{text}@{term[3]}"
    return f"{text}^^<{term[2]}>" if term[2] else text


def _lines(quads: Iterable[Quad]) -> list[str]:
    return sorted(
        " ".join(x for x in (_render(s), _render(p), _render(o), _render(g)) if x) + " ." for s, p, o, g in quads
    )


def _canonical_lines(quads: set[Quad]) -> list[str]:
    if not any(t is not None and t[0] == "B" for q in quads for t in q):
        return _lines(quads)
    canon = to_canonical_graph(_reify(quads))
    out = []
    for node in set(canon.subjects(_P["s"], None)):
        parts = [from_rdflib(canon.value(node, _P[k])) for k in "spog"]
        g = None if parts[3] == ("I", "urn:quad:default") else parts[3]
        out.append((parts[0], parts[1], parts[2], g))
    return _lines(out)


def isomorphic_quads(expected: set[Quad], actual: set[Quad]) -> bool:
    has_bnodes = any(t is not None and t[0] == "B" for q in (*expected, *actual) for t in q)
    if not has_bnodes:
        return expected == actual
    if len(expected) != len(actual):
        return False
    return isomorphic(_reify(expected), _reify(actual))


def diff_quads(expected: set[Quad], actual: set[Quad]) -> str:
    """A unified diff of canonicalised, sorted N-Quads (blank nodes relabelled consistently)."""
    exp, act = _canonical_lines(expected), _canonical_lines(actual)
    return "\n".join(difflib.unified_diff(exp, act, "expected", "actual", lineterm="", n=0))


def assert_same_quads(expected: set[Quad], actual: set[Quad], context: str = "") -> None:
    if not isomorphic_quads(expected, actual):
        raise AssertionError(
            f"{context}: output is not isomorphic to the expected quads "
            f"({len(expected)} expected, {len(actual)} produced)\n{diff_quads(expected, actual)}"
        )
