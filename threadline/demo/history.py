"""Day-by-day delta exports after the base export: what ``threadline demo generate --history DAYS`` adds.

A plant's systems do not send the whole thread every day; they send what changed since the last export. Each
history day ``out_dir/history/day-NN/{system}/`` holds such a delta in the system's own files and shapes,
restating whole records as ``threadline load --mode delta`` expects: the day's new production (new units and
work orders, drawing on lots received on day 1), units that leave finished goods for the customer, and seeded
corrections (see ``corrections``). The manifest's ``history`` lists, per day, every changed record and field
with its old and new value: the ground truth for tests of the thread's history.

New production draws only on lots received in the history, so the base thread's genealogy (every example's
answer) is the same with or without history.
"""

from __future__ import annotations

import dataclasses
import json
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from threadline.demo import corrections, model, production, quality, supply
from threadline.demo.clock import DAY, HOUR, MINUTE, date_str, day_of, to_seconds, ts
from threadline.demo.corrections import Change, Schedule
from threadline.demo.manifest import iri
from threadline.demo.plan import SPAN, Plan
from threadline.demo.production import ProductionRun, serial
from threadline.demo.quality import NcrCase
from threadline.demo.supply import receipt_number
from threadline.demo.writers import Counts

MAX_DAYS = 366
HEADERS = {
    "mes/units.csv": production.UNITS_HEADER,
    "qms/inspection-results.csv": production.INSPECTION_HEADER,
    "erp/work-orders.csv": production.WORK_ORDERS_HEADER,
    "erp/purchase-orders.csv": ",".join(supply.PO_HEADER) + "\n",
    "erp/receipts.csv": ",".join(supply.RECEIPTS_HEADER) + "\n",
    "erp/certificates.csv": ",".join(supply.CERTIFICATES_HEADER) + "\n",
    "mes/operations.jsonl": "",
    "mes/genealogy.jsonl": "",
}


def day_dir(number: int) -> str:
    return f"history/day-{number:02d}"


class DayExport:
    """One day's delta: lines per export file, NCRs, B2MML responses, and what changed."""

    def __init__(self, number: int, at: int) -> None:
        self.number, self.at = number, at
        self.lines: dict[str, list[str]] = {}
        self.ncrs: list[dict[str, Any]] = []
        self.responses: list[str] = []
        self.changes: list[Change] = []
        self.added: dict[str, list[str]] = {}

    def add(self, file: str, *lines: str) -> None:
        self.lines.setdefault(file, []).extend(lines)

    def row(self, file: str, row: list[str]) -> None:
        self.add(file, ",".join(row) + "\n")

    def write(self, root: Path, seed: int, units: int) -> Counts:
        counts: Counts = {}
        for file, lines in sorted(self.lines.items()):
            path = root / file
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(HEADERS[file] + "".join(lines), encoding="utf-8")
            counts[file] = len(lines)
        if self.ncrs:
            (root / "qms").mkdir(parents=True, exist_ok=True)
            text = json.dumps({"exportedFrom": "QMS", "ncrs": self.ncrs}, indent=2, ensure_ascii=False) + "\n"
            (root / "qms" / "ncrs.json").write_text(text, encoding="utf-8")
            counts["qms/ncrs.json"] = len(self.ncrs)
        if self.responses:
            head = production.performance_header(f"PP-{seed}-{units}-D{self.number:02d}", self.at)
            (root / "mes" / "production-performance.xml").write_text(
                head + "".join(self.responses) + "</ProductionPerformance>\n", encoding="utf-8"
            )
            counts["mes/production-performance.xml"] = sum(r.count("<SegmentResponse>") for r in self.responses)
        return counts

    def manifest(self, counts: Counts) -> dict[str, Any]:
        return {
            "day": self.number,
            "folder": day_dir(self.number),
            "exportedAt": ts(self.at),
            "counts": dict(sorted(counts.items())),
            "added": self.added,
            "changes": [c.as_dict() for c in self.changes],
        }


