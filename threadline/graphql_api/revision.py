"""Part revisions, their documents, engineering change orders and design-change impact.

``impact`` answers "which units were built to this revision since a date, and which of them have open NCRs
or CAPAs" in one query per level; a change order's impact is its from-revision's impact since the change's
effectivity date.
"""

from __future__ import annotations

from datetime import date, datetime

import strawberry
from strawberry.types import Info

from threadline.graphql_api import refs
from threadline.graphql_api.base import day, inverse, link, links, loaders, many, register, text, timestamp
from threadline.graphql_api.node import Node

DOCUMENT_KINDS = ("Drawing", "Specification", "WorkInstruction")


@strawberry.type(description="A unit affected by a design change, with its open quality issues.")
class ImpactedUnit:
    unit: refs.SerializedUnit
    has_open_ncr: bool = strawberry.field(description="An NCR concerning the unit is open.")
    has_open_capa: bool = strawberry.field(description="A CAPA addressing one of the unit's NCRs is open.")


async def _impact(info: Info, revision: str, since: date) -> list[ImpactedUnit]:
    found = await loaders(info).impact(since).load(revision)
    units = {u.r.iri: u for u in await many(info, [i.unit for i in found])}
    return [
        ImpactedUnit(unit=units[i.unit], has_open_ncr=i.open_ncr, has_open_capa=i.open_capa)
        for i in found
        if i.unit in units
    ]


@register("PartRevision")
@strawberry.type(description="A revision of a part (tl:PartRevision).")
class PartRevision(Node):
    revision: str | None = text("revisionLabel", "The revision label: A, B, C, ...")
    lifecycle_state: str | None = text("lifecycleState", "in-work, released or obsolete.")
    released_at: datetime | None = timestamp("releasedAt")
    effective_from: date | None = day("effectiveFrom")
    effective_to: date | None = day("effectiveTo")

    part: refs.Part | None = link("revisionOf")

    supersedes: PartRevision | None = link("supersedes", "The revision this one supersedes.")

    documents: list[Document] = links("hasDocument")

    @strawberry.field(description="The revision's bill of materials, in find-number order.")
    async def bom(self, info: Info) -> list[refs.BOMLine]:
        found = await inverse(info, "parentRevision", self.r.iri)
        return sorted(found, key=lambda line: (line.r.text("findNumber") or "").zfill(6))

    @strawberry.field
    async def characteristics(self, info: Info) -> list[refs.Characteristic]:
        found = await inverse(info, "characteristicOf", self.r.iri)
        return sorted(found, key=lambda c: c.r.text("characteristicId") or "")

    @strawberry.field(description="Change orders that moved the part away from this revision.")
    async def changes_from(self, info: Info) -> list[ChangeOrder]:
        return await inverse(info, "fromRevision", self.r.iri, ChangeOrder)

    @strawberry.field(
        description="Units built to this revision that started on or after `since`, with their open NCR / CAPA flags."
    )
    async def impact(self, info: Info, since: date) -> list[ImpactedUnit]:
        return await _impact(info, self.r.iri, since)

    @strawberry.field(description="Electronic signatures on this revision (release approvals), oldest first.")
    async def signatures(self, info: Info) -> list[refs.ElectronicSignature]:
        from threadline.graphql_api.signature import signatures_of

        return await signatures_of(info, self.r.iri)


@register("Document", *DOCUMENT_KINDS)
@strawberry.type(description="A controlled document of a revision (drawing, specification, work instruction).")
class Document(Node):
    document_number: str | None = text("documentNumber")
    document_revision: str | None = text("documentRevision")
    title: str | None = text("title")

    @strawberry.field(description="Drawing, Specification or WorkInstruction.")
    def kind(self) -> str | None:
        return next((kind for kind in DOCUMENT_KINDS if self.r.has_type(kind)), None)


@register("ChangeOrder")
@strawberry.type(description="An engineering change order, ECO (tl:ChangeOrder).")
class ChangeOrder(Node):
    change_number: str | None = text("changeNumber")
    change_reason: str | None = text("changeReason")
    status: str | None = text("changeStatus", "open, approved, implemented or cancelled.")
    effective_from: date | None = day("effectiveFrom")
    approved_at: datetime | None = timestamp("approvedAt")

    part: refs.Part | None = link("affectsPart")

    from_revision: PartRevision | None = link("fromRevision")

    to_revision: PartRevision | None = link("toRevision")

    approved_by: list[refs.Person] = links("approvedBy")

    @strawberry.field(
        description=(
            "Design-change impact: units still built to the from-revision on or after the change's "
            "effectivity date, with their open NCR / CAPA flags."
        )
    )
    async def impact(self, info: Info) -> list[ImpactedUnit]:
        old, since = self.r.ref("fromRevision"), self.r.date("effectiveFrom")
        if old is None or since is None:
            return []
        return await _impact(info, old, since)
