"""The ``Node`` interface every object type implements: its IRI and its provenance."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from threadline.graphql_api.history import RecordChange, history_of
from threadline.graphql_api.provenance import SourceRecord, provenance_of
from threadline.graphql_api.resource import Resource


@strawberry.interface(description="An object of the digital thread, identified by its IRI.")
class Node:
    r: strawberry.Private[Resource]

    @strawberry.field(
        description="The object's IRI (https://w3id.org/threadline/id/{kind}/{key}).", metadata={"reads": ()}
    )
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.r.iri)

    @strawberry.field(
        description="The source records this object was mapped from, and the loads behind them.",
        metadata={"reads": ()},
    )
    async def provenance(self, info: Info) -> list[SourceRecord]:
        return await provenance_of(info, self.r.iri)

    @strawberry.field(
        description="Each change set that changed this object, oldest first: time, agent, reason, change id, and "
        "the old and new values of each property it changed (docs/history.md).",
        metadata={"reads": ()},
    )
    async def history(self, info: Info) -> list[RecordChange]:
        return await history_of(info, self.r.iri)
