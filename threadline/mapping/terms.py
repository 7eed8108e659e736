"""Term maps compiled once into closures that return finished N-Quads term strings.

A compiled term map is ``fn(record) -> list[str]``: empty when a referenced value is null, several when
a reference is multi-valued (JSONPath / XPath), and each string is already escaped N-Quads text, so the
executor only concatenates. Checks that need the value (IRI validity, datatype lexical form) raise
``RecordError``; checks that do not (template syntax, constant term types) raise ``MappingError`` at
compile time.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

from threadline.errors import MappingError
from threadline.mapping.literals import LiteralCompiler
from threadline.mapping.model import TermMap
from threadline.mapping.nquads import (
    XSD,
    bnode_label,
    identity,
    iri_problem,
    iri_safe,
    is_absolute_iri,
    uri_safe,
)
from threadline.mapping.sources import Getter, RecordError, Source
from threadline.mapping.templates import parse_template, to_text

TermFn = Callable[[Any], list[str]]
ValuesFn = Callable[[Any], list[str]]
_EMPTY: list[str] = []


def _as_list(getter: Getter) -> Callable[[Any], list[Any]]:
    fn, single = getter
    if not single:
        return fn

    def wrapped(rec: Any) -> list[Any]:
        v = fn(rec)
        return _EMPTY if v is None else [v]

    return wrapped


class TermCompiler(LiteralCompiler):
    """Compiles the term maps of one triples map against one opened source."""

    def __init__(self, source: Source, base_iri: str | None, natural_types: bool) -> None:
        self.source = source
        self.base = base_iri or ""
        self.natural = natural_types
        self._getters: dict[str, Getter] = {}
        self.blank_counter = itertools.count(1)

    def getter(self, reference: str) -> Getter:
        got = self._getters.get(reference)
        if got is None:
            got = self._getters[reference] = self.source.getter(reference)
        return got

    # -- raw values ---------------------------------------------------------------------------------------
    def values(self, tm: TermMap, encode: Callable[[str], str] = identity) -> ValuesFn:
        """``fn(record) -> list of strings``: the term map's lexical values before term construction."""
        if tm.kind == "constant":
            const = [tm.value]
            return lambda rec: const
        if tm.kind == "reference":
            fn, single = self.getter(tm.value)
            if single:

                def one(rec: Any) -> list[str]:
                    v = fn(rec)
                    return _EMPTY if v is None else [to_text(v)]

                return one
            return lambda rec: [to_text(v) for v in fn(rec)]
        parts = parse_template(tm.value)
        refs = [(self.getter(text) if is_ref else None, text) for is_ref, text in parts]
        if len(refs) == 2 and refs[0][0] is None and refs[1][0] is not None and refs[1][0][1]:
            prefix = refs[0][1]
            fn1 = refs[1][0][0]

            def prefixed(rec: Any) -> list[str]:
                v = fn1(rec)
                return _EMPTY if v is None else [prefix + encode(to_text(v))]

            return prefixed
        if all(g is None or g[1] for g, _ in refs):
            pieces = [(g[0] if g else None, text) for g, text in refs]

            def singles(rec: Any) -> list[str]:
                out = []
                for fn, text in pieces:
                    if fn is None:
                        out.append(text)
                    else:
                        v = fn(rec)
                        if v is None:
                            return _EMPTY
                        out.append(encode(to_text(v)))
                return ["".join(out)]

            return singles
        lists = [(_as_list(g) if g else None, text) for g, text in refs]

        def product(rec: Any) -> list[str]:
            options: list[Sequence[str]] = []
            for fn, text in lists:
                if fn is None:
                    options.append((text,))
                else:
                    vs = fn(rec)
                    if not vs:
                        return _EMPTY
                    options.append([encode(to_text(v)) for v in vs])
            return ["".join(combo) for combo in itertools.product(*options)]

        return product

    def raw_values(self, tm: TermMap) -> Callable[[Any], list[Any]]:
        """Like ``values`` but keeps JSON scalars typed, for natural datatypes."""
        if tm.kind == "reference":
            return _as_list(self.getter(tm.value))
        return self.values(tm)

    def key_values(self, tm: TermMap) -> Callable[[Any], list[str]]:
        """The referenced values of a subject map, for lineage source keys."""
        if tm.kind == "constant" or tm.kind == "none":
            return lambda rec: []
        refs = [tm.value] if tm.kind == "reference" else [t for r, t in parse_template(tm.value) if r]
        fns = [_as_list(self.getter(r)) for r in refs]

        def keys(rec: Any) -> list[str]:
            out = []
            for fn in fns:
                vs = fn(rec)
                out.append(to_text(vs[0]) if vs else "")
            return out

        return keys

    # -- single-valued fast path ----------------------------------------------------------------------------
    def single(self, tm: TermMap, role: str) -> Callable[[Any], str | None] | None:
        """``fn(record) -> term or None`` when the term map can only ever yield one value, else None.

        This is the hot path for CSV and flat JSON: no list per term, CSV columns read by index
        directly, and the literal's quotes added inline.
        """
        if tm.kind not in ("reference", "template"):
            return None
        term_type = tm.term_type or "literal"
        if tm.datatype_map is not None or tm.language_map is not None or term_type == "blank":
            return None
        refs = [tm.value] if tm.kind == "reference" else [t for r, t in parse_template(tm.value) if r]
        if not all(self.getter(r)[1] for r in refs):
            return None
        if term_type == "literal":
            if (
                self.natural
                and tm.kind == "reference"
                and not tm.language
                and tm.datatype
                in (
                    None,
                    XSD + "double",
                    XSD + "float",
                )
            ):
                return None
            return self._single_literal(tm)
        if term_type in ("iri", "uri") and tm.kind == "template":
            parts = parse_template(tm.value)
            if len(parts) == 2 and not parts[0][0] and parts[1][0]:
                prefix = "<" + parts[0][1]
                encode = iri_safe if term_type == "iri" else uri_safe
                fn = self.getter(parts[1][1])[0]
                if is_absolute_iri(parts[0][1]) and not any(c in prefix[1:] for c in ' <>"{}|^`\\'):

                    def iri_one(rec: Any) -> str | None:
                        v = fn(rec)
                        if v is None:
                            return None
                        return prefix + encode(v if v.__class__ is str else to_text(v)) + ">"

                    return iri_one
        lists = self.term(tm, role)

        def first(rec: Any) -> str | None:
            out = lists(rec)
            return out[0] if out else None

        return first

    def term(self, tm: TermMap, role: str) -> TermFn:
        term_type = tm.term_type or ("iri" if tm.kind == "constant" else "literal")
        if tm.kind == "constant":
            return self._constant(tm, role)
        if term_type == "blank":
            return self._blank(tm)
        if term_type in ("iri", "uri", "unsafe_iri"):
            return self._iri(tm, term_type)
        return self._literal(tm)

    def _constant(self, tm: TermMap, role: str) -> TermFn:
        if tm.term_type == "literal":
            text = self._literal_text(tm.value, tm.datatype, tm.language, check=True)
        else:
            if role == "graph" and tm.value == "":
                return lambda rec: [""]
            value = tm.value if is_absolute_iri(tm.value) else self.base + tm.value
            problem = iri_problem(value)
            if problem:
                raise MappingError(f"constant {role}: {problem}")
            text = f"<{value}>"
        const = [text]
        return lambda rec: const

    def _blank(self, tm: TermMap) -> TermFn:
        if tm.kind == "none":
            counter = self.blank_counter
            return lambda rec: [f"_:n{next(counter)}"]
        values = self.values(tm)
        return lambda rec: [bnode_label(v) for v in values(rec)]

    def _iri(self, tm: TermMap, term_type: str) -> TermFn:
        if tm.kind == "template":
            encode = {"iri": iri_safe, "uri": uri_safe}.get(term_type, identity)
            values = self.values(tm, encode)
            parts = parse_template(tm.value)
            fixed_prefix = parts[0][1] if parts and not parts[0][0] else ""
            literal_text = "".join(t for r, t in parts if not r)
            safe = (
                term_type != "unsafe_iri"
                and is_absolute_iri(fixed_prefix)
                and iri_problem(fixed_prefix + "x") is None
                and not any(c in literal_text for c in ' <>"{}|^`\\')
            )
            if safe:

                def fast(rec: Any) -> list[str]:
                    return ["<" + v + ">" for v in values(rec)]

                return fast
        else:
            values = self.values(tm)
        base = self.base
        check = term_type != "unsafe_iri"

        def checked(rec: Any) -> list[str]:
            out = []
            for v in values(rec):
                if not is_absolute_iri(v):
                    v = base + v
                if check:
                    problem = iri_problem(v)
                    if problem:
                        raise RecordError(problem, tm.value if tm.kind == "reference" else None)
                out.append("<" + v + ">")
            return out

        return checked


__all__ = ["TermCompiler", "parse_template", "to_text"]
