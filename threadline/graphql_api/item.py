"""``Item``: what genealogy links — serialized units and material lots — and the traces both share.

Backward genealogy (what an item is made of, through subassemblies, splits and merges) is one query for any
depth: the loader fetches every edge below the item and levels are counted here by breadth-first search.
Forward genealogy (``usedIn``) is one reverse property-path query. Both batch over all items of a level.
"""

from __future__ import annotations

from collections import deque

import strawberry
from strawberry.types import Info

from threadline.graphql_api import refs
from threadline.graphql_api.base import (
    inverse,
    link,
    links,
    loaders,
    many,
    plural_predicates,
    prefetch,
    reads,
    registered,
    selected_predicates,
    wrap,
)
from threadline.graphql_api.loaders import Edge
from threadline.graphql_api.node import Node
from threadline.graphql_api.resource import RDF_TYPE

MAX_TRACE_DEPTH = 50


@strawberry.type(description="One edge of a genealogy: `parent` consumed `item`, or was split or merged from it.")
class GenealogyLink:
    level: int = strawberry.field(description="1 for what the root consumed directly, 2 below that, ...")
    relation: str = strawberry.field(description="consumed, splitFrom, mergedFrom or derivedFrom.")
    parent: refs.Item
    item: refs.Item


def levels(root: str, edges: list[Edge], depth: int) -> list[tuple[int, Edge]]:
    """Edges reachable from ``root`` within ``depth`` levels, each at its shortest level, in BFS order."""
    below: dict[str, list[Edge]] = {}
    for edge in edges:
        below.setdefault(edge.parent, []).append(edge)
    out: list[tuple[int, Edge]] = []
    seen_nodes = {root}
    queue = deque([(root, 0)])
    while queue:
        node, level = queue.popleft()
        if level >= depth:
            continue
        for edge in sorted(below.get(node, []), key=lambda e: (e.child, e.relation)):
            out.append((level + 1, edge))
            if edge.child not in seen_nodes:
                seen_nodes.add(edge.child)
                queue.append((edge.child, level + 1))
    return out


@strawberry.interface(description="A serialized unit or a material lot: what genealogy links.")
class Item(Node):
    @strawberry.field(description="Serial number or lot number.", metadata=reads("serialNumber", "lotNumber"))
    def identifier(self) -> str | None:
        return self.r.text("serialNumber") or self.r.text("lotNumber")

    part: refs.Part | None = link("ofPart", "The part this item is an instance or a lot of.")

    consumed: list[refs.Item] = links("consumed", "What this item consumed directly (units and lots).")

    @strawberry.field(
        description=(
            "Backward genealogy: everything this item is made of, through subassemblies, lot splits and "
            "merges, down to `depth` levels, as edges in breadth-first order."
        ),
        metadata=reads(),
    )
    async def genealogy(self, info: Info, depth: int = 10) -> list[GenealogyLink]:
        from threadline.graphql_api.errors import GraphQLUserError

        if not 1 <= depth <= MAX_TRACE_DEPTH:
            raise GraphQLUserError(f"depth must be between 1 and {MAX_TRACE_DEPTH}", argument="depth")
        edges = levels(self.r.iri, await loaders(info).backward.load(self.r.iri), depth)
        iris = [self.r.iri] + [e.parent for _, e in edges] + [e.child for _, e in edges]
        objects = {o.r.iri: o for o in await many(info, iris)}
        found = [
            GenealogyLink(level=level, relation=edge.relation, parent=objects[edge.parent], item=objects[edge.child])
            for level, edge in edges
            if edge.parent in objects and edge.child in objects
        ]
        # What the items and parents link to (parts, revisions, a lot's suppliers and certificates), in one batch.
        parents = ([g.parent for g in found], ("parent",))
        await prefetch(info, [g.item for g in found], path=("item",), more=[parents])
        return found

    @strawberry.field(
        description=(
            "Forward genealogy: serialized units containing this item at any level (through lot splits and "
            "merges). `finishedOnly` keeps the top-level units, the ones no other unit consumed."
        ),
        metadata=reads(),
    )
    async def used_in(self, info: Info, finished_only: bool = False) -> list[refs.SerializedUnit]:
        unit_type = registered("SerializedUnit")
        predicates = selected_predicates(info, (), unit_type)
        if predicates is None:  # the selection names a field whose reads are unknown: fetch all statements
            found = await loaders(info).forward.load(self.r.iri)
            return await many(info, [unit for unit, finished in found if finished or not finished_only])
        # The units and the statements the selection reads in one query (the trace already checks their type).
        traced = await loaders(info).forward_with(predicates - {RDF_TYPE}, plural_predicates()).load(self.r.iri)
        units = [wrap(t.resource, unit_type) for t in traced if t.finished or not finished_only]
        await prefetch(info, units)
        return units

    @strawberry.field(description="The unit or lot that consumed this item directly.", metadata=reads())
    async def consumed_by(self, info: Info) -> list[refs.Item]:
        return await inverse(info, "consumed", self.r.iri)

    @strawberry.field(description="Inspection results recorded on this item, in time order.", metadata=reads())
    async def inspections(self, info: Info) -> list[refs.InspectionResult]:
        found = await inverse(info, "inspectedItem", self.r.iri)
        return sorted(found, key=lambda i: (i.r.text("inspectedAt") or "", i.r.iri))

    @strawberry.field(description="Nonconformance reports concerning this item.", metadata=reads())
    async def ncrs(self, info: Info) -> list[refs.Nonconformance]:
        return await inverse(info, "concernsItem", self.r.iri)

    @strawberry.field(description="True when an NCR concerning this item is open.", metadata=reads())
    async def has_open_ncr(self, info: Info) -> bool:
        found = await loaders(info).inverse("concernsItem").load(self.r.iri)
        return any(r.text("ncrStatus") == "open" for r in found)
