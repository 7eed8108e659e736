"""Term maps compiled once into closures that return finished N-Quads term strings.

A compiled term map is ``fn(record) -> list[str]``: empty when a referenced value is null, several when
a reference is multi-valued (JSONPath / XPath), and each string is already escaped N-Quads text, so the
executor only concatenates. Checks that need the value (IRI validity, datatype lexical form) raise
``RecordError``; checks that do not (template syntax, constant term types) raise ``MappingError`` at
compile time.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from threadline.errors import MappingError
from threadline.mapping.model import TermMap
from threadline.mapping.nquads import (
    RDF_LANGSTRING,
    XSD,
    bnode_label,
    escape_literal,
    identity,
    iri_problem,
    iri_safe,
    is_absolute_iri,
    lexical_checker,
    plain_literal,
    uri_safe,
    valid_language,
)
from threadline.mapping.sources import Getter, RecordError, Source

TermFn = Callable[[Any], list[str]]
ValuesFn = Callable[[Any], list[str]]
_EMPTY: list[str] = []


def parse_template(template: str) -> list[tuple[bool, str]]:
    """Split a template into ``(is_reference, text)`` parts; ``\\{``, ``\\}`` and ``\\\\`` are escapes."""
    parts: list[tuple[bool, str]] = []
    buf: list[str] = []
    in_ref = False
    i = 0
    while i < len(template):
        ch = template[i]
        if ch == "\\":
            if i + 1 >= len(template) or template[i + 1] not in "{}\\":
                raise MappingError(f"template {template!r}: invalid escape at position {i}")
            buf.append(template[i + 1])
            i += 2
            continue
        if ch == "{":
            if in_ref:
                raise MappingError(f"template {template!r}: nested '{{' at position {i}")
            parts.append((False, "".join(buf)))
            buf, in_ref = [], True
        elif ch == "}":
            if not in_ref:
                raise MappingError(f"template {template!r}: unmatched '}}' at position {i}")
            if not buf:
                raise MappingError(f"template {template!r}: empty reference")
            parts.append((True, "".join(buf)))
            buf, in_ref = [], False
        else:
            buf.append(ch)
        i += 1
    if in_ref:
        raise MappingError(f"template {template!r}: unclosed '{{'")
    parts.append((False, "".join(buf)))
    return [p for p in parts if p[0] or p[1]]


def to_text(value: Any) -> str:
    if value.__class__ is str:
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def _as_list(getter: Getter) -> Callable[[Any], list[Any]]:
    fn, single = getter
    if not single:
        return fn

    def wrapped(rec: Any) -> list[Any]:
        v = fn(rec)
        return _EMPTY if v is None else [v]

    return wrapped


class TermCompiler:
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
            options = []
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

    def _single_literal(self, tm: TermMap) -> Callable[[Any], str | None]:
        if tm.kind == "template":
            lists = self._literal(tm)

            def first(rec: Any) -> str | None:
                out = lists(rec)
                return out[0] if out else None

            return first
        suffix = '"'
        checker = None
        if tm.language:
            suffix = '"@' + tm.language
        elif tm.datatype and tm.datatype != XSD + "string":
            if not is_absolute_iri(tm.datatype):
                raise MappingError(f"datatype {tm.datatype!r} is not an absolute IRI")
            suffix = '"^^<' + tm.datatype + ">"
            checker = lexical_checker(tm.datatype)
        field = tm.value
        name = _short(tm.datatype or "")
        index = self.source.column_index(tm.value)
        if index is not None:
            nulls = self.source.nulls

            def column(row: list[str]) -> str | None:
                v = row[index]
                if nulls and v in nulls:
                    return None
                if checker is not None and not checker(v):
                    raise RecordError(f"{v!r} is not a valid {name}", field)
                if '"' in v or "\\" in v or "\n" in v or "\r" in v:
                    return escape_literal(v)[:-1] + suffix
                return '"' + v + suffix

            return column
        fn = self.getter(tm.value)[0]

        def literal(rec: Any) -> str | None:
            v = fn(rec)
            if v is None:
                return None
            if v.__class__ is not str:
                v = to_text(v)
            if checker is not None and not checker(v):
                raise RecordError(f"{v!r} is not a valid {name}", field)
            if '"' in v or "\\" in v or "\n" in v or "\r" in v:
                return escape_literal(v)[:-1] + suffix
            return '"' + v + suffix

        return literal

    # -- terms --------------------------------------------------------------------------------------------
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

    def _literal_text(self, value: str, datatype: str | None, language: str | None, check: bool) -> str:
        if language:
            return escape_literal(value) + "@" + language
        if datatype and datatype != XSD + "string":
            if check:
                checker = lexical_checker(datatype)
                if checker is not None and not checker(value):
                    raise RecordError(f"{value!r} is not a valid {_short(datatype)}")
            return escape_literal(value) + "^^<" + datatype + ">"
        return escape_literal(value)

    def _literal(self, tm: TermMap) -> TermFn:
        field = tm.value if tm.kind == "reference" else None
        if tm.datatype_map is not None or tm.language_map is not None:
            return self._literal_dynamic(tm)
        if tm.language:
            suffix = "@" + tm.language
            values = self.values(tm)
            return lambda rec: [escape_literal(v) + suffix for v in values(rec)]
        datatype = tm.datatype
        if datatype == XSD + "string":
            datatype = None
        if datatype:
            if not is_absolute_iri(datatype):
                raise MappingError(f"datatype {datatype!r} is not an absolute IRI")
            values = self.values(tm)
            if self.natural and tm.kind == "reference" and datatype in (XSD + "double", XSD + "float"):
                raw = self.raw_values(tm)

                def values(rec: Any) -> list[str]:
                    return [_double(v) if _is_number(v) else to_text(v) for v in raw(rec)]

            suffix = "^^<" + datatype + ">"
            checker = lexical_checker(datatype)
            if checker is None:
                return lambda rec: [escape_literal(v) + suffix for v in values(rec)]
            name = _short(datatype)

            def typed(rec: Any) -> list[str]:
                out = []
                for v in values(rec):
                    if not checker(v):
                        raise RecordError(f"{v!r} is not a valid {name}", field)
                    out.append(escape_literal(v) + suffix)
                return out

            return typed
        if self.natural and tm.kind == "reference":
            raw = self.raw_values(tm)

            def natural(rec: Any) -> list[str]:
                return [_natural(v) for v in raw(rec)]

            return natural
        if tm.kind == "reference":
            fn, single = self.getter(tm.value)
            if single:

                def plain_one(rec: Any) -> list[str]:
                    v = fn(rec)
                    if v is None:
                        return _EMPTY
                    return [plain_literal(v if v.__class__ is str else to_text(v))]

                return plain_one
        values = self.values(tm)
        return lambda rec: [plain_literal(v) for v in values(rec)]

    def _literal_dynamic(self, tm: TermMap) -> TermFn:
        values = self.values(tm)
        field = tm.value if tm.kind == "reference" else None
        if tm.language_map is not None:
            langs = self.values(tm.language_map)

            def with_lang(rec: Any) -> list[str]:
                out = []
                tags = langs(rec)
                for tag in tags:
                    if not valid_language(tag):
                        raise RecordError(f"{tag!r} is not a valid language tag", field)
                for v in values(rec):
                    out.extend(escape_literal(v) + "@" + tag for tag in tags)
                return out

            return with_lang
        assert tm.datatype_map is not None
        dts = self._iri(tm.datatype_map, tm.datatype_map.term_type or "iri")

        def with_datatype(rec: Any) -> list[str]:
            out = []
            types = [d[1:-1] for d in dts(rec)]
            for v in values(rec):
                for dt in types:
                    if dt == RDF_LANGSTRING:
                        raise RecordError("rdf:langString needs a language tag", field)
                    out.append(self._literal_text(v, dt, None, check=True))
            return out

        return with_datatype


def _natural(value: Any) -> str:
    if value is True or value is False:
        return f'"{"true" if value else "false"}"^^<{XSD}boolean>'
    if isinstance(value, int):
        return f'"{value}"^^<{XSD}integer>'
    if isinstance(value, float):
        return f'"{_double(value)}"^^<{XSD}double>'
    return plain_literal(to_text(value))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _double(value: float) -> str:
    """Canonical xsd:double lexical form (``3.3E1``), as R2RML's natural mapping casts numbers."""
    mantissa, _, exponent = f"{value:E}".partition("E")
    mantissa = mantissa.rstrip("0")
    if mantissa.endswith("."):
        mantissa += "0"
    return f"{mantissa}E{int(exponent)}"


def _short(datatype: str) -> str:
    return "xsd:" + datatype[len(XSD) :] if datatype.startswith(XSD) else f"<{datatype}>"
