"""The device history record (21 CFR 820.184, ISO 13485 §7.5.1) of one serialized unit or material lot.

Its members are found by walking the thread from the unit or lot: the work order and revision it was built
under and to, its operations and inspections, everything it consumed down the genealogy (``tl:consumed``,
lot splits and merges) with the consumption events, the NCRs on it or on anything it consumed with their
dispositions and CAPAs, the signatures on the revision, dispositions and CAPAs, and what those name (people,
equipment, routing steps, characteristics, documents, receipts, certificates, suppliers). Every query binds its
parameters (``store.params``); no identifier is ever formatted into SPARQL text.

Operations and inspections are the unit's own; a consumed subassembly's are in its own record (its serial is
listed with the components, so a reviewer can open it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyoxigraph as ox

from threadline.namespaces import TL, data_iri
from threadline.records.errors import RecordNotFound
from threadline.records.facts import SIGNATURES_GRAPH, Facts, gather
from threadline.signatures.record_hash import DATA_GRAPH
from threadline.store import Store
from threadline.store.params import Bindable

KIND = "dhr"
UNIT = f"SELECT ?s WHERE {{ ?s <{TL}serialNumber> ?id ; a <{TL}SerializedUnit> }}"
LOT = f"SELECT ?s WHERE {{ ?s <{TL}lotNumber> ?id ; a <{TL}MaterialLot> }}"
LINKS = f"<{TL}consumed>|<{TL}splitFrom>|<{TL}mergedFrom>|<{TL}derivedFrom>"
GENEALOGY = f"SELECT DISTINCT ?item WHERE {{ ?root ({LINKS})+ ?item }}"
OWN = f"SELECT DISTINCT ?x WHERE {{ {{ ?x <{TL}onUnit> ?root }} UNION {{ ?x <{TL}inspectedItem> ?root }} }}"
AROUND = (
    f"SELECT DISTINCT ?x WHERE {{ {{ ?x <{TL}consumer> ?item }} UNION {{ ?x <{TL}concernsItem> ?item }} "
    f"UNION {{ ?x <{TL}inspectedItem> ?item . ?item a <{TL}MaterialLot> }} }}"
)
CAPAS = f"SELECT DISTINCT ?x WHERE {{ {{ ?ncr <{TL}capa> ?x }} UNION {{ ?x <{TL}addresses> ?ncr }} }}"
SIGNED = (
    f"SELECT DISTINCT ?x WHERE {{ GRAPH ?g {{ ?x <{TL}signs> ?record }} "
    f"FILTER({DATA_GRAPH} || ?g = <{SIGNATURES_GRAPH}>) }}"
)
# links followed from members to what they name (never back to other units' operations or consumers)
FOLLOW = (
    "builtUnder",
    "builtTo",
    "ofPart",
    "revisionOf",
    "hasDocument",
    "performedBy",
    "onEquipment",
    "executesStep",
    "forCharacteristic",
    "inspectedBy",
    "usingEquipment",
    "hasDisposition",
    "approvedBy",
    "receivedIn",
    "hasCertificate",
    "suppliedBy",
    "issuedBy",
    "signer",
    "consumedItem",
    "detectedAt",
    "capa",
    "childPart",
)


@dataclass
class Members:
    """The record's subject and its members by role; ``facts`` holds what the thread states about them all."""

    id: str
    kind: str  # unit | lot
    subject: str
    facts: Facts
    items: list[str] = field(default_factory=list)  # everything consumed, down the genealogy
    own: list[str] = field(default_factory=list)  # the subject's operations and inspections
    around: list[str] = field(default_factory=list)  # consumptions, NCRs (and lot inspections) of subject and items
    capas: list[str] = field(default_factory=list)
    signatures: list[str] = field(default_factory=list)

    @property
    def iri(self) -> str:
        return record_iri(KIND, self.id)


def record_iri(kind: str, *keys: str) -> str:
    """The record's own IRI (``…/id/dhr/{serial}``, ``…/id/fai/{part}/{revision}``): what a release signs."""
    return data_iri(kind, *keys)


def resolve(store: Store, identifier: str) -> tuple[str, str]:
    """The unit (by serial number) or lot (by lot number) ``identifier`` names: (IRI, "unit" | "lot")."""
    if not identifier or not identifier.strip():
        raise RecordNotFound("name a serial number or a lot number")
    for kind, query in (("unit", UNIT), ("lot", LOT)):  # a unit before a lot that shares its identifier
        found = sorted(store.select(query, {"id": identifier}).values("s"))
        if found:
            return found[0], kind
    raise RecordNotFound(f"the thread has no serialized unit or material lot {identifier!r}")


def collect(store: Store, identifier: str) -> Members:
    """Find the record's members and read what the thread states about them."""
    subject, kind = resolve(store, identifier)
    root: list[Bindable] = [ox.NamedNode(subject)]
    items = sorted(set(store.select(GENEALOGY, {"root": root}).values("item")))
    own = sorted(set(store.select(OWN, {"root": root}).values("x")))
    near: list[Bindable] = [ox.NamedNode(x) for x in [subject, *items]]
    around = sorted(set(store.select(AROUND, {"item": near}).values("x")))
    members = Members(identifier, kind, subject, Facts(), items, own, around)
    gather(store, [subject, *items, *own, *around], members.facts)
    follow(store, members.facts)
    ncrs: list[Bindable] = [ox.NamedNode(x) for x in around if members.facts.has_type(x, "Nonconformance")]
    members.capas = sorted(set(store.select(CAPAS, {"ncr": ncrs}).values("x"))) if ncrs else []
    gather(store, members.capas, members.facts)
    signable = [subject, *members.facts.iris(subject, "builtTo"), *members.capas]
    signable += [d for x in around for d in members.facts.iris(x, "hasDisposition")]
    nodes: list[Bindable] = [ox.NamedNode(x) for x in sorted(set(signable))]
    members.signatures = sorted(set(store.select(SIGNED, {"record": nodes}).values("x")))
    gather(store, members.signatures, members.facts)
    follow(store, members.facts)
    return members


def follow(store: Store, facts: Facts, rounds: int = 4) -> None:
    """Gather what members name through ``FOLLOW`` links, until nothing new (a few rounds: the links are shallow)."""
    for _ in range(rounds):
        named = {iri for subject in list(facts.statements) for link in FOLLOW for iri in facts.iris(subject, link)}
        new = sorted(named - set(facts.statements))
        if not new:
            return
        gather(store, new, facts)


__all__ = ["KIND", "Members", "collect", "follow", "record_iri", "resolve"]
