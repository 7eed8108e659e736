"""Writers for the master-data exports (PLM, ERP masters, MES equipment and personnel).

Each function writes one source system's files in that system's own shape and returns the record count
per file (``{"plm/parts.csv": 11, ...}``), which the manifest lists. These files are small, so they use
the ``csv`` and ``json`` modules; the production-volume files are streamed by ``production.py``.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path
from typing import Any

from threadline.demo import model
from threadline.demo.clock import DAY, date_str, to_seconds, ts
from threadline.demo.plan import Plan

ECO_CUTOVER = "ECO-2024-0117"
ECO_EARLIER = "ECO-2023-0042"
Counts = dict[str, int]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> int:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return len(rows)


def write_json(path: Path, document: Any) -> None:
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def top_revisions(plan: Plan) -> list[model.Revision]:
    """FC-1000's revisions; C's dates follow from where the plan put the ECO cut-over."""
    eff = plan.effective_from_day
    return [
        model.Revision(model.TOP, "A", "obsolete", "2023-03-01T09:00:00Z", "2023-03-06", "2023-10-31", ""),
        model.Revision(model.TOP, "B", "released", "2023-10-16T15:00:00Z", "2023-11-01", date_str(eff - 1), "A"),
        model.Revision(model.TOP, "C", "released", ts(plan.c_released_at), date_str(eff), "", "B"),
    ]


def all_revisions(plan: Plan) -> list[model.Revision]:
    gasket = model.Revision(
        model.GASKET, "A", "released", ts(plan.c_released_at - 6 * DAY), date_str(plan.effective_from_day - 5), "", ""
    )
    return [*top_revisions(plan), *model.FIXED_REVISIONS, gasket]


def record_hash(rev: model.Revision) -> str:
    text = f"{rev.part}|{rev.label}|{rev.state}|{rev.released_at}|{rev.effective_from}"
    return hashlib.sha256(text.encode()).hexdigest()


def write_plm(root: Path, plan: Plan, plant: model.Plant) -> Counts:
    d = root / "plm"
    d.mkdir(parents=True, exist_ok=True)
    counts: Counts = {}
    counts["plm/parts.csv"] = write_csv(
        d / "parts.csv",
        ["part_number", "name", "description", "unit_of_measure", "serialized", "make_or_buy"],
        [[p.number, p.name, p.description, p.uom, str(p.serialized).lower(), p.make_or_buy] for p in plant.parts],
    )
    revisions = all_revisions(plan)
    counts["plm/revisions.csv"] = write_csv(
        d / "revisions.csv",
        ["part_number", "revision", "lifecycle_state", "released_at", "effective_from", "effective_to", "supersedes"],
        [[r.part, r.label, r.state, r.released_at, r.effective_from, r.effective_to, r.supersedes] for r in revisions],
    )
    counts["plm/bom.csv"] = write_csv(
        d / "bom.csv",
        ["parent_part", "parent_revision", "find_number", "child_part", "quantity", "unit_of_measure"],
        [[b.parent, b.parent_rev, b.find, b.child, b.qty, b.uom] for b in plant.bom],
    )
    counts["plm/bom-refdes.csv"] = write_csv(
        d / "bom-refdes.csv",
        ["parent_part", "parent_revision", "find_number", "reference_designator"],
        [[b.parent, b.parent_rev, b.find, r] for b in plant.bom for r in b.refdes],
    )
    counts["plm/documents.json"] = _documents(d, revisions)
    counts["plm/ecos.json"] = _ecos(d, plan)
    counts["plm/routings.json"] = _routings(d, plant)
    counts["plm/characteristics.csv"] = write_csv(
        d / "characteristics.csv",
        ["characteristic_id", "name", "part_number", "revision", "nominal", "lower_limit", "upper_limit", "unit"],
        [
            [
                c.cid,
                c.name,
                c.part,
                c.rev,
                f"{c.nominal:.{c.decimals}f}",
                f"{c.lower:.{c.decimals}f}",
                f"{c.upper:.{c.decimals}f}",
                c.uom,
            ]
            for c in plant.characteristics
        ],
    )
    rows: list[Any] = []
    for rev in revisions:
        if rev.state == "in-work" or (rev.part, rev.label) == model.UNSIGNED_REVISION:
            continue
        signer = model.RELEASE_SIGNERS[len(rows) % len(model.RELEASE_SIGNERS)]
        signed = ts(to_seconds(rev.released_at) - 3600)
        rows.append([f"SIG-{len(rows) + 1:06d}", rev.part, rev.label, signer, "approved", signed, record_hash(rev)])
    counts["plm/signatures.csv"] = write_csv(
        d / "signatures.csv",
        ["signature_id", "part_number", "revision", "signer", "meaning", "signed_at", "record_sha256"],
        rows,
    )
    return counts


def _documents(d: Path, revisions: list[model.Revision]) -> int:
    groups: dict[str, list[dict[str, Any]]] = {"drawings": [], "specifications": [], "workInstructions": []}
    for rev in revisions:
        part = model.PART_BY_NUMBER[rev.part]
        kinds = [("drawings", "DWG", "Drawing")]
        if part.make_or_buy == "make" and not (rev.part == model.TOP and rev.label == "A"):
            kinds.append(("workInstructions", "WI", "Work instruction"))
        if part.make_or_buy == "buy":
            kinds = [("specifications", "SPEC", "Procurement specification")]
        for group, prefix, title in kinds:
            number = f"{prefix}-{rev.part}"
            groups[group].append(
                {
                    "documentNumber": number,
                    "revision": rev.label,
                    "title": f"{title}, {part.name}",
                    "state": rev.state,
                    "describes": [
                        {
                            "partNumber": rev.part,
                            "partRevision": rev.label,
                            "documentNumber": number,
                            "documentRevision": rev.label,
                        }
                    ],
                }
            )
    write_json(d / "documents.json", {"exportedFrom": "PLM", **groups})
    return sum(len(v) for v in groups.values())


def _ecos(d: Path, plan: Plan) -> int:
    eff = plan.effective_from_day
    ecos = [
        {
            "changeNumber": ECO_EARLIER,
            "title": "Switch valve seal material to FKM",
            "reason": "Seal swelling with customer process gas",
            "status": "implemented",
            "approvedAt": "2023-10-16T11:00:00Z",
            "affectedItems": [
                {
                    "changeNumber": ECO_EARLIER,
                    "partNumber": model.TOP,
                    "fromRevision": "A",
                    "toRevision": "B",
                    "effectiveFrom": "2023-11-01",
                }
            ],
            "approvals": [
                {"changeNumber": ECO_EARLIER, "personId": p, "decision": "approved"} for p in model.ECO_APPROVERS
            ],
        },
        {
            "changeNumber": ECO_CUTOVER,
            "title": "Add EMI gasket to enclosure",
            "reason": "Radiated emission test failure at customer site; conductive gasket required",
            "status": "implemented",
            "approvedAt": ts(plan.eco_approved_at),
            "affectedItems": [
                {
                    "changeNumber": ECO_CUTOVER,
                    "partNumber": model.TOP,
                    "fromRevision": "B",
                    "toRevision": "C",
                    "effectiveFrom": date_str(eff),
                }
            ],
            "approvals": [
                {"changeNumber": ECO_CUTOVER, "personId": p, "decision": "approved"} for p in model.ECO_APPROVERS
            ],
        },
    ]
    write_json(d / "ecos.json", {"changeOrders": ecos})
    return len(ecos)


def _routings(d: Path, plant: model.Plant) -> int:
    routings: dict[tuple[str, str], dict[str, Any]] = {}
    for s in plant.steps:
        r = routings.setdefault(
            (s.part, s.rev),
            {"routingId": f"RT-{s.part}-{s.rev}", "partNumber": s.part, "revision": s.rev, "steps": []},
        )
        r["steps"].append(
            {
                "partNumber": s.part,
                "revision": s.rev,
                "sequence": s.seq,
                "operation": s.name,
                "workCenter": s.work_center,
                "finalInspection": s.final,
                "inspections": [
                    {"partNumber": s.part, "revision": s.rev, "sequence": s.seq, "characteristicId": c}
                    for c in s.characteristics
                ],
            }
        )
    write_json(d / "routings.json", {"routings": list(routings.values())})
    return len(routings)


def write_erp_master(root: Path, plant: model.Plant) -> Counts:
    d = root / "erp"
    d.mkdir(parents=True, exist_ok=True)
    counts: Counts = {}
    counts["erp/materials.csv"] = write_csv(
        d / "materials.csv",
        [
            "material",
            "description",
            "material_type",
            "base_unit",
            "procurement_type",
            "serial_profile",
            "batch_managed",
        ],
        [
            [
                p.number,
                p.name,
                p.erp_type,
                p.uom,
                "E" if p.make_or_buy == "make" else "F",
                "SN01" if p.serialized else "",
                "X" if not p.serialized else "",
            ]
            for p in plant.parts
        ],
    )
    counts["erp/suppliers.csv"] = write_csv(
        d / "suppliers.csv", ["supplier_id", "name", "approval_status"], [list(s) for s in model.SUPPLIERS]
    )
    return counts


def write_mes_master(root: Path, plant: model.Plant) -> Counts:
    d = root / "mes"
    d.mkdir(parents=True, exist_ok=True)
    by_parent: dict[str, list[tuple[str, str, str, str, str]]] = {}
    for e in model.EQUIPMENT:
        by_parent.setdefault(e[4], []).append(e)

    def node(e: tuple[str, str, str, str, str], child_key: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {"id": e[0], "name": e[1], "level": e[2], "equipmentType": e[3], "parent": e[4] or None}
        if child_key:
            child_level = {"areas": "Area", "workCenters": "WorkCenter", "workUnits": "WorkUnit"}[child_key]
            nxt = {"areas": "workCenters", "workCenters": "workUnits", "workUnits": None}[child_key]
            out[child_key] = [node(c, nxt) for c in by_parent.get(e[0], []) if c[2] == child_level]
        return out

    sites = [node(e, "areas") for e in by_parent[""]]
    write_json(d / "equipment.json", {"equipmentModel": "ISA-95", "sites": sites})
    counts: Counts = {"mes/equipment.json": len(model.EQUIPMENT)}
    counts["mes/personnel.csv"] = write_csv(
        d / "personnel.csv",
        ["person_id", "name", "personnel_class", "mrb_member"],
        [[p.pid, p.name, p.role, str(p.mrb).lower()] for p in plant.people],
    )
    return counts
