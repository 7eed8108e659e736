"""Named queries: the SPARQL files in ``queries/``, listed, described and run with typed parameters.

Each ``queries/NAME.rq`` starts with a header of ``#+ `` comment lines holding YAML (the convention grlc uses):
``title``, ``description``, ``parameters`` (name → type, required, default, description, example), and for
indicators ``kpi: true`` and ``materialise: true`` (answered from the summary graph kept by ``threadline.kpi``).
Parameter values are converted to typed RDF terms and bound as a ``VALUES`` block by the store layer
(``Store.query(params=...)``, ``threadline.store.params.bind``), never formatted into the text.

Served at ``/queries`` (the catalogue) and ``/queries/{name}`` (JSON or CSV, chosen by ``choose_format``: the
``format`` parameter, else ``Accept`` with its q-values through the app's one negotiation), and by
``threadline query``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import yaml

from threadline.config import REPO_ROOT
from threadline.errors import QueryError, UnknownFormat
from threadline.store.engines import truth
from threadline.store.params import Bindable, iri

QUERY_DIR = REPO_ROOT / "queries"
TYPES = ("string", "integer", "decimal", "boolean", "date", "dateTime", "iri")
XSD = "http://www.w3.org/2001/XMLSchema#"
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
JSON, CSV = "application/json", "text/csv"
FORMATS = {"json": JSON, "csv": CSV}


class UnknownQuery(QueryError):
    """No named query has that name (HTTP 404)."""

    status = 404


def _instant(text: str) -> datetime:
    """An xsd:dateTime parameter as an instant. The thread records every time in UTC with a zone, and SPARQL
    cannot subtract a zoned from an unzoned dateTime (the answer would be unbound: a CAPA without an age), so
    a bare date means midnight UTC and a dateTime without a zone is read as UTC."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return datetime.combine(date.fromisoformat(text), time(0), tzinfo=UTC)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?", text):
        raise ValueError(text)
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str = "string"
    required: bool = False
    default: Any = None
    description: str = ""
    example: Any = None

    def convert(self, raw: Any) -> Bindable:
        """The typed value of a parameter given as text (HTTP, CLI) or as a Python value."""
        text = str(raw).strip()
        try:
            if self.type == "string":
                return str(raw)
            if self.type == "integer":
                return int(text)
            if self.type == "decimal":
                return Decimal(text)
            if self.type == "boolean":
                if text.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(text)
                return text.lower() in ("true", "1")
            if self.type == "date":
                return date.fromisoformat(text)
            if self.type == "dateTime":
                return _instant(text)
            return iri(text)
        except (ValueError, InvalidOperation) as exc:
            raise QueryError(f"parameter {self.name!r}: {raw!r} is not a valid {self.type}") from exc

    def describe(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v not in (None, "")}


@dataclass(frozen=True)
class NamedQuery:
    name: str
    path: Path
    title: str
    description: str
    text: str
    parameters: tuple[Parameter, ...] = ()
    kpi: bool = False
    materialise: bool = False
    needs: tuple[str, ...] = ()  # store capabilities the query relies on (``threadline.store.engines``)
    extra: dict[str, Any] = field(default_factory=dict)

    def bindings(self, given: dict[str, Any]) -> dict[str, Bindable]:
        """Typed values for the given parameters plus defaults; unknown or missing ones are errors."""
        known = {p.name: p for p in self.parameters}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise QueryError(
                f"query {self.name!r} has no parameter {', '.join(map(repr, unknown))}; "
                f"it takes: {', '.join(known) or 'none'}"
            )
        out: dict[str, Bindable] = {}
        for parameter in self.parameters:
            if parameter.name in given and given[parameter.name] not in (None, ""):
                out[parameter.name] = parameter.convert(given[parameter.name])
            elif parameter.default is not None:
                out[parameter.name] = parameter.convert(parameter.default)
            elif parameter.required:
                raise QueryError(f"query {self.name!r} needs the parameter {parameter.name!r} ({parameter.type})")
        return out

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "parameters": [p.describe() for p in self.parameters],
            "kpi": self.kpi,
            "materialised": self.materialise,
            "sparql": self.text,
        }


