"""Serialized units (as-built records) and the consumption events that link them to what they contain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from starlette.concurrency import run_in_threadpool
from strawberry.types import Info

from threadline.graphql_api import refs
from threadline.graphql_api.base import boolean, inverse, link, number, reads, register, text, timestamp
from threadline.graphql_api.history import BomDiff, bom_diff_of
from threadline.graphql_api.item import Item
from threadline.graphql_api.node import Node


@register("SerializedUnit")
@strawberry.type(description="One serialized unit as built (tl:SerializedUnit): finished product or subassembly.")
class SerializedUnit(Item):
    serial_number: str | None = text("serialNumber")
    status: str | None = text("unitStatus", "in-process, completed, shipped, scrapped or quarantined.")
    location: str | None = text("location")
    started_at: datetime | None = timestamp("startedAt")
    completed_at: datetime | None = timestamp("completedAt")
    reworked: bool | None = boolean("reworked")

    built_to: refs.PartRevision | None = link("builtTo", "The part revision this unit was built to.")

    work_order: refs.WorkOrder | None = link("builtUnder", "The work order this unit was built under.")

    @strawberry.field(description="Operations executed on this unit, in time order.", metadata=reads())
    async def operations(self, info: Info) -> list[refs.OperationExecution]:
        found = await inverse(info, "onUnit", self.r.iri)
        return sorted(found, key=lambda o: (o.r.text("startedAt") or "", o.r.iri))

    @strawberry.field(
        description="Consumption events of this unit: what, how much, when, at which operation.", metadata=reads()
    )
    async def consumptions(self, info: Info) -> list[Consumption]:
        found = await inverse(info, "consumer", self.r.iri)
        return sorted(found, key=lambda c: (c.r.text("consumedAt") or "", c.r.iri))

    @strawberry.field(
        description="The as-built BOM between two instants (a change id or an xsd:dateTime with its zone; `to` "
        "defaults to now): components installed, removed, and replaced by one of the same part.",
        metadata=reads(),
    )
    async def bom_diff(
        self, info: Info, since: Annotated[str, strawberry.argument(name="from")], to: str | None = None
    ) -> BomDiff:
        return await run_in_threadpool(bom_diff_of, info, self.r.iri, since, to)


@register("Consumption")
@strawberry.type(description="One consumption event (tl:Consumption).")
class Consumption(Node):
    quantity: float | None = number("quantity")
    consumed_at: datetime | None = timestamp("consumedAt")

    item: refs.Item | None = link("consumedItem", "The unit or lot consumed.")

    consumer: refs.Item | None = link("consumer", "The unit or lot that consumed it.")

    operation: refs.OperationExecution | None = link("atOperation", "The operation at which it was consumed.")
