"""Literal term maps compiled into closures: plain, language-tagged, datatyped (lexically checked), natural.

A mixin of ``TermCompiler`` (in ``terms``): literals are half of the term-map compiler and the part with the
most rules (R2RML natural mapping of JSON numbers, canonical xsd:double, dynamic datatype and language maps),
so they live here; the mixin uses the compiler's ``source``, ``natural``, ``getter``, ``values``,
``raw_values`` and ``_iri``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from threadline.errors import MappingError
from threadline.mapping.model import TermMap
from threadline.mapping.nquads import (
    RDF_LANGSTRING,
    XSD,
    escape_literal,
    is_absolute_iri,
    lexical_checker,
    plain_literal,
    valid_language,
)
from threadline.mapping.sources import RecordError
from threadline.mapping.templates import to_text

TermFn = Callable[[Any], list[str]]
_EMPTY: list[str] = []


class LiteralCompiler:
    """Literal half of ``TermCompiler``; see the module docstring for what it expects of its host."""

    source: Any
    natural: bool
    getter: Any
    values: Any
    raw_values: Any
    _iri: Any

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
                out: list[Any] = []
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
