"""Provenance on every object: the source records it was mapped from and the load that brought each in.

The mapping pack links every mapped subject to ``tl:SourceRecord`` nodes (file, locator, source key) in the
batch graph of the load; the loader registers that graph in the catalog graph (``prov:wasGeneratedBy`` the
load activity) and describes the activity in the provenance graph. One query per nesting level answers all
of it for a batch of objects (``Loaders.provenance``).
"""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from threadline.graphql_api.base import loaders
from threadline.graphql_api.loaders import SourceRecordRow
from threadline.graphql_api.resource import parse_datetime


@strawberry.type(description="A load (tl:IngestActivity): one batch of source files committed to the thread.")
class Load:
    id: strawberry.ID = strawberry.field(description="IRI of the prov:Activity.")
    source_system: str | None = strawberry.field(description="plm, erp, mes, qms, ...")
    started_at: datetime | None
    ended_at: datetime | None
    agent: str | None = strawberry.field(description="Who ran the load (prov:wasAssociatedWith).")


@strawberry.type(description="The source record an object was mapped from (tl:SourceRecord).")
class SourceRecord:
    id: strawberry.ID = strawberry.field(description="IRI of the source record.")
    source_system: str | None
    file: str | None = strawberry.field(description="Name of the exported file (tl:inFile).")
    locators: list[str] = strawberry.field(description="Row, line, JSONPath or XPath of the record in the file.")
    source_key: str | None = strawberry.field(description="The record's key in its source system.")
    graph: str = strawberry.field(description="The batch graph holding the statements from this record.")
    load: Load | None = strawberry.field(description="The load that committed the batch graph.")


def to_record(row: SourceRecordRow) -> SourceRecord:
    load = None
    if row.activity is not None:
        load = Load(
            id=strawberry.ID(row.activity),
            source_system=row.activity_system,
            started_at=parse_datetime(row.started),
            ended_at=parse_datetime(row.ended),
            agent=row.agent,
        )
    return SourceRecord(
        id=strawberry.ID(row.record),
        source_system=row.system,
        file=row.file,
        locators=row.locators,
        source_key=row.key,
        graph=row.graph,
        load=load,
    )


async def provenance_of(info: Info, iri: str) -> list[SourceRecord]:
    return [to_record(row) for row in await loaders(info).provenance.load(iri)]
