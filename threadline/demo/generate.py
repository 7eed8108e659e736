"""Entry point of the demo generator: plan the run, write every system's exports, write the manifest."""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from threadline.demo import model, quality, supply, writers
from threadline.demo.history import MAX_DAYS, write_history
from threadline.demo.manifest import Gap, Manifest, iri
from threadline.demo.plan import Plan, build
from threadline.demo.production import ProductionRun, serial
from threadline.demo.writers import date_str
from threadline.errors import DemoError

SYSTEMS = ("plm", "erp", "mes", "qms")
DEFAULT_SEED = 42


def generate(
    out_dir: Path,
    units: int,
    seed: int = DEFAULT_SEED,
    progress: Callable[[str, int, int], None] | None = None,
    history_days: int = 0,
) -> Manifest:
    """Write a complete, deterministic demo export set into ``out_dir`` (its system folders are replaced), then
    ``history_days`` days of delta exports after it in ``out_dir/history/`` (see ``threadline.demo.history``)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise DemoError(f"output path {out_dir} exists and is not a directory")
    if not 0 <= history_days <= MAX_DAYS:
        raise DemoError(f"history days must be between 0 and {MAX_DAYS}, got {history_days}")
    plan = build(units, seed)
    rng = random.Random(seed * 7919 + 1)

    def report(phase: str, done: int, total: int) -> None:
        if progress is not None:
            progress(phase, done, total)

    for system in SYSTEMS:
        if (out_dir / system).exists():
            shutil.rmtree(out_dir / system)
        (out_dir / system).mkdir(parents=True)
    plant = model.Plant()
    counts: dict[str, int] = {}
    report("master data", 0, 3)
    counts |= writers.write_plm(out_dir, plan, plant)
    counts |= writers.write_erp_master(out_dir, plant)
    counts |= writers.write_mes_master(out_dir, plant)
    report("master data", 3, 3)
    report("purchasing", 0, 1)
    supply_counts, receipt_of = supply.write_supply(out_dir, plan)
    counts |= supply_counts
    report("purchasing", 1, 1)
    cases = quality.plan_ncrs(plan)
    run = ProductionRun(out_dir, plan, cases, rng)
    report("production", 0, units)
    prod_counts, prod_truth = run.run(progress)
    counts |= prod_counts
    report("quality", 0, 1)
    lot_case = cases[-1]
    lot_case.opened_at = plan.lots["CST-3300"].received_at[-1] + 5 * 3600
    lot_case.closed_at = lot_case.opened_at + 6 * 86400
    qms_counts, capa_truth = quality.write_qms(out_dir, plan, cases)
    counts |= qms_counts
    report("quality", 1, 1)

    manifest = Manifest(seed=seed, units=units, counts=counts)
    manifest.entities = _entities(plan, counts, cases, capa_truth)
    manifest.gaps = _gaps(plan, cases, run, capa_truth, receipt_of)
    manifest.ground_truth = _truth(plan, cases, run, prod_truth, capa_truth)
    if history_days or (out_dir / "history").exists():
        manifest.history = write_history(out_dir, plan, run, cases, counts, history_days, report)
    manifest.write(out_dir / "manifest.json")
    report("manifest", 1, 1)
    return manifest


def _entities(
    plan: Plan, counts: dict[str, int], cases: list[quality.NcrCase], capas: dict[str, Any]
) -> dict[str, int]:
    received = sum(len(lp.lots) for lp in plan.lots.values())
    sublots = counts["mes/lot-events.jsonl"] - 1  # every lot event makes one lot; one of them is the merge
    return {
        "finishedUnits": plan.units,
        "subassemblyUnits": 2 * plan.units,
        "serializedUnits": 3 * plan.units,
        "receivedLots": received,
        "sublots": sublots,
        "mergedLots": 1,
        "lots": received + sublots + 1,
        "workOrders": counts["erp/work-orders.csv"],
        "operations": counts["mes/operations.jsonl"],
        "consumptions": counts["mes/genealogy.jsonl"],
        "inspectionResults": counts["qms/inspection-results.csv"],
        "ncrs": len(cases),
        "ncrsOpen": sum(1 for c in cases if c.is_open),
        "dispositions": sum(1 for c in cases if c.disposition is not None),
        "capas": counts["qms/capas.json"],
        "capasOpen": len(capas["open"]),
        "receipts": counts["erp/receipts.csv"],
        "certificates": counts["erp/certificates.csv"],
        "purchaseOrders": counts["erp/purchase-orders.csv"],
    }


def _gaps(
    plan: Plan, cases: list[quality.NcrCase], run: ProductionRun, capas: dict[str, Any], receipt_of: dict[str, str]
) -> list[Gap]:
    gaps: list[Gap] = []
    for i in plan.no_final_inspection:
        sn = serial("FC", i)
        gaps.append(
            Gap(
                "unit-missing-final-inspection",
                iri("unit", sn),
                sn,
                f"{sn} is marked completed but has no final inspection (routing step 30) on record",
            )
        )
    for c in cases:
        if c.disposition is None:
            gaps.append(
                Gap(
                    "ncr-without-disposition",
                    iri("ncr", c.number),
                    c.number,
                    f"{c.number} on {c.serial} was closed without an MRB disposition",
                )
            )
    for c in cases:
        if c.disposition is not None and c.approver not in model.MRB:
            gaps.append(
                Gap(
                    "disposition-approved-by-non-mrb",
                    iri("disposition", c.number),
                    c.number,
                    f"disposition of {c.number} approved by {c.approver}, who is not an MRB member",
                    (iri("person", c.approver),),
                )
            )
    for number in capas["withoutEffectivenessCheck"]:
        gaps.append(
            Gap(
                "capa-closed-without-effectiveness-check",
                iri("capa", number),
                number,
                f"{number} was closed although its effectiveness check was never done",
            )
        )
    gr = receipt_of[plan.no_coc_lot]
    gaps.append(
        Gap(
            "lot-received-without-coc",
            iri("receipt", gr),
            gr,
            f"goods receipt {gr} of lot {plan.no_coc_lot} (HSG-3200) has no certificate of conformance",
            (iri("lot", plan.no_coc_lot),),
        )
    )
    for op in run.gap_records["operatorless"]:
        gaps.append(
            Gap(
                "operation-without-operator",
                iri("op", op),
                op,
                f"operation execution {op} (final assembly) has no operator recorded",
            )
        )
    for rid in run.gap_records["out_of_limits_pass"]:
        gaps.append(
            Gap(
                "inspection-out-of-limits-passed",
                iri("inspection", rid),
                rid,
                f"inspection result {rid} measured above the upper limit but was recorded as pass",
            )
        )
    part, rev = model.UNSIGNED_REVISION
    gaps.append(
        Gap(
            "released-revision-without-signature",
            iri("rev", part, rev),
            f"{part}/{rev}",
            f"revision {rev} of {part} is released but carries no approval signature",
        )
    )
    sn = serial("FC", plan.pilot)
    gaps.append(
        Gap(
            "unit-built-to-unreleased-revision",
            iri("unit", sn),
            sn,
            f"{sn} was built to {model.TOP} revision C before C was released",
        )
    )
    return gaps


def _supplier_lots(plan: Plan, lots: list[str]) -> list[str]:
    merged = {lp.merged_lot: lp.lots[:2] for lp in plan.lots.values() if lp.merged_lot}
    out: list[str] = []
    for lot in lots:
        if lot in merged:
            out += merged[lot]
        else:
            out.append(lot.split("-")[0])
    return sorted(set(out))


def _truth(
    plan: Plan, cases: list[quality.NcrCase], run: ProductionRun, prod: dict[str, Any], capas: dict[str, Any]
) -> dict[str, Any]:
    consumed: dict[str, list[str]] = prod["exampleConsumed"]
    ex_lots = sorted({x for items in consumed.values() for x in items if x.startswith(("L", "M"))})
    enc = plan.lots["ENC-3600"]
    shared_users = min(enc.capacity, plan.units)
    pcb = plan.lots["PCB-3100"]
    adh = plan.lots[model.MERGED_PART]
    first_capa = next(iter(capas["members"].items()))
    ncr_open = [c.number for c in cases if c.is_open]
    return {
        "exampleUnit": {
            "serial": prod["exampleSerial"],
            "part": model.TOP,
            "builtTo": plan.revision[prod["exampleIndex"]],
            "workOrder": prod["exampleWorkOrder"],
            "subassemblies": prod["exampleSubassemblies"],
            "consumed": consumed,
            "lots": ex_lots,
            "supplierLots": _supplier_lots(plan, ex_lots),
        },
        "sharedSupplierLot": {
            "lot": enc.lots[0],
            "part": "ENC-3600",
            "unitCount": shared_users,
            "firstUnits": [serial("FC", i) for i in range(min(3, shared_users))],
        },
        "eco": {
            "number": writers.ECO_CUTOVER,
            "part": model.TOP,
            "fromRevision": "B",
            "toRevision": "C",
            "effectiveFrom": date_str(plan.effective_from_day),
            "unitsBuiltToOldAfterEffectivity": [serial("FC", i) for i in plan.late_b],
            "unitBuiltBeforeRelease": serial("FC", plan.pilot),
            "unitsByRevision": {r: plan.revision.count(r) for r in ("B", "C")},
        },
        "capaWithSeveralNcrs": {"capa": first_capa[0], "ncrs": first_capa[1]},
        "capasOpen": capas["open"],
        "capasClosed": capas["closed"],
        "ncrsOpen": ncr_open,
        "partAtSeveralBomLevels": {
            "part": model.FASTENER,
            "parents": sorted({f"{b.parent}/{b.parent_rev}" for b in model.bom_lines() if b.child == model.FASTENER}),
        },
        "splitLot": {"lot": pcb.lots[0], "part": "PCB-3100", "sublots": [f"{pcb.lots[0]}-{k}" for k in range(1, 5)]},
        "mergedLot": {"lot": adh.merged_lot, "part": model.MERGED_PART, "from": adh.lots[:2]},
        "rejectedLot": plan.rejected_lot,
        "kpi": {
            "finishedUnits": plan.units,
            "firstPassUnits": plan.units - len(plan.ncr_units),
            "scrappedUnits": run.scrapped,
            "reworkedUnits": run.reworked,
            "unitNcrs": len(plan.ncr_units),
        },
    }
