"""A KPI split into per-entity contributions, per-group partials and the rows computed from those partials.

Why: a materialised KPI aggregates over every unit or operation record, so recomputing it after a load costs a
scan of the thread (seconds to minutes at 100k units) even when the load touched 100 units. Each aggregate
we ship is, underneath, a sum over entities (units, operation records) of what each entity contributes to a
group (a revision, a work centre, an equipment and routing step): counts and sums, which can be added and
taken away, and minima and maxima, which can be extended. ``queries/NAME.incremental.yaml`` declares that
split beside the query:

- ``entity``: the variable naming the entity; ``reads``: the path steps from an entity whose triples its
  contribution reads (``forward`` predicates read as subject, ``inverse`` ones as object, ``depth`` steps) —
  what ``threadline.kpi.delta`` walks to find the entities a load can have changed;
- ``contribution``: a SELECT giving, per entity and group, the parts (``{{entities}}`` marks where a
  ``VALUES`` block restricts it to some entities);
- ``whole`` (optional): the same SELECT for every entity at once, each triple pattern in a sub-select of its own.
  With a ``VALUES`` block, the star of ``contribution`` is the fast way (a seek per listed entity); over every
  entity it is a seek per record and property, where one pass over each property's index, joined in memory,
  takes a fifth of the time (docs/sparql.md, "Query shape"). Absent: the contribution without ``VALUES``;
- ``groups``, ``parts`` (``sum``, ``min`` or ``max``) and ``count`` (the part that is zero when a group is
  empty);
- ``rows``: the query's own outer part over the partials (``{{partials}}`` marks where they are bound), which
  gives the plain query's rows — checked by ``tests/test_kpi_incremental.py`` over random load sequences.

Sums are added in Python on exact decimals; minima and maxima are taken by the store's own engine (SPARQL
ordering of dateTimes and numbers), so no comparison is re-implemented here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox
import yaml

from threadline.errors import QueryError
from threadline.namespaces import TL

if TYPE_CHECKING:
    from threadline.store import SelectResult, Store

XSD = "http://www.w3.org/2001/XMLSchema#"
INTEGER, DECIMAL = XSD + "integer", XSD + "decimal"
KINDS = ("sum", "min", "max")

Term = Any  # an ox term or None
Group = tuple[Term, ...]
Parts = dict[str, Term]


class Unsure(Exception):
    """The incremental path cannot vouch for the result (an unbound part, an extreme taken away, an inconsistent
    summary): the caller recomputes the KPI in full."""


@dataclass(frozen=True)
class Decomposition:
    name: str
    entity: str
    forward: tuple[str, ...]
    inverse: tuple[str, ...]
    depth: int
    groups: tuple[str, ...]
    parts: dict[str, str]
    count: str
    contribution: str
    rows: str
    whole: str | None = None

    @property
    def digest(self) -> str:
        """Names this declaration: partials stored under another one are not reused (they may mean other sums)."""
        parts = repr(sorted(self.parts.items()))
        text = "\n".join([self.entity, *self.groups, parts, self.contribution, self.rows, self.whole or ""])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def contributions_query(self, entities: list[Term] | None) -> str:
        """The contribution query for ``entities`` (None: every entity)."""
        block = "" if entities is None else f"VALUES ?{self.entity} {{ {' '.join(map(str, entities))} }}"
        return self.contribution.replace("{{entities}}", block)

    def full_query(self) -> str:
        """Every group's partials straight from the data (a full recompute)."""
        aggregates = " ".join(f"({self.parts[p].upper()}(?{p}) AS ?{p})" for p in self.parts)
        keys = " ".join(f"?{g}" for g in self.groups)
        lines = (self.whole or self.contributions_query(None)).splitlines()
        prologue = "\n".join(x for x in lines if x.strip().upper().startswith("PREFIX"))
        body = "\n".join(x for x in lines if not x.strip().upper().startswith("PREFIX"))
        return f"{prologue}\nSELECT {keys} {aggregates} WHERE {{ {{ {body} }} }} GROUP BY {keys}"

    def rows_query(self, partials: dict[Group, Parts]) -> str:
        names = [*self.groups, *self.parts]
        lines = " ".join(
            "(" + " ".join(str(t) for t in (*group, *(parts[p] for p in self.parts))) + ")"
            for group, parts in sorted(partials.items(), key=lambda item: tuple(map(str, item[0])))
        )
        block = f"VALUES ({' '.join('?' + n for n in names)}) {{ {lines} }}"
        return self.rows.replace("{{partials}}", block)


def declared(query_path: Path) -> Decomposition | None:
    """The decomposition declared beside ``queries/NAME.rq``, if any."""
    path = query_path.with_suffix(".incremental.yaml")
    return _parse(path, path.stat().st_mtime_ns) if path.exists() else None


