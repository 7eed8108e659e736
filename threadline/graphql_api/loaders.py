"""Per-request batch loaders: every object, relation and trace of one nesting level in one store call.

Strawberry's ``DataLoader`` collects the keys every resolver of a level asks for during one event-loop
tick and hands them to the batch function at once; each batch function runs ONE SPARQL query with the
keys bound as a VALUES block. Loaders that find objects (inverse links, lookups, pages) also *prime* the
describe loader with the statements they fetched, so the objects are never fetched twice. Store calls run
in a worker thread (``run_in_threadpool``): pyoxigraph releases the GIL, so the event loop stays free.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

import pyoxigraph as ox
from starlette.concurrency import run_in_threadpool
from strawberry.dataloader import DataLoader

from threadline.graphql_api import compiler
from threadline.graphql_api.resource import Resource
from threadline.store import SelectResult, Store


@dataclass(frozen=True)
class Edge:
    """One genealogy or BOM edge: ``parent`` consumed / came from / uses ``child``."""

    parent: str
    relation: str
    child: str


@dataclass(frozen=True)
class BomUse:
    """``revision`` (a revision of ``parent_part``) lists ``part`` on BOM line ``line``."""

    revision: str
    line: str
    part: str
    parent_part: str


@dataclass
class SourceRecordRow:
    record: str
    graph: str
    file: str | None = None
    key: str | None = None
    system: str | None = None
    locators: list[str] = field(default_factory=list)
    activity: str | None = None
    started: str | None = None
    ended: str | None = None
    agent: str | None = None
    activity_system: str | None = None


@dataclass
class Origin:
    """Where a lot came from: the received lots behind it, their suppliers and receipts."""

    source_lots: list[str] = field(default_factory=list)
    suppliers: list[str] = field(default_factory=list)
    receipts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Impacted:
    unit: str
    open_ncr: bool
    open_capa: bool


def _node(iri: str) -> ox.NamedNode:
    return ox.NamedNode(iri)


def _v(term: Any) -> str | None:
    return None if term is None else term.value


class Loaders:
    """All loaders of one GraphQL request (caches live exactly as long as the request)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.describe: DataLoader[str, Resource | None] = DataLoader(self._describe)
        # Objects already fetched (None: fetched, no statements): lets forward links resolve synchronously.
        self.loaded: dict[str, Resource | None] = {}
        self.revision: DataLoader[tuple[str, str], Resource | None] = DataLoader(self._revision)
        self.backward: DataLoader[str, list[Edge]] = DataLoader(self._backward)
        self.forward: DataLoader[str, list[tuple[str, bool]]] = DataLoader(self._forward)
        self.origin: DataLoader[str, Origin] = DataLoader(self._origin)
        self.where_used: DataLoader[str, list[BomUse]] = DataLoader(self._where_used)
        self.capa_units: DataLoader[str, list[str]] = DataLoader(self._capa_units)
        self.provenance: DataLoader[str, list[SourceRecordRow]] = DataLoader(self._provenance)
        self._inverse: dict[str, DataLoader[str, list[Resource]]] = {}
        self._lookup: dict[tuple[str, str], DataLoader[str, Resource | None]] = {}
        self._impact: dict[date, DataLoader[str, list[Impacted]]] = {}
        self._fields: dict[frozenset[str], DataLoader[str, Resource | None]] = {}

    async def select(self, query: str, params: dict[str, Any] | None = None) -> SelectResult:
        return await run_in_threadpool(self.store.select, query, params)

    # -- objects -----------------------------------------------------------------------------------
    def _collect(self, result: SelectResult, subject: str = "s", p: str = "p", o: str = "o") -> dict[str, Resource]:
        si, pi, oi = (result.variables.index(v) for v in (subject, p, o))
        out: dict[str, Resource] = {}
        for row in result.rows:
            s = row[si].value  # type: ignore[union-attr]
            resource = out.get(s) or out.setdefault(s, Resource(s))
            resource.add(row[pi].value, row[oi])  # type: ignore[union-attr,arg-type]
        return out

    def _prime(self, resources: dict[str, Resource]) -> None:
        for iri, resource in resources.items():
            self.describe.prime(iri, resource)
            self.loaded.setdefault(iri, resource)

    async def _describe(self, keys: Sequence[str]) -> list[Resource | None]:
        result = await self.select(compiler.DESCRIBE, {"s": [_node(k) for k in keys]})
        found = self._collect(result)
        for key in keys:
            self.loaded.setdefault(key, found.get(key))
        return [found.get(k) for k in keys]

    def fields(self, predicates: frozenset[str]) -> DataLoader[str, Resource | None]:
        """Loader of *some* statements of objects: only ``predicates`` (full IRIs taken from the schema).

        The objects it returns are partial, so they never enter the ``describe`` cache."""
        loader = self._fields.get(predicates)
        if loader is None:
            query = compiler.describe_only(sorted(predicates))

            async def batch(keys: Sequence[str]) -> list[Resource | None]:
                found = self._collect(await self.select(query, {"s": [_node(k) for k in keys]}))
                return [found.get(k) for k in keys]

            loader = self._fields[predicates] = DataLoader(batch)
        return loader

    def inverse(self, predicate_local: str) -> DataLoader[str, list[Resource]]:
        """Loader of the subjects linking to a key through ``tl:<predicate_local>``."""
        loader = self._inverse.get(predicate_local)
        if loader is None:
            query = compiler.inverse(predicate_local)

            async def batch(keys: Sequence[str]) -> list[list[Resource]]:
                result = await self.select(query, {"o": [_node(k) for k in keys]})
                oi = result.variables.index("o")
                by_key: dict[str, set[str]] = defaultdict(set)
                for row in result.rows:
                    by_key[row[oi].value].add(row[1].value)  # type: ignore[union-attr]
                found = self._collect(result, "s", "p", "v")
                self._prime(found)
                return [[found[s] for s in sorted(by_key.get(k, ()))] for k in keys]

            loader = self._inverse[predicate_local] = DataLoader(batch)
        return loader

    def lookup(self, key_local: str, class_local: str) -> DataLoader[str, Resource | None]:
        """Loader of objects by a human identifier (serial number, lot number, NCR number, ...)."""
        loader = self._lookup.get((key_local, class_local))
        if loader is None:
            query = compiler.lookup(key_local, class_local)

            async def batch(keys: Sequence[str]) -> list[Resource | None]:
                result = await self.select(query, {"key": list(keys)})
                ki, si = result.variables.index("key"), result.variables.index("s")
                subject_of = {row[ki].value: row[si].value for row in result.rows}  # type: ignore[union-attr]
                found = self._collect(result)
                self._prime(found)
                return [found.get(subject_of.get(k, "")) for k in keys]

            loader = self._lookup[(key_local, class_local)] = DataLoader(batch)
        return loader

    async def _revision(self, keys: Sequence[tuple[str, str]]) -> list[Resource | None]:
        result = await self.select(
            compiler.REVISION_LOOKUP, {"pn": sorted({k[0] for k in keys}), "rl": sorted({k[1] for k in keys})}
        )
        subject_of = {(row[0].value, row[1].value): row[2].value for row in result.rows}  # type: ignore[union-attr]
        found = self._collect(result)
        self._prime(found)
        return [found.get(subject_of.get(tuple(k), "")) for k in keys]  # type: ignore[arg-type]

    # -- traces ------------------------------------------------------------------------------------
    async def _backward(self, keys: Sequence[str]) -> list[list[Edge]]:
        result = await self.select(compiler.BACKWARD, {"root": [_node(k) for k in keys]})
        edges: dict[str, list[Edge]] = defaultdict(list)
        for root, a, rel, b in result.rows:
            edges[root.value].append(Edge(a.value, rel.value.rsplit("#", 1)[-1], b.value))  # type: ignore[union-attr]
        return [edges.get(k, []) for k in keys]

    async def _forward(self, keys: Sequence[str]) -> list[list[tuple[str, bool]]]:
        result = await self.select(compiler.FORWARD, {"root": [_node(k) for k in keys]})
        found: dict[str, list[tuple[str, bool]]] = defaultdict(list)
        for root, unit, finished in result.rows:
            found[root.value].append((unit.value, finished is not None and finished.value == "true"))  # type: ignore[union-attr]
        return [sorted(found.get(k, [])) for k in keys]

    async def _origin(self, keys: Sequence[str]) -> list[Origin]:
        result = await self.select(compiler.LOT_ORIGIN, {"lot": [_node(k) for k in keys]})
        origins: dict[str, Origin] = defaultdict(Origin)
        suppliers: dict[str, Resource] = {}
        for lot, src, sup, rcpt, p, o in result.rows:
            origin = origins[lot.value]  # type: ignore[union-attr]
            for value, bucket in ((src, origin.source_lots), (sup, origin.suppliers), (rcpt, origin.receipts)):
                if value is not None and value.value not in bucket:
                    bucket.append(value.value)
            if sup is not None and p is not None:
                supplier = suppliers.get(sup.value) or suppliers.setdefault(sup.value, Resource(sup.value))
                supplier.add(p.value, o)  # type: ignore[arg-type]
        self._prime(suppliers)
        for origin in origins.values():
            origin.source_lots.sort()
            origin.suppliers.sort()
            origin.receipts.sort()
        return [origins.get(k, Origin()) for k in keys]

    async def _where_used(self, keys: Sequence[str]) -> list[list[BomUse]]:
        result = await self.select(compiler.WHERE_USED, {"root": [_node(k) for k in keys]})
        uses: dict[str, list[BomUse]] = defaultdict(list)
        for root, part, line, rev, parent in result.rows:
            uses[root.value].append(BomUse(rev.value, line.value, part.value, parent.value))  # type: ignore[union-attr]
        return [uses.get(k, []) for k in keys]

    async def _capa_units(self, keys: Sequence[str]) -> list[list[str]]:
        result = await self.select(compiler.CAPA_UNITS, {"capa": [_node(k) for k in keys]})
        found: dict[str, set[str]] = defaultdict(set)
        for capa, unit in result.rows:
            found[capa.value].add(unit.value)  # type: ignore[union-attr]
        return [sorted(found.get(k, ())) for k in keys]

    def impact(self, since: date) -> DataLoader[str, list[Impacted]]:
        """Units built to a revision and started on or after ``since``, with open NCR / CAPA flags."""
        loader = self._impact.get(since)
        if loader is None:
            moment = datetime.combine(since, time(0), tzinfo=UTC)
            stamp = ox.Literal(moment.strftime("%Y-%m-%dT%H:%M:%SZ"), datatype=_node(compiler.XSD_DATETIME))

            async def batch(keys: Sequence[str]) -> list[list[Impacted]]:
                result = await self.select(compiler.IMPACT, {"rev": [_node(k) for k in keys], "since": stamp})
                found: dict[str, list[Impacted]] = defaultdict(list)
                for rev, unit, ncr, capa in result.rows:
                    found[rev.value].append(  # type: ignore[union-attr]
                        Impacted(unit.value, _v(ncr) == "true", _v(capa) == "true")  # type: ignore[union-attr]
                    )
                return [sorted(found.get(k, []), key=lambda i: i.unit) for k in keys]

            loader = self._impact[since] = DataLoader(batch)
        return loader

    async def _provenance(self, keys: Sequence[str]) -> list[list[SourceRecordRow]]:
        result = await self.select(compiler.PROVENANCE, {"s": [_node(k) for k in keys]})
        names = result.variables
        records: dict[str, dict[tuple[str, str], SourceRecordRow]] = defaultdict(dict)
        for row in result.rows:
            r = dict(zip(names, (_v(t) for t in row), strict=True))
            entry = records[r["s"]].get((r["rec"], r["g"]))  # type: ignore[index]
            if entry is None:
                entry = records[r["s"]][(r["rec"], r["g"])] = SourceRecordRow(  # type: ignore[index]
                    r["rec"],
                    r["g"],
                    r["file"],
                    r["key"],
                    r["system"],
                    [],
                    r["act"],
                    r["started"],
                    r["ended"],  # type: ignore[arg-type]
                    r["agent"],
                    r["actSystem"],
                )
            if r["loc"] is not None and r["loc"] not in entry.locators:
                entry.locators.append(r["loc"])
        return [sorted(records.get(k, {}).values(), key=lambda e: (e.system or "", e.file or "")) for k in keys]