class History:
    """Writes the history days of one run, continuing the base run's numbering and state."""

    def __init__(
        self, out_dir: Path, plan: Plan, run: ProductionRun, cases: list[NcrCase], counts: Counts, days: int
    ) -> None:
        self.out_dir, self.plan, self.run, self.days = out_dir, plan, run, days
        self.rng = random.Random(plan.seed * 6007 + 3)
        self.rate = max(1, round(plan.units * DAY / SPAN))  # the base run's pace
        self.schedule: Schedule = corrections.schedule(plan, cases, days, self.rng)
        self.hplan = dataclasses.replace(plan, start=list(plan.start), revision=list(plan.revision))
        self.next_unit = plan.units
        self.lot_seq = sum(len(lp.lots) for lp in plan.lots.values())
        self.po_seq = counts["erp/purchase-orders.csv"]
        self.waiting: list[tuple[int, list[list[str]]]] = []  # (completed at, rows of FC, SM, VB) to ship
        self.late: list[str] = []  # the certificate row that arrives late

    def write(self, progress: Callable[[str, int, int], None]) -> dict[str, Any]:
        base = self._base_rows()
        out: list[dict[str, Any]] = []
        for d in range(1, self.days + 1):
            day = DayExport(d, self.plan.export_at + d * DAY)
            if d == 1:
                self._receive(day)
            self._produce(day)
            self._corrections(day, base)
            self._ship(day)
            counts = day.write(self.out_dir / day_dir(d), self.plan.seed, self.plan.units)
            out.append(day.manifest(counts))
            progress("history", d, self.days)
        return {"days": self.days, "unitsPerDay": self.rate, "after": ts(self.plan.export_at), "day": out}

    # --- reading back what the base export said ---------------------------------------------------
    def _base_rows(self) -> dict[str, Any]:
        s = self.schedule
        checks = {"|".join(corrections.final_check(self.plan, i)) for i in s.remeasure.values()}
        results = corrections.find_rows(
            self.out_dir / "qms" / "inspection-results.csv", lambda r: f"{r[2]}|{r[1]}", checks
        )
        serials = {serial("FC", i) for i in s.operator.values()}
        ops = corrections.find_operations(self.out_dir / "mes" / "operations.jsonl", serials, 10)
        completed: dict[str, list[list[str]]] = {}
        for line in (self.out_dir / "mes" / "units.csv").read_text(encoding="utf-8").splitlines()[1:]:
            row = line.split(",")
            if row[4] == "completed":
                completed.setdefault(row[0] if row[0].startswith("FC-") else row[5][3:], []).append(row)
        for sn, rows in completed.items():
            fc = next((r for r in rows if r[0] == sn), None)
            if fc is not None and len(rows) == 3:
                self.waiting.append((to_seconds(fc[7]), sorted(rows, key=lambda r: not r[0].startswith("FC-"))))
        return {"results": results, "operations": ops}

    # --- ordinary business ----------------------------------------------------------------------
    def _receive(self, day: DayExport) -> None:
        """Day 1: one fresh lot of every purchased part, enough for every history day's production."""
        at = self.plan.export_at + 12 * HOUR + 30 * MINUTE
        lots = []
        for k, comp in enumerate(model.COMPONENTS):
            self.lot_seq += 1
            self.po_seq += 1
            lot, gr, po = f"L{self.lot_seq:07d}", receipt_number(self.lot_seq), f"PO-{4500000 + self.po_seq}"
            supplier = comp.suppliers[0]
            uom = model.PART_BY_NUMBER[comp.part].uom
            qty = supply.quantity_text(self.rate * self.days * comp.uses * float(comp.qty))
            received = at + k * 5 * MINUTE
            day.row("erp/purchase-orders.csv", [po, supplier, comp.part, qty, uom, date_str(day_of(received) - 21)])
            day.row("erp/receipts.csv", [gr, po, supplier, comp.part, lot, qty, uom, ts(received)])
            cert = [f"COC-{supplier}-{self.lot_seq:06d}", gr, supplier, date_str(day_of(received) - 2)]
            if comp.part == corrections.LATE_PART and self.schedule.late_certificate_day > 1:
                self.late = cert
            else:
                day.row("erp/certificates.csv", cert)
            self.run.lot_override[comp.part] = lot
            lots.append(lot)
        day.added["lots"] = lots
        day.added["receipts"] = [receipt_number(self.lot_seq - len(lots) + k + 1) for k in range(len(lots))]

    def _produce(self, day: DayExport) -> None:
        """The day's finished units, built the way the base run builds them, subassemblies the same morning."""
        run, plan = self.run, self.hplan
        run.plan, run.rng, run.sub_lead, run.track = plan, self.rng, 4 * HOUR, -1
        plan.export_at = day.at
        first = (day_of(day.at)) * DAY + 11 * HOUR
        indices = list(range(self.next_unit, self.next_unit + self.rate))
        self.next_unit += self.rate
        for k in range(len(indices)):
            plan.start.append(first + k * (3 * HOUR // len(indices)) + self.rng.randrange(0, 10 * MINUTE))
            plan.revision.append("C")
        wos = (f"WO-{1000001 + run.n_wo}", f"WO-{1000002 + run.n_wo}", f"WO-{1000003 + run.n_wo}")
        run.n_wo += 3
        xmls: tuple[list[str], list[str], list[str]] = ([], [], [])
        for i in indices:
            end = run.build(i, wos, xmls)
            rows = [r.rstrip("\n").split(",") for r in run.units[-3:]]
            self.waiting.append((end, [rows[2], rows[0], rows[1]]))
        for wo, part, lead, x in zip(
            wos, (model.SENSOR, model.VALVE, model.TOP), (5 * HOUR, 5 * HOUR, HOUR), xmls, strict=True
        ):
            planned = plan.start[indices[0]] - lead
            rev = "C" if part == model.TOP else "A"
            day.row(
                "erp/work-orders.csv",
                [wo, "PP01", part, rev, str(len(indices)), "completed", ts(planned), date_str(day_of(planned) + 3)],
            )
            day.responses.append(production.production_response(wo, x))
        day.add("mes/units.csv", *run.units)
        day.add("mes/operations.jsonl", *run.ops)
        day.add("mes/genealogy.jsonl", *run.gen)
        day.add("qms/inspection-results.csv", *run.insp)
        for buffer in (run.units, run.ops, run.gen, run.insp):
            buffer.clear()
        day.added["units"] = [serial("FC", i) for i in indices]
        day.added["workOrders"] = list(wos)

    def _ship(self, day: DayExport) -> None:
        due = [w for w in self.waiting if w[0] < day.at - corrections.SHIP_AFTER * DAY]
        self.waiting = [w for w in self.waiting if w[0] >= day.at - corrections.SHIP_AFTER * DAY]
        for _, rows in sorted(due, key=lambda w: w[1][0][0]):
            new, changes = corrections.shipped(rows)
            for row in new:
                day.row("mes/units.csv", row)
            day.changes += changes

    # --- seeded corrections -------------------------------------------------------------------
    def _corrections(self, day: DayExport, base: dict[str, Any]) -> None:
        s, d = self.schedule, day.number
        morning = day_of(day.at) * DAY + 9 * HOUR
        if d in s.remeasure:
            sn, cid = corrections.final_check(self.plan, s.remeasure[d])
            row = base["results"][f"{sn}|{cid}"]
            ch = model.CHAR_BY_ID[cid]
            spread = (ch.upper - ch.lower) / 4  # a careful re-measurement lands well inside the limits
            value = self.rng.uniform(ch.nominal - spread, ch.nominal + spread)
            new, changes = corrections.remeasured(row, value, ts(morning + self.rng.randrange(0, HOUR)))
            base["results"][f"{sn}|{cid}"] = new  # a later correction of the same result starts from this one
            day.row("qms/inspection-results.csv", new)
            day.changes += changes
        if d in s.operator:
            record = base["operations"][serial("FC", s.operator[d])]
            others = [p for p in model.OPERATORS if p != record["operator"]]
            new_record, change = corrections.corrected_operator(record, self.rng.choice(others))
            base["operations"][serial("FC", s.operator[d])] = new_record
            day.add("mes/operations.jsonl", corrections.operation_line(new_record))
            day.changes.append(change)
        if self.late and d == s.late_certificate_day:
            self.late[3] = date_str(day_of(day.at) - 1)
            day.row("erp/certificates.csv", self.late)
            cert, gr = self.late[0], self.late[1]
            day.changes.append(
                Change(
                    "certificate-received-late",
                    "erp/certificates.csv",
                    gr,
                    iri("receipt", gr),
                    "certificate_number",
                    corrections.TL + "hasCertificate",
                    None,
                    cert,
                )
            )
        if s.ncr is not None and d in (s.reopen_day, s.reclose_day):
            self._ncr(day, s.ncr, reopen=d == s.reopen_day)

    def _ncr(self, day: DayExport, case: NcrCase, reopen: bool) -> None:
        old = quality.ncr_record(case, self.plan)
        if reopen:
            case.is_open = True
        else:
            case.is_open, case.closed_at = False, day_of(day.at) * DAY + 15 * HOUR
        new = quality.ncr_record(case, self.plan)
        day.ncrs.append(new)
        day.changes += corrections.ncr_changes(case.number, old, new)


def write_history(
    out_dir: Path,
    plan: Plan,
    run: ProductionRun,
    cases: list[NcrCase],
    counts: Counts,
    days: int,
    progress: Callable[[str, int, int], None],
) -> dict[str, Any]:
    """Write ``out_dir/history/day-01 …`` and return the manifest's ``history`` section."""
    if (out_dir / "history").exists():
        shutil.rmtree(out_dir / "history")
    if days == 0:
        return {}
    return History(out_dir, plan, run, cases, counts, days).write(progress)
