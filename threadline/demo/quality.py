"""NCR and CAPA planning and the QMS exports for them.

The NCR cases are decided before production is written (which unit fails where, how MRB disposes of it,
which CAPA picks it up); production fills in when each was opened and closed, then ``write_qms`` writes
``ncrs.json``, ``capas.json`` and ``capa-ncrs.csv``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from threadline.demo import model
from threadline.demo.clock import DAY, HOUR, ts
from threadline.demo.plan import DISPOSITION_CYCLE, Plan
from threadline.demo.writers import Counts, write_csv, write_json

NO_DISPOSITION_ORDINAL = 4
NON_MRB_ORDINAL = 6
CAPA_WITHOUT_CHECK = 1
DEFECTS = {
    20: ("DF-FLOW", "Flow accuracy outside tolerance at functional test"),
    30: ("DF-PRESS", "Outlet pressure outside tolerance at final inspection"),
}


@dataclass
class NcrCase:
    number: str
    ordinal: int
    unit: int  # finished-unit index, -1 for the lot NCR
    step: int  # FC-1000 routing step where detected (0: incoming inspection)
    disposition: str | None
    is_open: bool
    approver: str
    capa: int | None
    opened_at: int = 0
    closed_at: int = 0
    revision: str = ""
    serial: str = ""
    lot: str = ""


def plan_ncrs(plan: Plan) -> list[NcrCase]:
    n = len(plan.ncr_units)
    capas = max(3, n // 6)
    cases = []
    for k, unit in enumerate(plan.ncr_units):
        is_open = k >= n - max(2, n // 100)
        if is_open:
            disp: str | None = "rework"
            step = 30
        elif k == NO_DISPOSITION_ORDINAL:
            disp, step = None, 20
        else:
            disp = DISPOSITION_CYCLE[k % len(DISPOSITION_CYCLE)]
            step = {"use-as-is": 20, "scrap": 30}.get(disp, 20 if k % 2 else 30)
        approver = model.NON_MRB_APPROVER if k == NON_MRB_ORDINAL else model.MRB[k % len(model.MRB)]
        capa = k // 3 if k < 3 * capas else None
        cases.append(NcrCase(f"NCR-{k + 1:06d}", k, unit, step, disp, is_open, approver, capa))
    lot_case = NcrCase(f"NCR-{n + 1:06d}", n, -1, 0, "return-to-supplier", False, model.MRB[0], None)
    lot_case.lot = plan.rejected_lot
    cases.append(lot_case)
    return cases


def capa_number(k: int) -> str:
    return f"CAPA-{k + 1:05d}"


def ncr_record(c: NcrCase, plan: Plan) -> dict[str, Any]:
    """One NCR as the QMS exports it; the history days restate it when it is reopened and closed again."""
    code, text = DEFECTS.get(c.step, ("DF-DIM", "Casting wall thickness below drawing minimum"))
    disposition = None
    if c.disposition is not None:
        disposition = {
            "ncrNumber": c.number,
            "type": c.disposition,
            "approvedBy": c.approver,
            "approvedAt": ts(c.opened_at + DAY),
        }
    return {
        "ncrNumber": c.number,
        "serialNumber": c.serial or None,
        "lotNumber": c.lot or None,
        "detectedAtPart": model.TOP if c.step else None,
        "detectedAtRevision": c.revision or None,
        "detectedAtSequence": c.step or None,
        "defectCode": code,
        "defectDescription": text,
        "quantity": "1" if c.serial else str(plan.lots["CST-3300"].capacity),
        "status": "open" if c.is_open else "closed",
        "openedAt": ts(c.opened_at),
        "closedAt": None if c.is_open else ts(c.closed_at),
        "capaNumber": capa_number(c.capa) if c.capa is not None else None,
        "disposition": disposition,
    }


def write_qms(root: Path, plan: Plan, cases: list[NcrCase]) -> tuple[Counts, dict[str, Any]]:
    d = root / "qms"
    ncrs = [ncr_record(c, plan) for c in cases]
    write_json(d / "ncrs.json", {"exportedFrom": "QMS", "ncrs": ncrs})

    members: dict[int, list[NcrCase]] = {}
    for c in cases:
        if c.capa is not None:
            members.setdefault(c.capa, []).append(c)
    last = max(members)
    capas = []
    links = []
    truth: dict[str, Any] = {"open": [], "closed": [], "withoutEffectivenessCheck": []}
    for k in sorted(members):
        group = members[k]
        number = capa_number(k)
        opened = max(c.opened_at for c in group) + 2 * DAY
        closed_at = max(c.closed_at for c in group) + 20 * DAY
        is_open = k == last or any(c.is_open for c in group) or closed_at >= plan.export_at - DAY
        check_done = not is_open and k != CAPA_WITHOUT_CHECK
        code, text = DEFECTS[group[0].step or 30]
        capas.append(
            {
                "capaNumber": number,
                "problemStatement": f"Recurring {code}: {text.lower()}",
                "rootCause": "Under investigation" if is_open else "Calibration drift of test equipment",
                "actions": [
                    {"capaNumber": number, "action": "Recalibrate and add weekly verification"},
                    {"capaNumber": number, "action": "Update work instruction with verification step"},
                ],
                "effectivenessCheck": "No recurrence over the next 500 units",
                "effectivenessCheckDone": check_done,
                "status": "open" if is_open else "closed",
                "openedAt": ts(opened),
                "closedAt": None if is_open else ts(closed_at + 8 * HOUR),
            }
        )
        links += [[number, c.number] for c in group]
        truth["open" if is_open else "closed"].append(number)
        if not is_open and not check_done:
            truth["withoutEffectivenessCheck"].append(number)
    write_json(d / "capas.json", {"exportedFrom": "QMS", "capas": capas})
    counts: Counts = {"qms/ncrs.json": len(ncrs), "qms/capas.json": len(capas)}
    counts["qms/capa-ncrs.csv"] = write_csv(d / "capa-ncrs.csv", ["capa_number", "ncr_number"], links)
    truth["members"] = {capa_number(k): [c.number for c in v] for k, v in sorted(members.items())}
    return counts, truth
