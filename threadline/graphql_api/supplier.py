"""Suppliers (tl:Supplier) and the lots they supplied."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from threadline.graphql_api import refs
from threadline.graphql_api.base import inverse, register, text
from threadline.graphql_api.node import Node


@register("Supplier")
@strawberry.type(description="A supplier (tl:Supplier).")
class Supplier(Node):
    supplier_id: str | None = text("supplierId")
    name: str | None = text("name")
    approval_status: str | None = text("approvalStatus", "approved, conditional or disqualified.")

    @strawberry.field(description="Lots received from this supplier.")
    async def lots(self, info: Info) -> list[refs.MaterialLot]:
        found = await inverse(info, "suppliedBy", self.r.iri)
        return sorted(found, key=lambda lot: lot.r.text("lotNumber") or "")
