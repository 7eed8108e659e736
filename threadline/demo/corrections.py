"""The seeded corrections of the history days: which records change on which day, and their restated rows.

Corrections restate records of the base export, so their old rows are read back from the files just written
(one streaming pass per file, keeping only the wanted lines) rather than kept in memory by the generator:
the base export streams unit by unit and holds nothing, at any size. Values in the demo's CSV files never
contain commas or quotes, so a row is split on commas.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from threadline.demo import model
from threadline.demo.manifest import iri
from threadline.demo.plan import Plan
from threadline.demo.production import serial
from threadline.demo.quality import NcrCase

TL = "https://w3id.org/threadline/ontology#"
SHIP_AFTER = 14  # days a completed unit waits in finished goods before it ships (as in the base export)
LATE_PART = "SEAL-3400"  # the history lot whose certificate of conformance arrives days after the lot


@dataclass(frozen=True)
class Change:
    """One field of one source record that a history day changed: the ground truth of history features."""

    kind: str
    file: str  # system/file the record is exported in
    record: str  # the record's source key
    subject: str  # IRI of the subject the record maps to
    field: str  # column or JSON field in the export
    predicate: str  # ontology property the field maps to
    old: str | None
    new: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "file": self.file,
            "record": self.record,
            "subject": self.subject,
            "field": self.field,
            "predicate": self.predicate,
            "old": self.old,
            "new": self.new,
        }


@dataclass
class Schedule:
    """Which corrections fall on which day, decided before any day is written."""

    remeasure: dict[int, int] = field(default_factory=dict)  # day -> finished-unit index re-measured
    operator: dict[int, int] = field(default_factory=dict)  # day -> unit whose final assembly operator is fixed
    ncr: NcrCase | None = None
    reopen_day: int = 0
    reclose_day: int = 0  # 0: still open after the last day
    late_certificate_day: int = 1


def _ordinary_units(plan: Plan, cases: list[NcrCase]) -> list[int]:
    special = {plan.pilot, *plan.late_b, *plan.no_final_inspection, *plan.out_of_limits_pass, *plan.operatorless}
    special |= {c.unit for c in cases}
    return [i for i in range(plan.units) if i not in special]


def schedule(plan: Plan, cases: list[NcrCase], days: int, rng: random.Random) -> Schedule:
    """Re-measures every fourth day from day 1, operator fixes every fourth day from day 2, the NCR reopened on
    day 2 and closed two days later, the late certificate on day 3 (clamped to a shorter history)."""
    remeasure_days = list(range(1, days + 1, 4))
    operator_days = list(range(2, days + 1, 4)) or [days]
    ordinary = _ordinary_units(plan, cases)
    wanted = len(remeasure_days) + len(operator_days)
    picks = rng.sample(ordinary, min(wanted, len(ordinary)))
    picks = [picks[k % len(picks)] for k in range(wanted)]  # a long history of a small plant corrects units again
    out = Schedule(
        remeasure=dict(zip(remeasure_days, picks[: len(remeasure_days)], strict=True)),
        operator=dict(zip(operator_days, picks[len(remeasure_days) :], strict=True)),
        late_certificate_day=min(days, 3),
    )
    candidates = [
        c
        for c in cases
        if c.unit >= 0 and not c.is_open and c.disposition not in (None, "scrap") and c.approver in model.MRB
    ]
    out.ncr = rng.choice(candidates)
    out.reopen_day = min(days, 2)
    out.reclose_day = out.reopen_day + 2 if out.reopen_day + 2 <= days else 0
    return out


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as fh:
        next(fh)  # header (JSON Lines files have none: callers pass CSV files only)
        yield from fh


def find_rows(path: Path, key: Callable[[list[str]], str], wanted: set[str]) -> dict[str, list[str]]:
    """The CSV rows of ``path`` whose key is wanted, by key (one pass)."""
    out: dict[str, list[str]] = {}
    for line in _lines(path):
        row = line.rstrip("\n").split(",")
        k = key(row)
        if k in wanted:
            out[k] = row
    return out


def find_operations(path: Path, serials: set[str], sequence: int) -> dict[str, dict[str, Any]]:
    """The MES operation executions of ``serials`` at routing ``sequence``, by serial (one pass)."""
    marker = '"serialNumber": "'
    out: dict[str, dict[str, Any]] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            at = line.find(marker) + len(marker)
            if line[at : line.index('"', at)] in serials:
                record = json.loads(line)
                if record["sequence"] == sequence:
                    out[record["serialNumber"]] = record
    return out


def operation_line(r: dict[str, Any]) -> str:
    """An operation record in the MES's own line layout (the base export writes it the same way)."""
    person = f'"{r["operator"]}"' if r["operator"] else "null"
    return (
        f'{{"executionId": "{r["executionId"]}", "workOrder": "{r["workOrder"]}", '
        f'"serialNumber": "{r["serialNumber"]}", "partNumber": "{r["partNumber"]}", '
        f'"revision": "{r["revision"]}", "sequence": {r["sequence"]}, "equipment": "{r["equipment"]}", '
        f'"operator": {person}, "start": "{r["start"]}", "end": "{r["end"]}", "result": "{r["result"]}"}}\n'
    )


def final_check(plan: Plan, unit: int) -> tuple[str, str]:
    """The (serial, characteristic) of a finished unit's first final-inspection check: outlet pressure."""
    return serial("FC", unit), f"CH-{model.TOP}-{plan.revision[unit]}-PRESS"


def remeasured(row: list[str], value: float, at: str) -> tuple[list[str], list[Change]]:
    """An inspection result measured again: new value and time, same record."""
    new = [*row]
    fmt = f"%.{len(row[3].split('.')[1])}f"
    new[3], new[10] = fmt % value, at
    subject = iri("inspection", row[0])
    file = "qms/inspection-results.csv"
    return new, [
        Change("inspection-remeasured", file, row[0], subject, "measured_value", TL + "measuredValue", row[3], new[3]),
        Change("inspection-remeasured", file, row[0], subject, "inspected_at", TL + "inspectedAt", row[10], new[10]),
    ]


def corrected_operator(record: dict[str, Any], operator: str) -> tuple[dict[str, Any], Change]:
    eid = record["executionId"]
    change = Change(
        "operator-corrected",
        "mes/operations.jsonl",
        eid,
        iri("op", eid),
        "operator",
        TL + "performedBy",
        record["operator"],
        operator,
    )
    return {**record, "operator": operator}, change


def ncr_changes(number: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    subject = iri("ncr", number)
    kind = "ncr-reopened" if new["status"] == "open" else "ncr-closed-again"
    fields = {"status": TL + "ncrStatus", "closedAt": TL + "closedAt"}
    return [
        Change(kind, "qms/ncrs.json", number, subject, name, predicate, old[name], new[name])
        for name, predicate in fields.items()
        if old[name] != new[name]
    ]


def shipped(rows: list[list[str]]) -> tuple[list[list[str]], list[Change]]:
    """A finished unit and its two subassemblies leave finished goods for the customer."""
    out: list[list[str]] = []
    changes: list[Change] = []
    for row in rows:
        new = [*row]
        new[4] = "shipped"
        subject = iri("unit", row[0])
        changes.append(
            Change("unit-shipped", "mes/units.csv", row[0], subject, "status", TL + "unitStatus", row[4], "shipped")
        )
        if row[0].startswith("FC-"):
            new[5] = "CUSTOMER"
            changes.append(
                Change(
                    "unit-shipped", "mes/units.csv", row[0], subject, "location", TL + "location", row[5], "CUSTOMER"
                )
            )
        out.append(new)
    return out, changes
