"""Parts, BOM lines and where-used.

Where-used climbs the BOM from a part to every parent revision at every level in one query (the loader
returns each BOM line on the way up; levels are counted here), so a part used in subassemblies that are
used in assemblies answers with one round trip.
"""

from __future__ import annotations

from collections import deque

import strawberry
from strawberry.types import Info

from threadline.graphql_api import refs
from threadline.graphql_api.base import boolean, inverse, link, loaders, many, number, register, text, texts
from threadline.graphql_api.errors import GraphQLUserError
from threadline.graphql_api.item import MAX_TRACE_DEPTH
from threadline.graphql_api.loaders import BomUse
from threadline.graphql_api.node import Node


@register("Part")
@strawberry.type(description="A part (tl:Part): what is designed, bought or built.")
class Part(Node):
    part_number: str | None = text("partNumber")
    name: str | None = text("name")
    description: str | None = text("description")
    unit_of_measure: str | None = text("unitOfMeasure")
    is_serialized: bool | None = boolean("isSerialized")
    make_or_buy: str | None = text("makeOrBuy", "make or buy.")

    @strawberry.field(description="The part's revisions, in label order.")
    async def revisions(self, info: Info) -> list[refs.PartRevision]:
        found = await inverse(info, "revisionOf", self.r.iri)
        return sorted(found, key=lambda rev: rev.r.text("revisionLabel") or "")

    @strawberry.field(
        description=(
            "Where-used: every parent revision whose BOM uses this part, directly (level 1) or through "
            "the parts that use it (level 2, ...), with the BOM line."
        )
    )
    async def where_used(self, info: Info, depth: int = 10) -> list[WhereUsed]:
        if not 1 <= depth <= MAX_TRACE_DEPTH:
            raise GraphQLUserError(f"depth must be between 1 and {MAX_TRACE_DEPTH}", argument="depth")
        found = _levels(self.r.iri, await loaders(info).where_used.load(self.r.iri), depth)
        iris = [iri for _, use in found for iri in (use.revision, use.line, use.part)]
        objects = {o.r.iri: o for o in await many(info, iris)}
        return [
            WhereUsed(
                level=level, parent_revision=objects[use.revision], bom_line=objects[use.line], part=objects[use.part]
            )
            for level, use in found
            if use.revision in objects and use.line in objects and use.part in objects
        ]


def _levels(root: str, uses: list[BomUse], depth: int) -> list[tuple[int, BomUse]]:
    """BOM uses climbing from ``root``, each at its shortest level, in breadth-first order."""
    users: dict[str, list[BomUse]] = {}
    for use in uses:
        users.setdefault(use.part, []).append(use)
    out: list[tuple[int, BomUse]] = []
    seen = {root}
    queue = deque([(root, 0)])
    while queue:
        part, level = queue.popleft()
        if level >= depth:
            continue
        for use in sorted(users.get(part, []), key=lambda u: (u.revision, u.line)):
            out.append((level + 1, use))
            if use.parent_part not in seen:
                seen.add(use.parent_part)
                queue.append((use.parent_part, level + 1))
    return out


@strawberry.type(description="One use of a part in a parent revision's BOM.")
class WhereUsed:
    level: int = strawberry.field(description="1 when the parent's BOM lists the part itself, 2 one level up, ...")
    parent_revision: refs.PartRevision
    bom_line: BOMLine
    part: Part = strawberry.field(description="The part the BOM line lists (the queried part at level 1).")


@register("BOMLine")
@strawberry.type(name="BOMLine", description="A line of a revision's bill of materials (tl:BOMLine).")
class BOMLine(Node):
    find_number: str | None = text("findNumber")
    quantity: float | None = number("quantity")
    unit_of_measure: str | None = text("unitOfMeasure")
    reference_designators: list[str] = texts("referenceDesignator")

    parent_revision: refs.PartRevision | None = link("parentRevision")

    child_part: Part | None = link("childPart")
