"""Material lots and how they reached the plant: receipts, purchase orders, certificates of conformance.

A sub-lot made by a split (tl:splitFrom) or a merge (tl:mergedFrom) has no supplier of its own: its
supplier, receipt and certificate are those of the received lots it came from, which ``Loaders.origin``
finds in one query for every lot of a level.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import strawberry
from strawberry.types import Info

from threadline.graphql_api import refs
from threadline.graphql_api.base import (
    day,
    inverse,
    link,
    links,
    loaded_as,
    loaders,
    many,
    number,
    one,
    reads,
    register,
    text,
    timestamp,
)
from threadline.graphql_api.execution import NotPlain
from threadline.graphql_api.item import Item
from threadline.graphql_api.node import Node

if TYPE_CHECKING:
    from threadline.graphql_api.loaders import Loaders


def _origin(attribute: str, expected: Callable[[], type | None] = lambda: None, first: bool = False) -> dict[str, Any]:
    """Metadata of a field read from the lot's origin (``Loaders.origin``): a selection naming it on a list of lots
    loads their origins in one batch ahead (``prefetch``), and then the field reads from memory (``plain``)."""

    def plain(root: Any, context: Any) -> Any:
        lds = context.loaders
        origin = lds.origins.get(root.r.iri)
        if origin is None:
            raise NotPlain(root.r.iri)
        iris = getattr(origin, attribute)
        found = [o for o in (loaded_as(lds, iri, expected()) for iri in iris[: 1 if first else None]) if o is not None]
        return (found[0] if found else None) if first else found

    return {**reads(), "plain": plain, "prefetch": _load_origins}


def _load_origins(lds: Loaders, lots: list[str]) -> Awaitable[Any]:
    return lds.origin.load_many(lots)


@register("MaterialLot")
@strawberry.type(description="A material lot (tl:MaterialLot): received from a supplier, or split / merged in house.")
class MaterialLot(Item):
    lot_number: str | None = text("lotNumber")
    quantity: float | None = number("quantity")
    unit_of_measure: str | None = text("unitOfMeasure")

    split_from: MaterialLot | None = link("splitFrom", "The lot this one was split from.")

    merged_from: list[MaterialLot] = links("mergedFrom", "The lots merged into this one.")

    @strawberry.field(description="Lots split or merged from this one.", metadata=reads())
    async def derived_lots(self, info: Info) -> list[MaterialLot]:
        split = await loaders(info).inverse("splitFrom").load(self.r.iri)
        merged = await loaders(info).inverse("mergedFrom").load(self.r.iri)
        return await many(info, sorted({r.iri for r in split + merged}), MaterialLot)

    @strawberry.field(
        description="The received lots this lot came from (itself when it was received as is).",
        metadata=_origin("source_lots", lambda: MaterialLot),
    )
    async def source_lots(self, info: Info) -> list[MaterialLot]:
        origin = await loaders(info).origin.load(self.r.iri)
        return await many(info, origin.source_lots, MaterialLot)

    @strawberry.field(
        description="The supplier (through splits and merges; the first one if several).",
        metadata=_origin("suppliers", first=True),
    )
    async def supplier(self, info: Info) -> refs.Supplier | None:
        origin = await loaders(info).origin.load(self.r.iri)
        return await one(info, origin.suppliers[0] if origin.suppliers else None)

    @strawberry.field(
        description="Every supplier of the material in this lot (a merged lot may have several).",
        metadata=_origin("suppliers"),
    )
    async def suppliers(self, info: Info) -> list[refs.Supplier]:
        origin = await loaders(info).origin.load(self.r.iri)
        return await many(info, origin.suppliers)

    @strawberry.field(
        description="Goods receipts of the material in this lot (through splits and merges).",
        metadata=_origin("receipts", lambda: Receipt),
    )
    async def receipts(self, info: Info) -> list[Receipt]:
        origin = await loaders(info).origin.load(self.r.iri)
        return await many(info, origin.receipts, Receipt)

    @strawberry.field(
        description="Certificates of conformance received with the material (empty when none).",
        metadata=_origin("certificates", lambda: CertificateOfConformance),
    )
    async def certificates(self, info: Info) -> list[CertificateOfConformance]:
        origin = await loaders(info).origin.load(self.r.iri)  # fetched the certificates too
        return await many(info, origin.certificates, CertificateOfConformance)


@register("Receipt")
@strawberry.type(description="A goods receipt (tl:Receipt).")
class Receipt(Node):
    receipt_number: str | None = text("receiptNumber")
    received_at: datetime | None = timestamp("receivedAt")
    quantity: float | None = number("quantity")

    purchase_order: PurchaseOrder | None = link("againstOrder")

    certificate: CertificateOfConformance | None = link(
        "hasCertificate", "The certificate of conformance that came with the receipt, if any."
    )

    @strawberry.field(description="Lots received with this receipt.")
    async def lots(self, info: Info) -> list[MaterialLot]:
        return await inverse(info, "receivedIn", self.r.iri, MaterialLot)


@register("PurchaseOrder")
@strawberry.type(description="A purchase order (tl:PurchaseOrder).")
class PurchaseOrder(Node):
    po_number: str | None = text("poNumber")
    order_date: date | None = day("orderDate")
    quantity: float | None = number("quantity")

    supplier: refs.Supplier | None = link("fromSupplier")

    part: refs.Part | None = link("orderedPart")


@register("CertificateOfConformance")
@strawberry.type(description="A supplier's certificate of conformance (tl:CertificateOfConformance).")
class CertificateOfConformance(Node):
    certificate_number: str | None = text("certificateNumber")
    issued_at: date | None = day("issuedAt")

    issued_by: refs.Supplier | None = link("issuedBy")
