"""N-Quads term serialisation, IRI percent-encoding and lexical checks, tuned for the hot loop.

The engine never builds rdflib terms per triple: every term is produced as its final N-Quads text, so
these helpers work on ``str`` and keep bounded memo tables for the values that repeat (IRIs, codes,
enumerations). The caches are cleared when they grow past ``CACHE_LIMIT`` so memory stays flat on
inputs with millions of distinct keys.
"""

from __future__ import annotations

import re
from collections.abc import Callable

CACHE_LIMIT = 20_000

XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
RDF_LANGSTRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"

# iunreserved of RFC 3987: ALPHA / DIGIT / "-" / "." / "_" / "~" / ucschar. Everything else in a template
# value is percent-encoded (R2RML / RML-Core "IRI-safe" form).
_UNRESERVED = re.compile(r"[A-Za-z0-9\-._~]*\Z")
_IRI_SAFE = re.compile(
    "[A-Za-z0-9\\-._~"
    "\u00a0-\ud7ff\uf900-\ufdcf\ufdf0-\uffef"
    "\U00010000-\U0001fffd\U00020000-\U0002fffd\U00030000-\U0003fffd\U00040000-\U0004fffd"
    "\U00050000-\U0005fffd\U00060000-\U0006fffd\U00070000-\U0007fffd\U00080000-\U0008fffd"
    "\U00090000-\U0009fffd\U000a0000-\U000afffd\U000b0000-\U000bfffd\U000c0000-\U000cfffd"
    "\U000d0000-\U000dfffd\U000e1000-\U000efffd]*\\Z"
)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_BAD_IRI_CHAR = re.compile(r'[\x00-\x20<>"{}|^`\\]')
_LANG = re.compile(r"(?:[a-zA-Z]{2,3}|[xXiI])(?:-[a-zA-Z0-9]{1,8})*\Z")
_BNODE_SAFE = re.compile(r"[A-Za-z0-9_\-]+\Z")

_iri_safe_cache: dict[str, str] = {}
_uri_safe_cache: dict[str, str] = {}
_literal_cache: dict[str, str] = {}


def _pct(ch: str) -> str:
    return "".join(f"%{b:02X}" for b in ch.encode("utf-8"))


def _cached_encoder(safe: re.Pattern[str], cache: dict[str, str]) -> Callable[[str], str]:
    """A percent-encoder keeping the characters ``safe`` matches, memoised (template values repeat a lot)."""

    def encode(value: str) -> str:
        hit = cache.get(value)
        if hit is not None:
            return hit
        out = value if safe.match(value) else "".join(ch if safe.match(ch) else _pct(ch) for ch in value)
        if len(cache) > CACHE_LIMIT:
            cache.clear()
        cache[value] = out
        return out

    return encode


# Percent-encode a template value so it cannot change the IRI's structure (RML IRI-safe).
iri_safe = _cached_encoder(_IRI_SAFE, _iri_safe_cache)
# Percent-encode every non-unreserved character, UTF-8 bytes included (RML-Core ``rml:URI``).
uri_safe = _cached_encoder(_UNRESERVED, _uri_safe_cache)


def identity(value: str) -> str:
    return value


def is_absolute_iri(value: str) -> bool:
    return _SCHEME.match(value) is not None


def iri_problem(value: str) -> str | None:
    """Why ``value`` is not an absolute IRI we can write to N-Quads, or None when it is fine."""
    if not _SCHEME.match(value):
        return f"{value!r} is not an absolute IRI"
    bad = _BAD_IRI_CHAR.search(value)
    if bad:
        return f"IRI {value!r} contains the forbidden character {bad.group()!r}"
    return None


def escape_literal(value: str) -> str:
    """The quoted N-Quads form of a lexical value (without datatype / language)."""
    if '"' in value or "\\" in value or "\n" in value or "\r" in value:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") + '"'
    return '"' + value + '"'


def plain_literal(value: str) -> str:
    hit = _literal_cache.get(value)
    if hit is None:
        hit = escape_literal(value)
        if len(value) < 64:
            if len(_literal_cache) > CACHE_LIMIT:
                _literal_cache.clear()
            _literal_cache[value] = hit
    return hit


def valid_language(tag: str) -> bool:
    return _LANG.match(tag) is not None


def bnode_label(value: str) -> str:
    """A blank node label that is valid N-Quads for any value (deterministic, so equal values meet)."""
    if _BNODE_SAFE.match(value):
        return "_:v" + value
    return "_:x" + value.encode("utf-8").hex()


# Lexical forms of the XSD datatypes whose values we check (others pass through unchanged).
_DATE_TZ = r"(?:Z|[+-](?:(?:0\d|1[0-3]):[0-5]\d|14:00))?"
_DATATYPE_RE: dict[str, re.Pattern[str]] = {
    XSD + "integer": re.compile(r"[+-]?\d+\Z"),
    XSD + "int": re.compile(r"[+-]?\d+\Z"),
    XSD + "long": re.compile(r"[+-]?\d+\Z"),
    XSD + "decimal": re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)\Z"),
    XSD + "double": re.compile(r"(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]?INF|NaN)\Z"),
    XSD + "float": re.compile(r"(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]?INF|NaN)\Z"),
    XSD + "boolean": re.compile(r"(?:true|false|1|0)\Z"),
    XSD + "date": re.compile(r"-?\d{4,}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])" + _DATE_TZ + r"\Z"),
    XSD + "dateTime": re.compile(
        r"-?\d{4,}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?"
        + _DATE_TZ
        + r"\Z|-?\d{4,}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T24:00:00(?:\.0+)?"
        + _DATE_TZ
        + r"\Z"
    ),
}
_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _day_fits(value: str) -> bool:
    """The regex accepts 31 for every month; reject 2024-02-30 and 2023-02-29 here."""
    body = value[1:] if value.startswith("-") else value
    year_s, month_s, rest = body.split("-", 2)
    month, day = int(month_s), int(rest[:2])
    if day > _DAYS[month - 1]:
        return False
    if month == 2 and day == 29:
        year = int(year_s)
        return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return True


def lexical_checker(datatype: str) -> Callable[[str], bool] | None:
    """A fast validity test for ``datatype``'s lexical space, or None if we do not check that type."""
    pattern = _DATATYPE_RE.get(datatype)
    if pattern is None:
        return None
    match = pattern.match
    if datatype in (XSD + "date", XSD + "dateTime"):
        return lambda value: match(value) is not None and _day_fits(value)
    return lambda value: match(value) is not None
