"""Root fields: look objects up by the identifiers people use, and list them with filters and cursors.

A lookup of an identifier that names nothing is a ``NOT_FOUND`` error, never a silent ``null``. Filters are
constant graph-pattern fragments; their values are bound (``Where.add``), never written into the query. Every root
field takes ``asOf``; the resolvers leave it alone: the whole request reads that instant's state, opened before
they run (``threadline.graphql_api.asof``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry
from strawberry.types import Info

from threadline.graphql_api.asof import InstantArgument
from threadline.graphql_api.base import loaders, wrap
from threadline.graphql_api.errors import NotFoundError
from threadline.graphql_api.lot import MaterialLot
from threadline.graphql_api.node import Node
from threadline.graphql_api.operation import WorkOrder
from threadline.graphql_api.pagination import DEFAULT_PAGE, Connection, Where, fetch_page
from threadline.graphql_api.part import Part
from threadline.graphql_api.quality import CAPA, Nonconformance
from threadline.graphql_api.resource import Resource
from threadline.graphql_api.revision import ChangeOrder, PartRevision
from threadline.graphql_api.supplier import Supplier
from threadline.graphql_api.unit import SerializedUnit


@strawberry.input(description="Filters of `units`; all given filters must hold.")
class UnitFilter:
    part_number: str | None = None
    revision: str | None = strawberry.field(default=None, description="Revision label built to (A, B, C, ...).")
    work_order: str | None = strawberry.field(default=None, description="Work order number.")
    status: list[str] | None = strawberry.field(default=None, description="Any of these unit statuses.")
    location: str | None = None
    started_from: datetime | None = strawberry.field(default=None, description="Started at or after.")
    started_to: datetime | None = strawberry.field(default=None, description="Started before.")
    completed_from: datetime | None = None
    completed_to: datetime | None = None
    has_open_ncr: bool | None = strawberry.field(default=None, description="Has (true) / has no (false) open NCR.")
    finished_only: bool | None = strawberry.field(
        default=None, description="Only top-level units (no other unit consumed them)."
    )


@strawberry.input(description="Filters of `lots`.")
class LotFilter:
    part_number: str | None = None
    supplier_id: str | None = strawberry.field(default=None, description="Supplier of a received lot.")
    received_only: bool | None = strawberry.field(default=None, description="Only lots received from suppliers.")


@strawberry.input(description="Filters of `ncrs`.")
class NcrFilter:
    status: str | None = None
    defect_code: str | None = None
    opened_from: datetime | None = None
    opened_to: datetime | None = None


@strawberry.input(description="Filters of `capas`.")
class CapaFilter:
    status: str | None = None
    opened_from: datetime | None = None
    opened_to: datetime | None = None


@strawberry.input(description="Filters of `workOrders`.")
class WorkOrderFilter:
    status: str | None = None
    part_number: str | None = None
    revision: str | None = None
    planned_from: datetime | None = None
    planned_to: datetime | None = None


def _unit_where(f: UnitFilter | None) -> Where:
    w = Where(["?s tl:serialNumber ?key ."])
    if f is None:
        return w
    if f.part_number is not None:
        w.add("?s tl:ofPart/tl:partNumber ?fPart .", fPart=f.part_number)
    if f.revision is not None:
        w.add("?s tl:builtTo/tl:revisionLabel ?fRev .", fRev=f.revision)
    if f.work_order is not None:
        w.add("?s tl:builtUnder/tl:workOrderNumber ?fWo .", fWo=f.work_order)
    if f.status:
        w.add("?s tl:unitStatus ?fStatus .", fStatus=list(f.status))
    if f.location is not None:
        w.add("?s tl:location ?fLoc .", fLoc=f.location)
    _range(w, "tl:startedAt", "started", f.started_from, f.started_to)
    _range(w, "tl:completedAt", "completed", f.completed_from, f.completed_to)
    if f.has_open_ncr is True:
        w.add('?fNcr tl:concernsItem ?s ; tl:ncrStatus "open" .')
    elif f.has_open_ncr is False:
        w.add('MINUS { ?fNcr tl:concernsItem ?s ; tl:ncrStatus "open" }')
    if f.finished_only:
        w.add("FILTER NOT EXISTS { ?fParent tl:consumed ?s }")
    return w


def _range(w: Where, predicate: str, name: str, start: datetime | None, end: datetime | None) -> None:
    if start is None and end is None:
        return
    w.add(f"?s {predicate} ?{name} .")
    if start is not None:
        w.add(f"FILTER(?{name} >= ?{name}From)", **{f"{name}From": _utc(start)})
    if end is not None:
        w.add(f"FILTER(?{name} < ?{name}To)", **{f"{name}To": _utc(end)})


def _utc(moment: datetime) -> datetime:
    """Thread timestamps are UTC; a time without zone is read as UTC (SPARQL cannot compare the two kinds)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def _lookup(info: Info, key: str, cls_local: str, value: str, kind: str, label: str) -> Resource:
    found = await loaders(info).lookup(key, cls_local).load(value)
    if found is None:
        raise NotFoundError(kind, **{label: value})
    return found


