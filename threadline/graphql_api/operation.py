"""Production execution: work orders, routing steps and the operations executed on units."""

from __future__ import annotations

from datetime import date, datetime

import strawberry
from strawberry.types import Info

from threadline.graphql_api import refs
from threadline.graphql_api.base import boolean, day, integer, inverse, link, number, register, text, timestamp
from threadline.graphql_api.node import Node


@register("RoutingStep")
@strawberry.type(description="A step of a routing (tl:RoutingStep).")
class RoutingStep(Node):
    sequence: int | None = integer("sequence")
    operation_name: str | None = text("operationName")
    is_final_inspection: bool | None = boolean("isFinalInspection")

    work_center: refs.Equipment | None = link("atWorkCenter")


@register("OperationExecution")
@strawberry.type(description="One operation executed on a unit (tl:OperationExecution).")
class OperationExecution(Node):
    started_at: datetime | None = timestamp("startedAt")
    ended_at: datetime | None = timestamp("endedAt")
    result: str | None = text("operationResult", "pass, fail or rework.")

    step: RoutingStep | None = link("executesStep", "The routing step executed.")

    operator: refs.Person | None = link("performedBy", "Who performed it (null when the MES recorded no operator).")

    equipment: refs.Equipment | None = link("onEquipment")

    work_order: WorkOrder | None = link("underWorkOrder")

    unit: refs.SerializedUnit | None = link("onUnit")


@register("WorkOrder")
@strawberry.type(description="A work order (tl:WorkOrder).")
class WorkOrder(Node):
    work_order_number: str | None = text("workOrderNumber")
    status: str | None = text("workOrderStatus", "released, in-progress, completed or closed.")
    quantity: float | None = number("quantity")
    planned_start: datetime | None = timestamp("plannedStart")
    due_date: date | None = day("dueDate")

    revision: refs.PartRevision | None = link("buildsRevision", "The part revision the work order builds.")

    @strawberry.field(description="Units built under this work order.")
    async def units(self, info: Info) -> list[refs.SerializedUnit]:
        found = await inverse(info, "builtUnder", self.r.iri)
        return sorted(found, key=lambda u: u.r.text("serialNumber") or "")