@cache
def _parse(path: Path, _mtime: int) -> Decomposition:
    name = path.name.removesuffix(".incremental.yaml")
    try:
        meta = yaml.safe_load(path.read_text(encoding="utf-8"))
        reads = meta["reads"]
        parts = {str(k): str(v) for k, v in meta["parts"].items()}
        out = Decomposition(
            name=name,
            entity=str(meta["entity"]),
            forward=tuple(_iri(p) for p in reads.get("forward") or ()),
            inverse=tuple(_iri(p) for p in reads.get("inverse") or ()),
            depth=int(reads["depth"]),
            groups=tuple(str(g) for g in meta["groups"]),
            parts=parts,
            count=str(meta["count"]),
            contribution=str(meta["contribution"]),
            rows=str(meta["rows"]),
            whole=str(meta["whole"]) if meta.get("whole") else None,
        )
    except (yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise QueryError(f"{path.name}: not a valid incremental declaration ({exc!r})") from exc
    bad = [k for k in parts.values() if k not in KINDS] + ([] if out.count in parts else [out.count])
    if bad or "{{partials}}" not in out.rows or "{{entities}}" in (out.whole or ""):
        raise QueryError(
            f"{path.name}: unknown part kinds or count {bad}, no {{{{partials}}}} in rows, or {{{{entities}}}} in whole"
        )
    return out


def _iri(curie: str) -> str:
    return TL + curie.removeprefix("tl:") if curie.startswith("tl:") else curie


def by_group(d: Decomposition, result: SelectResult) -> dict[Group, list[Parts]]:
    """Contribution (or partial) rows keyed by group."""
    index = {v: i for i, v in enumerate(result.variables)}
    out: dict[Group, list[Parts]] = {}
    for row in result.rows:
        group = tuple(row[index[g]] for g in d.groups)
        out.setdefault(group, []).append({p: row[index[p]] for p in d.parts})
    return out


def full_partials(store: Store, d: Decomposition) -> dict[Group, Parts]:
    """Every group's partials computed from the data; Unsure if a part is unbound (an error in the query's
    arithmetic, which the rows must then take from the plain query)."""
    partials = {group: rows[0] for group, rows in by_group(d, store.select(d.full_query())).items()}
    if any(v is None for parts in partials.values() for v in parts.values()) or any(
        t is None for g in partials for t in g
    ):
        raise Unsure(f"{d.name}: a group or part is unbound")
    return partials


def combine(
    d: Decomposition, old: dict[Group, Parts], removed: dict[Group, list[Parts]], added: dict[Group, list[Parts]]
) -> dict[Group, Parts]:
    """The partials after taking away the ``removed`` contributions and adding the ``added`` ones."""
    out = dict(old)
    for group in set(removed) | set(added):
        gone, new = removed.get(group, []), added.get(group, [])
        if any(v is None for c in (*gone, *new) for v in c.values()) or any(t is None for t in group):
            raise Unsure(f"{d.name}: a contribution has an unbound part")
        base = out.get(group)
        if base is None and gone:
            raise Unsure(f"{d.name}: a contribution is taken from a group the summary does not hold")
        parts: Parts = {}
        for part, kind in d.parts.items():
            values = [c[part] for c in new]
            if kind == "sum":
                total = _sum([base[part]] if base else []) + _sum(values) - _sum([c[part] for c in gone])
                typed = [*values, *([base[part]] if base else [])]
                parts[part] = _literal(total, any(t.datatype.value != INTEGER for t in typed))
            elif base is not None and any(c[part] == base[part] for c in gone):
                raise Unsure(f"{d.name}: the {kind} of a group is taken away")
            else:
                parts[part] = _extreme(kind, values + ([base[part]] if base else []))
        if _number(parts[d.count]) < 0:
            raise Unsure(f"{d.name}: a group's count went below zero")
        if _number(parts[d.count]) == 0:
            out.pop(group, None)
        else:
            out[group] = parts
    return out


def _number(term: Term) -> Decimal:
    if not isinstance(term, ox.Literal) or term.datatype.value not in (INTEGER, DECIMAL):
        raise Unsure(f"not an integer or decimal: {term}")
    return Decimal(term.value)


def _sum(terms: list[Term]) -> Decimal:
    return sum((_number(t) for t in terms), Decimal(0))


def _literal(value: Decimal, decimal: bool) -> ox.Literal:
    if not decimal:
        return ox.Literal(str(int(value)), datatype=ox.NamedNode(INTEGER))
    return ox.Literal(format(value.normalize(), "f"), datatype=ox.NamedNode(DECIMAL))


_ENGINE = ox.Store()  # empty: only evaluates MIN/MAX over VALUES, as the store's engine orders terms


def _extreme(kind: str, terms: list[Term]) -> Term:
    values = " ".join(str(t) for t in terms)
    rows = list(_ENGINE.query(f"SELECT ({kind.upper()}(?x) AS ?m) WHERE {{ VALUES ?x {{ {values} }} }}"))  # type: ignore[arg-type]  # a SELECT answers QuerySolutions
    value = rows[0]["m"] if rows else None
    if value is None:
        raise Unsure(f"no {kind} of {values}")
    return value