@strawberry.type(description="Traceability of the digital thread: look objects up, list them, trace them.")
class Query:
    @strawberry.field(description="A serialized unit by serial number.")
    async def unit(self, info: Info, serial: str, as_of: InstantArgument = None) -> SerializedUnit:
        return wrap(await _lookup(info, "serialNumber", "SerializedUnit", serial, "unit", "serial"), SerializedUnit)

    @strawberry.field(description="A material lot by lot number.")
    async def lot(self, info: Info, lot_number: str, as_of: InstantArgument = None) -> MaterialLot:
        found = await _lookup(info, "lotNumber", "MaterialLot", lot_number, "lot", "lotNumber")
        return wrap(found, MaterialLot)

    @strawberry.field(description="A part by part number.")
    async def part(self, info: Info, part_number: str, as_of: InstantArgument = None) -> Part:
        return wrap(await _lookup(info, "partNumber", "Part", part_number, "part", "partNumber"), Part)

    @strawberry.field(description="A part revision by part number and revision label.")
    async def revision(
        self, info: Info, part_number: str, revision: str, as_of: InstantArgument = None
    ) -> PartRevision:
        found = await loaders(info).revision.load((part_number, revision))
        if found is None:
            raise NotFoundError("revision", partNumber=part_number, revision=revision)
        return wrap(found, PartRevision)

    @strawberry.field(description="A nonconformance report by NCR number.")
    async def ncr(self, info: Info, number: str, as_of: InstantArgument = None) -> Nonconformance:
        return wrap(await _lookup(info, "ncrNumber", "Nonconformance", number, "NCR", "number"), Nonconformance)

    @strawberry.field(description="A CAPA by CAPA number.")
    async def capa(self, info: Info, number: str, as_of: InstantArgument = None) -> CAPA:
        return wrap(await _lookup(info, "capaNumber", "CAPA", number, "CAPA", "number"), CAPA)

    @strawberry.field(description="A work order by work order number.")
    async def work_order(self, info: Info, number: str, as_of: InstantArgument = None) -> WorkOrder:
        return wrap(await _lookup(info, "workOrderNumber", "WorkOrder", number, "work order", "number"), WorkOrder)

    @strawberry.field(description="An engineering change order by ECO number.")
    async def change_order(self, info: Info, number: str, as_of: InstantArgument = None) -> ChangeOrder:
        found = await _lookup(info, "changeNumber", "ChangeOrder", number, "change order", "number")
        return wrap(found, ChangeOrder)

    @strawberry.field(description="A supplier by supplier id.")
    async def supplier(self, info: Info, supplier_id: str, as_of: InstantArgument = None) -> Supplier:
        found = await _lookup(info, "supplierId", "Supplier", supplier_id, "supplier", "supplierId")
        return wrap(found, Supplier)

    @strawberry.field(description="Any object by IRI.")
    async def node(self, info: Info, id: strawberry.ID, as_of: InstantArgument = None) -> Node:
        from threadline.graphql_api.errors import GraphQLUserError
        from threadline.store.params import iri

        try:
            subject = iri(str(id)).value
        except Exception as exc:
            raise GraphQLUserError(f"not an IRI: {id!r}", argument="id") from exc
        found = wrap(await loaders(info).describe.load(subject))
        if found is None:
            raise NotFoundError("object", id=str(id))
        return found

    @strawberry.field(description="Serialized units in serial-number order.")
    async def units(
        self,
        info: Info,
        filter: UnitFilter | None = None,
        first: int = DEFAULT_PAGE,
        after: str | None = None,
        as_of: InstantArgument = None,
    ) -> Connection[SerializedUnit]:
        return await fetch_page(info, _unit_where(filter), first, after, SerializedUnit)

    @strawberry.field(description="Material lots in lot-number order.")
    async def lots(
        self,
        info: Info,
        filter: LotFilter | None = None,
        first: int = DEFAULT_PAGE,
        after: str | None = None,
        as_of: InstantArgument = None,
    ) -> Connection[MaterialLot]:
        w = Where(["?s tl:lotNumber ?key ."])
        if filter is not None:
            if filter.part_number is not None:
                w.add("?s tl:ofPart/tl:partNumber ?fPart .", fPart=filter.part_number)
            if filter.supplier_id is not None:
                w.add("?s tl:suppliedBy/tl:supplierId ?fSup .", fSup=filter.supplier_id)
            if filter.received_only:
                w.add("FILTER EXISTS { ?s tl:receivedIn ?fRcpt }")
        return await fetch_page(info, w, first, after, MaterialLot)

    @strawberry.field(description="NCRs in NCR-number order.")
    async def ncrs(
        self,
        info: Info,
        filter: NcrFilter | None = None,
        first: int = DEFAULT_PAGE,
        after: str | None = None,
        as_of: InstantArgument = None,
    ) -> Connection[Nonconformance]:
        w = Where(["?s tl:ncrNumber ?key ."])
        if filter is not None:
            if filter.status is not None:
                w.add("?s tl:ncrStatus ?fStatus .", fStatus=filter.status)
            if filter.defect_code is not None:
                w.add("?s tl:defectCode ?fCode .", fCode=filter.defect_code)
            _range(w, "tl:openedAt", "opened", filter.opened_from, filter.opened_to)
        return await fetch_page(info, w, first, after, Nonconformance)

    @strawberry.field(description="CAPAs in CAPA-number order.")
    async def capas(
        self,
        info: Info,
        filter: CapaFilter | None = None,
        first: int = DEFAULT_PAGE,
        after: str | None = None,
        as_of: InstantArgument = None,
    ) -> Connection[CAPA]:
        w = Where(["?s tl:capaNumber ?key ."])
        if filter is not None:
            if filter.status is not None:
                w.add("?s tl:capaStatus ?fStatus .", fStatus=filter.status)
            _range(w, "tl:openedAt", "opened", filter.opened_from, filter.opened_to)
        return await fetch_page(info, w, first, after, CAPA)

    @strawberry.field(description="Work orders in work-order-number order.")
    async def work_orders(
        self,
        info: Info,
        filter: WorkOrderFilter | None = None,
        first: int = DEFAULT_PAGE,
        after: str | None = None,
        as_of: InstantArgument = None,
    ) -> Connection[WorkOrder]:
        w = Where(["?s tl:workOrderNumber ?key ."])
        if filter is not None:
            if filter.status is not None:
                w.add("?s tl:workOrderStatus ?fStatus .", fStatus=filter.status)
            if filter.part_number is not None:
                w.add("?s tl:buildsRevision/tl:revisionOf/tl:partNumber ?fPart .", fPart=filter.part_number)
            if filter.revision is not None:
                w.add("?s tl:buildsRevision/tl:revisionLabel ?fRev .", fRev=filter.revision)
            _range(w, "tl:plannedStart", "planned", filter.planned_from, filter.planned_to)
        return await fetch_page(info, w, first, after, WorkOrder)

    @strawberry.field(description="Parts in part-number order.")
    async def parts(
        self, info: Info, first: int = DEFAULT_PAGE, after: str | None = None, as_of: InstantArgument = None
    ) -> Connection[Part]:
        return await fetch_page(info, Where(["?s tl:partNumber ?key ."]), first, after, Part)

    @strawberry.field(description="Engineering change orders in ECO-number order.")
    async def change_orders(
        self,
        info: Info,
        status: str | None = None,
        first: int = DEFAULT_PAGE,
        after: str | None = None,
        as_of: InstantArgument = None,
    ) -> Connection[ChangeOrder]:
        w = Where(["?s tl:changeNumber ?key ."])
        if status is not None:
            w.add("?s tl:changeStatus ?fStatus .", fStatus=status)
        return await fetch_page(info, w, first, after, ChangeOrder)
