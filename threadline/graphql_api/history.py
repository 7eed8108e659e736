"""``history`` on every object and ``bomDiff`` on units: the thread's change sets, as GraphQL reads them.

``history`` is batched per nesting level by ``Loaders.history`` (``history.record_history``: store calls grow with the
change sets found, not with the objects asked for). A scoped reader's history holds the values of the graphs it
may read only; the change sets themselves are read on the store under its view (they are system graphs).
"""

from __future__ import annotations

from datetime import datetime

import pyoxigraph as ox
import strawberry
from strawberry.types import Info

from threadline.graphql_api.base import loaders
from threadline.graphql_api.errors import GraphQLUserError
from threadline.graphql_api.resource import parse_datetime
from threadline.history import bom
from threadline.history.diff import DiffTooLarge, Readable
from threadline.history.patch import BadBound
from threadline.history.record_history import Entry
from threadline.history.values import PropertyChange
from threadline.store import Store
from threadline.store.scoped import ScopedStore


def underlying(store: Store) -> tuple[Store, Readable, list[str] | None]:
    """The store that holds the change sets, which graphs the caller may read, and their list (None: all)."""
    if isinstance(store, ScopedStore):
        visible = set(store.visible)
        return store.inner, visible.__contains__, sorted(visible)
    return store, lambda graph: True, None


def _lexical(term: object) -> str:
    return term.value if isinstance(term, ox.NamedNode | ox.BlankNode | ox.Literal) else str(term)


@strawberry.type(description="One property a change set changed: its values before and after (EU GMP Annex 11 §9).")
class ValueChange:
    property: str = strawberry.field(description="The predicate's IRI.")
    old: list[str] = strawberry.field(description="Values it had before the change (empty: none).")
    new: list[str] = strawberry.field(description="Values it had after the change (empty: none).")


def _audit(info: Info, name: str) -> None:
    """Who changed a record and why are the audit trail's (role compliance): refused, never shown as null."""
    if not getattr(info.context, "audit_reader", True):
        raise GraphQLUserError(f"{name} is the audit trail's: it needs a token with role 'compliance'", field=name)


@strawberry.type(description="One change set that changed this object, with its audit entry's facts.")
class RecordChange:
    change: strawberry.ID = strawberry.field(description="The change set's IRI (…/id/change/N).")
    sequence: int = strawberry.field(description="The change id N, as GET /changes and /diff take it.")
    time: datetime | None = strawberry.field(description="Server time of the change (its audit entry).")
    action: str = strawberry.field(description="load, upsert, update, delete, ...")
    values: list[ValueChange] = strawberry.field(description="The properties it changed, old and new values.")
    actor: strawberry.Private[str]
    why: strawberry.Private[str | None]

    @strawberry.field(description="Who made it (the audit entry's actor). Role compliance: an error otherwise.")
    def agent(self, info: Info) -> str:
        _audit(info, "agent")
        return self.actor

    @strawberry.field(description="Why, when the writer said (the audit entry's). Role compliance: an error otherwise.")
    def reason(self, info: Info) -> str | None:
        _audit(info, "reason")
        return self.why


def _value(item: PropertyChange) -> ValueChange:
    return ValueChange(
        property=_lexical(item.predicate),
        old=[_lexical(t) for t in item.old],
        new=[_lexical(t) for t in item.new],
    )


def to_changes(entries: list[Entry]) -> list[RecordChange]:
    return [
        RecordChange(
            change=strawberry.ID(f"https://w3id.org/threadline/id/change/{e.change.sequence}"),
            sequence=e.change.sequence,
            time=parse_datetime(e.change.time),
            actor=e.change.actor,
            action=e.change.action,
            why=e.change.reason,
            values=[_value(v) for v in e.values],
        )
        for e in entries
    ]


async def history_of(info: Info, iri: str) -> list[RecordChange]:
    return to_changes(await loaders(info).history.load(iri))


@strawberry.type(description="A component of a unit's as-built BOM (what it consumed: tl:consumed).")
class BomComponent:
    id: strawberry.ID
    label: str | None = strawberry.field(description="Serial or lot number.")
    part: str | None = strawberry.field(description="IRI of its part (tl:ofPart).")


@strawberry.type(description="A removed component and the component of the same part installed in its place.")
class BomReplacement:
    removed: BomComponent
    installed: BomComponent


@strawberry.type(description="A unit's as-built BOM between two instants.")
class BomDiff:
    from_change: int = strawberry.field(description="The state compared from: after this change id.")
    to_change: int = strawberry.field(description="The state compared to: after this change id.")
    installed: list[BomComponent]
    removed: list[BomComponent]
    replaced: list[BomReplacement]


def _component(c: bom.Component) -> BomComponent:
    return BomComponent(id=strawberry.ID(c.iri), label=c.label, part=c.part)


def bom_diff_of(info: Info, unit: str, since: str, until: str | None) -> BomDiff:
    """Run in a worker thread (the diff makes several store calls)."""
    store, readable, graphs = underlying(info.context.store)
    limit = getattr(info.context.settings, "diff_max_statements", None)
    try:
        found = bom.bom_diff(store, unit, since, until, readable=readable, graphs=graphs, limit=limit)
    except BadBound as exc:
        raise GraphQLUserError(str(exc), argument=exc.field) from exc
    except DiffTooLarge as exc:
        raise GraphQLUserError(str(exc)) from exc
    return BomDiff(
        from_change=found.window.start,
        to_change=found.window.end,
        installed=[_component(c) for c in found.installed],
        removed=[_component(c) for c in found.removed],
        replaced=[BomReplacement(removed=_component(a), installed=_component(b)) for a, b in found.replaced],
    )
