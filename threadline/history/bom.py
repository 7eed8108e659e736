"""A unit's as-built BOM between two instants: the components installed, removed and replaced, from its diff.

The as-built BOM is what the unit consumed (``tl:consumed``, the shortcut every mapping states beside each
``tl:Consumption``). A component the window added is *installed*, one it removed is *removed*; a removed and an
installed component of the same part (``tl:ofPart``) are one *replacement* (paired in IRI order when a part has
several). Computed on ``diff`` with the unit as subject, so the window, scopes and limits are the diff's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox

from threadline.errors import NotFound
from threadline.history.diff import Readable, Window, diff
from threadline.namespaces import TL, data_iri
from threadline.store import Store, text_or_none

CONSUMED = TL + "consumed"


@dataclass
class Component:
    """One consumed unit or lot, with its part and how people name it."""

    iri: str
    label: str | None = None
    part: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"iri": self.iri, "label": self.label, "part": self.part}


@dataclass
class BomDiff:
    unit: str
    window: Window
    installed: list[Component] = field(default_factory=list)
    removed: list[Component] = field(default_factory=list)
    replaced: list[tuple[Component, Component]] = field(default_factory=list)  # (removed, installed)


def unit_iri(serial: str) -> str:
    return data_iri("unit", serial.strip())


def bom_diff(
    store: Store,
    serial: str,
    since: str | None,
    until: str | None,
    *,
    readable: Readable = lambda graph: True,
    graphs: list[str] | None = None,
    limit: int | None = None,
) -> BomDiff:
    """The BOM diff of the unit with this serial (or this IRI) from ``since`` to ``until``."""
    unit = serial if serial.startswith(("http://", "https://")) else unit_iri(serial)
    found = diff(store, since, until, subject=unit, readable=readable, graphs=graphs, limit=limit)
    if (
        not found.records
        and not store.select(f"SELECT ?p WHERE {{ <{unit}> ?p ?o }} LIMIT 1", default_graphs=graphs).rows
    ):
        raise NotFound(f"no unit {serial!r} in the thread, nor in the changes of that window")
    added: list[str] = []
    removed: list[str] = []
    for record in found.records:
        for listed, out in ((record.added, added), (record.removed, removed)):
            out += [
                s.object.value
                for s in listed
                if s.subject == ox.NamedNode(unit)
                and s.predicate.value == CONSUMED  # type: ignore[union-attr]  # a predicate is named
                and isinstance(s.object, ox.NamedNode)
            ]
    known = _components(store, sorted({*added, *removed}), graphs)
    result = BomDiff(unit, found.window)
    installed = [known[i] for i in sorted(added)]
    for old in (known[i] for i in sorted(removed)):
        match = next((new for new in installed if new.part is not None and new.part == old.part), None)
        if match is None:
            result.removed.append(old)
        else:
            installed.remove(match)
            result.replaced.append((old, match))
    result.installed = installed
    return result


def _components(store: Store, iris: list[str], graphs: list[str] | None) -> dict[str, Component]:
    """Each component's part and label (serial or lot number), as the store holds them now."""
    found = {iri: Component(iri) for iri in iris}
    if not iris:
        return found
    values = " ".join(str(ox.NamedNode(i)) for i in iris)
    answer = store.select(
        f"SELECT ?c ?part ?label WHERE {{ VALUES ?c {{ {values} }} OPTIONAL {{ ?c <{TL}ofPart> ?part }} "
        f"OPTIONAL {{ ?c <{TL}serialNumber>|<{TL}lotNumber> ?label }} }}",
        default_graphs=graphs,
    )
    for c, part, label in answer.rows:
        component = found[c.value]  # type: ignore[union-attr]  # bound by VALUES
        component.part = component.part or text_or_none(part)
        component.label = component.label or text_or_none(label)
    return found


def as_json(found: BomDiff) -> dict[str, Any]:
    return {
        "unit": found.unit,
        "from": found.window.start,
        "to": found.window.end,
        "installed": [c.as_dict() for c in found.installed],
        "removed": [c.as_dict() for c in found.removed],
        "replaced": [{"removed": old.as_dict(), "installed": new.as_dict()} for old, new in found.replaced],
    }


def as_table(found: BomDiff) -> str:
    lines = [f"{found.unit}: BOM after change {found.window.start} to change {found.window.end}"]
    lines += [f"  + installed {c.label or c.iri} ({c.part or '-'})" for c in found.installed]
    lines += [f"  - removed   {c.label or c.iri} ({c.part or '-'})" for c in found.removed]
    lines += [
        f"  ~ replaced  {old.label or old.iri} -> {new.label or new.iri} ({new.part or '-'})"
        for old, new in found.replaced
    ]
    if len(lines) == 1:
        lines.append("  no change")
    return "\n".join(lines) + "\n"
