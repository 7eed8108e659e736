"""Quality records: inspection results, characteristics, NCRs with their dispositions, and CAPAs."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from threadline.graphql_api import refs
from threadline.graphql_api.base import (
    boolean,
    link,
    loaders,
    many,
    number,
    register,
    text,
    texts,
    timestamp,
)
from threadline.graphql_api.node import Node


@register("Characteristic")
@strawberry.type(description="A characteristic to inspect (tl:Characteristic), with its limits.")
class Characteristic(Node):
    characteristic_id: str | None = text("characteristicId")
    name: str | None = text("name")
    nominal: float | None = number("nominal")
    lower_limit: float | None = number("lowerLimit")
    upper_limit: float | None = number("upperLimit")
    unit_of_measure: str | None = text("unitOfMeasure")

    revision: refs.PartRevision | None = link("characteristicOf")


@register("InspectionResult")
@strawberry.type(description="One inspection result (tl:InspectionResult).")
class InspectionResult(Node):
    result_id: str | None = text("resultId")
    measured_value: float | None = number("measuredValue")
    unit_of_measure: str | None = text("unitOfMeasure")
    lower_limit: float | None = number("lowerLimit")
    upper_limit: float | None = number("upperLimit")
    status: str | None = text("inspectionStatus", "pass or fail.")
    inspected_at: datetime | None = timestamp("inspectedAt")
    is_final_inspection: bool | None = boolean("isFinalInspection")

    characteristic: Characteristic | None = link("forCharacteristic")

    inspected_by: refs.Person | None = link("inspectedBy")

    equipment: refs.Equipment | None = link("usingEquipment")

    item: refs.Item | None = link("inspectedItem", "The unit or lot inspected.")


@register("Disposition")
@strawberry.type(description="The MRB disposition of an NCR (tl:Disposition).")
class Disposition(Node):
    disposition_type: str | None = text("dispositionType", "use-as-is, rework, repair, scrap or return-to-supplier.")
    approved_at: datetime | None = timestamp("approvedAt")

    approved_by: refs.Person | None = link("approvedBy")

    @strawberry.field(description="Electronic signatures on this disposition, oldest first.")
    async def signatures(self, info: Info) -> list[refs.ElectronicSignature]:
        from threadline.graphql_api.signature import signatures_of

        return await signatures_of(info, self.r.iri)


@register("Nonconformance")
@strawberry.type(name="Nonconformance", description="A nonconformance report, NCR (tl:Nonconformance).")
class Nonconformance(Node):
    ncr_number: str | None = text("ncrNumber")
    status: str | None = text("ncrStatus", "open or closed.")
    defect_code: str | None = text("defectCode")
    defect_description: str | None = text("defectDescription")
    quantity: float | None = number("quantity")
    opened_at: datetime | None = timestamp("openedAt")
    closed_at: datetime | None = timestamp("closedAt")

    item: refs.Item | None = link("concernsItem", "The unit or lot the NCR concerns.")

    detected_at: refs.RoutingStep | None = link("detectedAt", "The routing step where the nonconformance was detected.")

    disposition: Disposition | None = link("hasDisposition")

    capa: CAPA | None = link("capa", "The CAPA addressing this NCR.")


@register("CAPA")
@strawberry.type(name="CAPA", description="A corrective and preventive action (tl:CAPA).")
class CAPA(Node):
    capa_number: str | None = text("capaNumber")
    status: str | None = text("capaStatus", "open or closed.")
    problem_statement: str | None = text("problemStatement")
    root_cause: str | None = text("rootCause")
    actions: list[str] = texts("action")
    effectiveness_check: str | None = text("effectivenessCheck")
    effectiveness_check_done: bool | None = boolean("effectivenessCheckDone")
    opened_at: datetime | None = timestamp("openedAt")
    closed_at: datetime | None = timestamp("closedAt")

    @strawberry.field(description="The NCRs this CAPA addresses (tl:addresses, or NCRs pointing at it with tl:capa).")
    async def ncrs(self, info: Info) -> list[Nonconformance]:
        pointing = await loaders(info).inverse("capa").load(self.r.iri)
        iris = sorted(set(self.r.refs("addresses")) | {r.iri for r in pointing})
        found = await many(info, iris, Nonconformance)
        return sorted(found, key=lambda n: n.r.text("ncrNumber") or n.r.iri)

    @strawberry.field(
        description=(
            "Serialized units affected: those its NCRs concern, and every unit containing a concerned lot or "
            "unit at any level."
        )
    )
    async def affected_units(self, info: Info, finished_only: bool = False) -> list[refs.SerializedUnit]:
        units = await many(info, await loaders(info).capa_units.load(self.r.iri))
        if not finished_only:
            return units
        parents = await loaders(info).inverse("consumed").load_many([u.r.iri for u in units])
        return [u for u, above in zip(units, parents, strict=True) if not above]

    @strawberry.field(description="Electronic signatures on this CAPA (closure, approval), oldest first.")
    async def signatures(self, info: Info) -> list[refs.ElectronicSignature]:
        from threadline.graphql_api.signature import signatures_of

        return await signatures_of(info, self.r.iri)
