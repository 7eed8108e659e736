"""Equipment (ISA-95 hierarchy: site, area, work center, work unit) and people."""

from __future__ import annotations

import strawberry

from threadline.graphql_api.base import boolean, link, register, text
from threadline.graphql_api.node import Node

LEVELS = ("WorkUnit", "WorkCenter", "Area", "Site")


@register("Equipment", *LEVELS)
@strawberry.type(description="Equipment at one ISA-95 level (tl:Equipment and its subclasses).")
class Equipment(Node):
    equipment_id: str | None = text("equipmentId")
    name: str | None = text("name")
    equipment_type: str | None = text("equipmentType")

    @strawberry.field(description="ISA-95 level: Site, Area, WorkCenter or WorkUnit.")
    def level(self) -> str | None:
        return next((level for level in LEVELS if self.r.has_type(level)), None)

    parent: Equipment | None = link("partOf", "The equipment this one is part of.")


@register("Person")
@strawberry.type(description="A person (tl:Person): operator, inspector, approver.")
class Person(Node):
    person_id: str | None = text("personId")
    name: str | None = text("name")
    role: str | None = text("role")
    is_mrb_member: bool | None = boolean("isMRBMember")
