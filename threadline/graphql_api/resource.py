"""One thread object as the loaders fetched it: its IRI and every outgoing statement, with typed accessors.

Loaders fetch *all* outgoing triples of a batch of subjects in one query instead of one query per field:
the schema's scalar fields and forward links then read from memory, so a selection costs one round trip
per nesting level however many fields it names. Statements arrive once per named graph that holds them
(queries see the union of the batch graphs), so values are de-duplicated here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import pyoxigraph as ox

from threadline.namespaces import RDF, TL

RDF_TYPE = RDF + "type"


@dataclass
class Resource:
    """Subject IRI plus its outgoing statements: predicate IRI -> distinct objects in arrival order."""

    iri: str
    props: dict[str, list[ox.NamedNode | ox.BlankNode | ox.Literal]] = field(default_factory=dict)

    def add(self, predicate: str, value: ox.NamedNode | ox.BlankNode | ox.Literal) -> None:
        values = self.props.get(predicate)
        if values is None:
            self.props[predicate] = [value]
        elif value not in values:
            values.append(value)

    @property
    def types(self) -> set[str]:
        return {v.value for v in self.props.get(RDF_TYPE, []) if isinstance(v, ox.NamedNode)}

    def has_type(self, local: str) -> bool:
        return TL + local in self.types

    # -- literal accessors (``local`` is the tl: local name) -----------------------------------------
    def literals(self, local: str) -> list[ox.Literal]:
        return [v for v in self.props.get(TL + local, []) if isinstance(v, ox.Literal)]

    def text(self, local: str) -> str | None:
        for value in self.props.get(TL + local, ()):
            if isinstance(value, ox.Literal):
                return value.value
        return None

    def texts(self, local: str) -> list[str]:
        return sorted(v.value for v in self.literals(local))

    def number(self, local: str) -> float | None:
        value = self.text(local)
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None

    def integer(self, local: str) -> int | None:
        value = self.number(local)
        return int(value) if value is not None else None

    def boolean(self, local: str) -> bool | None:
        value = self.text(local)
        return None if value is None else value.strip().lower() in ("true", "1")

    def datetime(self, local: str) -> datetime | None:
        return parse_datetime(self.text(local))

    def date(self, local: str) -> date | None:
        value = self.text(local)
        if value is None:
            return None
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None

    # -- links -------------------------------------------------------------------------------------
    def refs(self, local: str) -> list[str]:
        return [v.value for v in self.props.get(TL + local, []) if isinstance(v, ox.NamedNode)]

    def ref(self, local: str) -> str | None:
        for value in self.props.get(TL + local, ()):
            if isinstance(value, ox.NamedNode):
                return value.value
        return None


def parse_datetime(value: str | None) -> datetime | None:
    """An xsd:dateTime lexical form as a datetime (``Z`` as UTC); None for none or a malformed one."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
