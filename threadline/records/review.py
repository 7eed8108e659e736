"""Review by exception: what in a record needs a reviewer's eye before it can be released.

Three kinds, each a plain check a reviewer can repeat:

- ``incomplete``: required data missing, per the "record complete" SHACL profile (``shapes/records.ttl``, which
  includes ``cfr820`` and ``core``), validated on the record's members only (the native engine's ``restrict``,
  as incremental validation does), so a record's exceptions never depend on the rest of the thread.
- ``out-of-tolerance-without-ncr``: an inspection of the record's subject measured outside its limits, whatever
  result was recorded, while no NCR concerns the inspected item.
- ``consumed-item-with-open-ncr``: something the subject consumed (down the genealogy) has an open NCR.

Not yet checked (issue #15): changes after first entry and signatures older than the data they sign.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from rdflib import URIRef
from rdflib.term import Node

from threadline.config import content_dir
from threadline.records.facts import Facts
from threadline.shacl.engine import NativeEngine, target_shapes
from threadline.shacl.model import Result
from threadline.shacl.shapes import Shapes, load_profile
from threadline.store import Store

PROFILE = "records"
SEVERITY = "http://www.w3.org/ns/shacl#"


@dataclass(frozen=True)
class Finding:
    """One exception: its kind, the member it is about, the property (if any) and what to do."""

    kind: str
    focus: str
    message: str
    path: str | None = None
    severity: str = "Violation"
    clause: str | None = None
    owner: str | None = None
    fix: str | None = None
    shape: str | None = None

    def key(self) -> tuple[str, str, str, str]:
        return (self.kind, self.focus, self.path or "", self.message)

    def id(self, record: str) -> str:
        """A stable IRI for the exception within its record (no blank nodes in the canonical form)."""
        digest = hashlib.sha256("\n".join(self.key()).encode()).hexdigest()[:16]
        return f"{record}#exception-{digest}"

    def as_dict(self) -> dict[str, str]:
        out = {
            "kind": self.kind,
            "focus": self.focus,
            "message": self.message,
            "severity": self.severity,
            "path": self.path,
            "clause": self.clause,
            "ownerRole": self.owner,
            "fixHint": self.fix,
        }
        return {k: v for k, v in out.items() if v is not None}


def shapes(shapes_dir: Path | None = None) -> Shapes:
    """The record-complete profile, parsed once per state of the shapes folder (parsing costs ~0.3 s)."""
    folder = Path(shapes_dir or content_dir("shapes"))
    state = tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in folder.glob("*.ttl")))
    return _profile(folder, state)


@functools.lru_cache(maxsize=4)
def _profile(folder: Path, state: tuple[tuple[str, int, int], ...]) -> Shapes:
    return load_profile(folder, PROFILE)


def review(store: Store, facts: Facts, subject: str, items: list[str], shapes_dir: Path | None = None) -> list[Finding]:
    """Every exception of the record whose members ``facts`` describes, sorted."""
    found = incomplete(store, facts, shapes(shapes_dir))
    found += out_of_tolerance(facts, subject)
    found += open_ncrs(facts, items)
    return sorted(set(found), key=Finding.key)


def incomplete(store: Store, facts: Facts, profile: Shapes) -> list[Finding]:
    members: list[Node] = [URIRef(m) for m in sorted(facts.statements)]
    engine = NativeEngine(store, profile)
    restrict: dict[Node, list[Node] | None] = {shape: members for shape in target_shapes(profile.graph)}
    # shapes the native engine hands to pyshacl are validated on the whole thread: keep the members' results
    wanted = set(members)
    return [_from_result(r, profile) for r in engine.validate(restrict).results if r.focus in wanted]


def _from_result(result: Result, profile: Shapes) -> Finding:
    notes = profile.annotations(result.shape)
    message = "; ".join(str(m) for m in result.messages) or profile.label(result.shape)
    return Finding(
        kind="incomplete",
        focus=str(result.focus),
        message=message,
        path=str(result.path) if isinstance(result.path, URIRef) else None,
        severity=str(result.severity).removeprefix(SEVERITY),
        clause=notes.get("clause"),
        owner=notes.get("ownerRole"),
        fix=notes.get("fixHint"),
        shape=str(result.shape) if isinstance(result.shape, URIRef) else None,
    )


def out_of_tolerance(facts: Facts, subject: str) -> list[Finding]:
    concerned = {i for n in _ncrs(facts) for i in facts.iris(n, "concernsItem")}
    out = []
    for result in sorted(facts.statements):
        if subject not in facts.iris(result, "inspectedItem") or subject in concerned:
            continue
        value, low, high = (_decimal(facts.one(result, p)) for p in ("measuredValue", "lowerLimit", "upperLimit"))
        if value is None or ((low is None or value >= low) and (high is None or value <= high)):
            continue
        status = facts.one(result, "inspectionStatus") or "no result"
        out.append(
            Finding(
                kind="out-of-tolerance-without-ncr",
                focus=result,
                message=f"Measured {value} outside [{low}, {high}] (recorded: {status}), and no NCR concerns the item.",
                clause="21 CFR 820.90(a); AS9100D 8.7.1",
                owner="Quality engineer",
                fix="Open an NCR for the item (or correct the recorded measurement) before release.",
            )
        )
    return out


def open_ncrs(facts: Facts, items: list[str]) -> list[Finding]:
    consumed = set(items)
    out = []
    for ncr in _ncrs(facts):
        if facts.one(ncr, "ncrStatus") != "open":
            continue
        for item in sorted(consumed.intersection(facts.iris(ncr, "concernsItem"))):
            number = facts.one(ncr, "ncrNumber") or ncr
            out.append(
                Finding(
                    kind="consumed-item-with-open-ncr",
                    focus=item,
                    message=f"A consumed item has an open nonconformance ({number}).",
                    clause="21 CFR 820.90(a); AS9100D 8.7.1",
                    owner="MRB chair",
                    fix="Have the MRB disposition the NCR, or replace the item, before release.",
                )
            )
    return out


def _ncrs(facts: Facts) -> list[str]:
    return [s for s in sorted(facts.statements) if facts.has_type(s, "Nonconformance")]


def _decimal(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None
