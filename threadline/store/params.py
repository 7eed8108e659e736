"""Bind query parameters as a ``VALUES`` block, never by formatting values into SPARQL.

pyoxigraph's own ``substitutions=`` only accepts variables that appear in the SELECT projection, and remote
stores have no binding API at all, so Threadline binds every parameter the same portable way: the values are
turned into RDF terms (IRIs validated, literals escaped by pyoxigraph's serialiser) and placed in a ``VALUES``
block at the start of the query's outermost group, where every SPARQL optimiser we target joins it first.
Placing it needs the position of that group's opening brace; the SPARQL lexer (``lexer``) finds it, because a
regular expression cannot tell a brace inside a literal, IRI or comment from a real one.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal

import pyoxigraph as ox

from threadline.errors import QueryError
from threadline.store.lexer import tokens

XSD = "http://www.w3.org/2001/XMLSchema#"
_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Bindable = ox.NamedNode | ox.Literal | ox.BlankNode | str | int | float | bool | Decimal | date | datetime


def to_term(value: Bindable) -> ox.NamedNode | ox.Literal | ox.BlankNode:
    """Turn a Python value into the RDF term it denotes (plain ``str`` is a string literal, not an IRI)."""
    if isinstance(value, ox.NamedNode | ox.Literal | ox.BlankNode):
        return value
    if isinstance(value, bool):
        return ox.Literal("true" if value else "false", datatype=ox.NamedNode(XSD + "boolean"))
    if isinstance(value, int):
        return ox.Literal(str(value), datatype=ox.NamedNode(XSD + "integer"))
    if isinstance(value, Decimal):
        return ox.Literal(format(value, "f"), datatype=ox.NamedNode(XSD + "decimal"))
    if isinstance(value, float):
        return ox.Literal(repr(value), datatype=ox.NamedNode(XSD + "double"))
    if isinstance(value, datetime):
        return ox.Literal(value.isoformat(), datatype=ox.NamedNode(XSD + "dateTime"))
    if isinstance(value, date):
        return ox.Literal(value.isoformat(), datatype=ox.NamedNode(XSD + "date"))
    if isinstance(value, str):
        return ox.Literal(value)
    raise QueryError(f"cannot bind a value of type {type(value).__name__}")


def iri(value: str) -> ox.NamedNode:
    """An IRI parameter, validated; a bad IRI is the caller's error, not a store error."""
    try:
        return ox.NamedNode(value)
    except ValueError as exc:
        raise QueryError(f"not a valid IRI: {value!r}") from exc


def values_block(params: Mapping[str, Bindable | list[Bindable]]) -> str:
    """``VALUES`` clauses for the parameters; a list value binds the variable to each of its members."""
    clauses = []
    for name, value in params.items():
        if not _VAR.match(name):
            raise QueryError(f"invalid parameter name {name!r}")
        members = value if isinstance(value, list | tuple) else [value]
        terms = " ".join(str(to_term(member)) for member in members)
        clauses.append(f"VALUES ?{name} {{ {terms} }}")
    return " ".join(clauses)


def bind(query: str, params: Mapping[str, Bindable | list[Bindable]] | None) -> str:
    """Return ``query`` with ``params`` bound at the start of its outermost group pattern."""
    if not params:
        return query
    position = _first_group_brace(query)
    if position is None:
        raise QueryError("cannot bind parameters: the query has no group pattern")
    return f"{query[: position + 1]} {values_block(params)} {query[position + 1 :]}"


@functools.lru_cache(maxsize=2048)
def _first_group_brace(text: str) -> int | None:
    """Index of the first ``{`` outside strings, IRIs and comments (cached: the same query texts come back with
    new parameters, and lexing a long query costs 0.04-0.2 ms)."""
    return next((t.start for t in tokens(text) if t.kind == "punct" and t.text == "{"), None)
