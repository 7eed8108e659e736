"""The first article inspection report (AS9102 Rev C) of a part revision, built from its characteristics and the
inspection results of its first article.

The first article is the unit named (``--serial``), else the first unit built to the revision (earliest start).
Its members are the unit's device history record members (``dhr.collect``: operations, inspections, consumed
lots with supplier and certificate, NCRs) plus the design: the revision, its part, documents, characteristics,
routing steps, bill of materials, the change order that introduced it and the revision it supersedes.

Form 1 (part number accountability) is the summary and the index of BOM components; Form 2 (product
accountability) the materials consumed with their specifications, suppliers and certificates, and the functional
tests (routing steps that are not final inspection, with the characteristics they check); Form 3 (characteristic
accountability) one row per characteristic: requirement, result, gauge, pass/fail and the NCR of every
nonconforming row. After a revision change (a change order to this revision, or a superseded revision), the
report is **partial**: Form 3 lists only the characteristics the change affects (new, or with another nominal,
limits or unit than the superseded revision's), with the change order's reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyoxigraph as ox

from threadline.namespaces import TL
from threadline.records import dhr
from threadline.records.dhr import Members, record_iri
from threadline.records.errors import RecordNotFound
from threadline.records.facts import gather
from threadline.store import Store
from threadline.store.params import Bindable

KIND = "fai"
REVISION = (
    f"SELECT ?rev WHERE {{ ?part <{TL}partNumber> ?number . ?rev <{TL}revisionOf> ?part ; <{TL}revisionLabel> ?label }}"
)
FIRST_UNIT = (
    f"SELECT ?serial WHERE {{ ?unit <{TL}builtTo> ?rev ; <{TL}serialNumber> ?serial "
    f"OPTIONAL {{ ?unit <{TL}startedAt> ?start }} }} ORDER BY ?start ?serial LIMIT 1"
)
DESIGN = (
    f"SELECT DISTINCT ?x WHERE {{ {{ ?x <{TL}characteristicOf> ?rev }} UNION {{ ?x <{TL}routingFor> ?rev }} "
    f"UNION {{ ?x <{TL}stepOf>/<{TL}routingFor> ?rev }} UNION {{ ?x <{TL}parentRevision> ?rev }} "
    f"UNION {{ ?x <{TL}toRevision> ?rev }} UNION {{ ?rev <{TL}supersedes> ?x }} "
    f"UNION {{ ?rev <{TL}supersedes> ?old . ?x <{TL}characteristicOf> ?old }} }}"
)


@dataclass
class FaiMembers:
    part: str
    revision: str
    rev: str  # the revision's IRI
    unit: Members  # the first article's record members; their facts hold the design too
    design: list[str]

    @property
    def iri(self) -> str:
        return record_iri(KIND, self.part, self.revision)

    def characteristics(self, rev: str | None = None) -> list[str]:
        facts = self.unit.facts
        of = rev or self.rev
        return [c for c in self.design if of in facts.iris(c, "characteristicOf")]

    def previous(self) -> str | None:
        return self.unit.facts.first(self.rev, "supersedes")

    def change_orders(self) -> list[str]:
        return [x for x in self.design if self.rev in self.unit.facts.iris(x, "toRevision")]


def resolve(store: Store, part: str, revision: str) -> str:
    found = sorted(set(store.select(REVISION, {"number": part, "label": revision}).values("rev")))
    if not found:
        raise RecordNotFound(f"the thread has no revision {revision!r} of part {part!r}")
    return found[0]


def collect(store: Store, part: str, revision: str, serial: str | None = None) -> FaiMembers:
    rev = resolve(store, part, revision)
    node: list[Bindable] = [ox.NamedNode(rev)]
    if serial is None:
        first = store.select(FIRST_UNIT, {"rev": node}).values("serial")
        if not first:
            raise RecordNotFound(f"no unit was built to revision {revision!r} of part {part!r}: no first article")
        serial = first[0]
    unit = dhr.collect(store, serial)
    if rev not in unit.facts.iris(unit.subject, "builtTo"):
        raise RecordNotFound(f"unit {serial!r} was not built to revision {revision!r} of part {part!r}")
    design = sorted(set(store.select(DESIGN, {"rev": node}).values("x")))
    gather(store, [rev, *design], unit.facts)
    dhr.follow(store, unit.facts)
    return FaiMembers(part, revision, rev, unit, design)


def affected(m: FaiMembers) -> tuple[list[str], str | None]:
    """The characteristics a partial FAI covers and why (None: a full FAI, every characteristic)."""
    old = m.previous()
    if old is None:
        return m.characteristics(), None
    f = m.unit.facts
    before = {_key(m, c): c for c in m.characteristics(old)}
    changed = []
    for char in m.characteristics():
        earlier = before.get(_key(m, char))
        if earlier is None or any(f.one(char, p) != f.one(earlier, p) for p in LIMITS):
            changed.append(char)
    reasons = [f.one(c, "changeReason") for c in m.change_orders()]
    numbers = [f.one(c, "changeNumber") for c in m.change_orders()]
    why = "; ".join(f"{n}: {r}" for n, r in zip(numbers, reasons, strict=True) if n and r)
    label = f.one(old, "revisionLabel") or old
    return changed, f"revision change from {label}" + (f" ({why})" if why else "")


LIMITS = ("nominal", "lowerLimit", "upperLimit", "unitOfMeasure")


def _key(m: FaiMembers, characteristic: str) -> str:
    """What matches a characteristic across revisions: its name (ids usually carry the revision), else its id."""
    f = m.unit.facts
    return f.one(characteristic, "name") or f.one(characteristic, "characteristicId") or characteristic