def parse(path: Path) -> NamedQuery:
    """Read one ``.rq`` file and its header; a bad header names the file and the problem."""
    text = path.read_text(encoding="utf-8")
    header = "\n".join(
        line[3:] if line.startswith("#+ ") else "" for line in text.splitlines() if line.startswith("#+")
    )
    try:
        meta = yaml.safe_load(header) or {}
    except yaml.YAMLError as exc:
        raise QueryError(f"{path.name}: the #+ header is not valid YAML: {exc}") from exc
    if not isinstance(meta, dict) or not meta.get("title"):
        raise QueryError(f"{path.name}: the #+ header needs at least a title")
    parameters = []
    for name, spec in (meta.get("parameters") or {}).items():
        spec = spec or {}
        if spec.get("type", "string") not in TYPES or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
            raise QueryError(f"{path.name}: parameter {name!r} has an unknown type {spec.get('type')!r}")
        parameters.append(
            Parameter(
                name=name,
                type=spec.get("type", "string"),
                required=bool(spec.get("required", False)),
                default=spec.get("default"),
                description=str(spec.get("description", "")).strip(),
                example=spec.get("example"),
            )
        )
    known = {"title", "description", "parameters", "kpi", "materialise", "needs"}
    return NamedQuery(
        name=path.stem,
        path=path,
        title=str(meta["title"]).strip(),
        description=" ".join(str(meta.get("description", "")).split()),
        text=text,
        parameters=tuple(parameters),
        kpi=bool(meta.get("kpi", False)),
        materialise=bool(meta.get("materialise", False)),
        needs=tuple(str(n) for n in meta.get("needs") or ()),
        extra={k: v for k, v in meta.items() if k not in known},
    )


def catalogue(directory: Path | None = None) -> dict[str, NamedQuery]:
    folder = directory or QUERY_DIR
    return {q.name: q for q in (parse(p) for p in sorted(folder.glob("*.rq")) if _NAME.match(p.stem))}


def get(name: str, directory: Path | None = None) -> NamedQuery:
    queries = catalogue(directory)
    if name not in queries:
        raise UnknownQuery(f"no named query {name!r}; known: {', '.join(queries)}")
    return queries[name]


# -- plain values for JSON, CSV and tables -------------------------------------------------------------------


def python_value(term: Any) -> Any:
    """A JSON-friendly value: numbers and booleans typed, everything else its lexical form."""
    if term is None:
        return None
    if isinstance(term, ox.Literal):
        datatype = term.datatype.value.removeprefix(XSD)
        try:
            if datatype in ("integer", "int", "long", "short", "nonNegativeInteger", "positiveInteger"):
                return int(term.value)
            if datatype in ("decimal", "double", "float"):
                return float(term.value)
            if datatype == "boolean":
                return truth(term)
        except ValueError:
            return term.value
        return term.value
    return term.value


def rows_as_dicts(variables: list[str], rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    return [{name: python_value(term) for name, term in zip(variables, row, strict=True)} for row in rows]


def rows_from_sparql_json(body: bytes) -> tuple[list[str], list[dict[str, Any]]]:
    """Variables and plain rows from a SPARQL JSON results document."""
    document = json.loads(body)
    variables = document["head"]["vars"]
    rows = []
    for binding in document["results"]["bindings"]:
        row: dict[str, Any] = {}
        for name in variables:
            cell = binding.get(name)
            if cell is None:
                row[name] = None
            elif cell["type"] == "literal":
                row[name] = python_value(
                    ox.Literal(cell["value"], datatype=ox.NamedNode(cell.get("datatype", XSD + "string")))
                    if "xml:lang" not in cell
                    else ox.Literal(cell["value"], language=cell["xml:lang"])
                )
            else:
                row[name] = cell["value"]
        rows.append(row)
    return variables, rows


def choose_format(format: str | None, accept: str | None) -> str:
    """``application/json`` or ``text/csv`` for a run over HTTP: ``format`` if given (``UnknownFormat`` for
    another), else the client's preference by q-value (``NotAcceptable`` when it accepts neither)."""
    from threadline.sparql.negotiation import best

    if format:
        if format.strip().lower() not in FORMATS:
            raise UnknownFormat(f"format {format!r} is not offered here: use one of {', '.join(FORMATS)}")
        return FORMATS[format.strip().lower()]
    return best(accept, [JSON, CSV])


def to_csv(variables: list[str], rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(variables)
    for row in rows:
        writer.writerow(["" if row[v] is None else row[v] for v in variables])
    return out.getvalue()
