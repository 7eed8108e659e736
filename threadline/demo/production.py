"""The production run, streamed unit by unit: MES units, operations, genealogy and B2MML performance,
QMS inspection results and ERP work orders.

This is the hot loop (about 30 records per finished unit, millions at 100k units), so records are
formatted as text with f-strings and buffered per work-order chunk; no per-record objects are built.
Values written here never contain quotes, commas or markup characters, so no escaping is needed.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from threadline.demo import model
from threadline.demo.clock import DAY, HOUR, date_str, day_of, ts
from threadline.demo.plan import Plan
from threadline.demo.quality import NcrCase
from threadline.demo.writers import Counts

B2MML_NS = "http://www.wbf.org/xml/B2MML-V0401"
Progress = Any  # Callable[[str, int, int], None] | None
UNITS_HEADER = "serial_number,part_number,revision,work_order,status,location,started_at,completed_at,reworked\n"
INSPECTION_HEADER = (
    "result_id,characteristic_id,serial_number,measured_value,unit,lower_limit,upper_limit,"
    "result,inspector,equipment,inspected_at,final_inspection,execution_id\n"
)
WORK_ORDERS_HEADER = "work_order,order_type,material,revision,quantity,status,planned_start,due_date\n"


def performance_header(doc_id: str, published: int) -> str:
    """Opening of a B2MML ProductionPerformance document (closed by ``</ProductionPerformance>``)."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ProductionPerformance xmlns="{B2MML_NS}">\n'
        f"  <ID>{doc_id}</ID>\n  <PublishedDate>{ts(published)}</PublishedDate>\n"
    )


def production_response(wo: str, segments: list[str]) -> str:
    return (
        f"  <ProductionResponse>\n    <ID>{wo}</ID>\n    <ProductionRequestID>{wo}</ProductionRequestID>\n"
        + "".join(segments)
        + "  </ProductionResponse>\n"
    )


def serial(prefix: str, i: int) -> str:
    return f"{prefix}-{i + 1:07d}"


class _Char:
    __slots__ = ("cid", "fmt", "hi", "lo", "nominal", "sigma", "tol", "uom")

    def __init__(self, c: model.Characteristic) -> None:
        self.cid, self.nominal, self.lo, self.hi, self.uom = c.cid, c.nominal, c.lower, c.upper, c.uom
        self.tol = c.upper - c.lower
        self.sigma = self.tol / 10
        self.fmt = f"%.{c.decimals}f"


class ProductionRun:
    def __init__(self, root: Path, plan: Plan, cases: list[NcrCase], rng: random.Random) -> None:
        self.root, self.plan, self.rng = root, plan, rng
        self.case_by_unit = {c.unit: c for c in cases if c.unit >= 0}
        self.no_final = set(plan.no_final_inspection)
        self.out_pass = set(plan.out_of_limits_pass)
        self.operatorless = set(plan.operatorless)
        self.chars = {c.cid: _Char(c) for c in model.CHARACTERISTICS}
        self.steps = {(s.part, s.rev, s.seq): s for s in model.routing_steps()}
        self.counter = dict.fromkeys(plan.lots, 0)
        self.sub_lead = DAY  # subassemblies are built this long before final assembly (history days: hours)
        self.lot_override: dict[str, str] = {}  # part -> lot: the history days draw from lots received then
        self.n_op = self.n_ge = self.n_ir = self.n_units = self.n_wo = 0
        self.ops: list[str] = []
        self.gen: list[str] = []
        self.insp: list[str] = []
        self.units: list[str] = []
        self.gap_records: dict[str, list[str]] = {"operatorless": [], "out_of_limits_pass": []}
        self.track: int = -1
        self.example_wo = ""
        self.tracked: dict[str, list[str]] = {}
        self.reworked = 0
        self.scrapped = 0

    # --- record writers -------------------------------------------------------------------------
    def op(
        self,
        sn: str,
        wo: str,
        part: str,
        rev: str,
        seq: int,
        eq: str,
        who: str | None,
        start: int,
        end: int,
        result: str,
    ) -> str:
        self.n_op += 1
        eid = f"OP{self.n_op:08d}"
        person = f'"{who}"' if who else "null"
        self.ops.append(
            f'{{"executionId": "{eid}", "workOrder": "{wo}", "serialNumber": "{sn}", "partNumber": "{part}", '
            f'"revision": "{rev}", "sequence": {seq}, "equipment": "{eq}", "operator": {person}, '
            f'"start": "{ts(start)}", "end": "{ts(end)}", "result": "{result}"}}\n'
        )
        return eid

    def consume(self, sn: str, eid: str, at: int, part: str, xml: list[str], sub: str = "") -> None:
        """Serialised subassemblies appear in B2MML as sublots (MaterialSubLotID), lots as MaterialLotID."""
        self.n_ge += 1
        if sub:
            qty, uom, lot_json, sn_json = "1", "EA", "null", f'"{sub}"'
            xml.append(
                f"      <MaterialConsumedActual><MaterialDefinitionID>{part}</MaterialDefinitionID>"
                f"<MaterialSubLotID>{sub}</MaterialSubLotID>"
                f"<Quantity><QuantityString>1</QuantityString><UnitOfMeasure>EA</UnitOfMeasure></Quantity>"
                f"</MaterialConsumedActual>\n"
            )
            item = sub
        else:
            lp = self.plan.lots[part]
            lot = self.lot_override.get(part) or lp.consumed_lot(self.counter[part])
            self.counter[part] += 1
            qty, uom = lp.qty, model.PART_BY_NUMBER[part].uom
            lot_json, sn_json = f'"{lot}"', "null"
            xml.append(
                f"      <MaterialConsumedActual><MaterialDefinitionID>{part}</MaterialDefinitionID>"
                f"<MaterialLotID>{lot}</MaterialLotID><Quantity><QuantityString>{qty}</QuantityString>"
                f"<UnitOfMeasure>{uom}</UnitOfMeasure></Quantity></MaterialConsumedActual>\n"
            )
            item = lot
        kind = "install" if sub else "consume"
        self.gen.append(
            f'{{"eventId": "GE{self.n_ge:08d}", "type": "{kind}", "at": "{ts(at)}", "executionId": "{eid}", '
            f'"consumerSerial": "{sn}", "material": "{part}", "lot": {lot_json}, "serial": {sn_json}, '
            f'"quantity": "{qty}", "uom": "{uom}"}}\n'
        )
        if self.track >= 0:
            self.tracked.setdefault(sn, []).append(item)

    def inspect(self, cid: str, sn: str, eid: str, at: int, eq: str, final: bool, mode: str = "") -> str:
        """mode: "" normal, "fail" out of limits and failed, "falsepass" out of limits but passed."""
        ch = self.chars[cid]
        if mode:
            value = ch.hi + ch.tol * (0.04 if mode == "falsepass" else 0.05 + 0.1 * self.rng.random())
        else:
            value = self.rng.gauss(ch.nominal, ch.sigma)
            margin = ch.tol * 0.02
            if value > ch.hi - margin:
                value = ch.hi - margin
            elif value < ch.lo + margin:
                value = ch.lo + margin
        self.n_ir += 1
        rid = f"IR{self.n_ir:08d}"
        status = "fail" if mode == "fail" else "pass"
        who = model.INSPECTORS[self.n_ir % len(model.INSPECTORS)]
        self.insp.append(
            f"{rid},{cid},{sn},{ch.fmt % value},{ch.uom},{ch.fmt % ch.lo},{ch.fmt % ch.hi},{status},{who},{eq},"
            f"{ts(at)},{'true' if final else 'false'},{eid}\n"
        )
        return rid

    def unit_row(
        self, sn: str, part: str, rev: str, wo: str, status: str, location: str, start: int, end: int, reworked: bool
    ) -> None:
        self.n_units += 1
        self.units.append(
            f"{sn},{part},{rev},{wo},{status},{location},{ts(start)},{ts(end)},{'true' if reworked else 'false'}\n"
        )

    @staticmethod
    def segment(
        xml: list[str], sn: str, wo: str, part: str, rev: str, start: int, end: int, consumed: list[str]
    ) -> None:
        xml.append(
            f"    <SegmentResponse>\n      <ID>SR-{sn}</ID>\n      <ProductionRequestID>{wo}</ProductionRequestID>\n"
            f"      <ProcessSegmentID>RT-{part}-{rev}</ProcessSegmentID>\n"
            f"      <ActualStartTime>{ts(start)}</ActualStartTime>\n      <ActualEndTime>{ts(end)}</ActualEndTime>\n"
            f"      <MaterialProducedActual><MaterialDefinitionID>{part}</MaterialDefinitionID>"
            f"<MaterialLotID>{wo}</MaterialLotID><MaterialSubLotID>{sn}</MaterialSubLotID>"
            f"<Quantity><QuantityString>1</QuantityString><UnitOfMeasure>EA</UnitOfMeasure></Quantity>"
            f"</MaterialProducedActual>\n{''.join(consumed)}    </SegmentResponse>\n"
        )

    # --- one finished unit and its two subassemblies --------------------------------------------
    def build(self, i: int, wos: tuple[str, str, str], xmls: tuple[list[str], list[str], list[str]]) -> int:
        wo_sm, wo_vb, wo_fc = wos
        ops16 = model.OPERATORS
        t0 = self.plan.start[i]
        rev = self.plan.revision[i]
        sm, vb, fc = serial("SM", i), serial("VB", i), serial("FC", i)

        a = t0 - self.sub_lead + (i % 7) * 600
        bench = "WU-SUB-01" if i % 2 else "WU-SUB-02"
        cons: list[str] = []
        e = self.op(sm, wo_sm, model.SENSOR, "A", 10, bench, ops16[i % 16], a, a + 1800, "pass")
        for part in ("PCB-3100", "HSG-3200", model.FASTENER):
            self.consume(sm, e, a + 600, part, cons)
        e = self.op(sm, wo_sm, model.SENSOR, "A", 20, "WU-CAL-01", ops16[(i + 5) % 16], a + 2100, a + 3000, "pass")
        self.inspect(f"CH-{model.SENSOR}-A-OFFSET", sm, e, a + 2900, "WU-CAL-01", True)
        self.segment(xmls[0], sm, wo_sm, model.SENSOR, "A", a, a + 3000, cons)

        b = a + 3600
        cons = []
        e = self.op(vb, wo_vb, model.VALVE, "A", 10, bench, ops16[(i + 1) % 16], b, b + 1800, "pass")
        for part in ("CST-3300", "SEAL-3400", model.FASTENER, "ADH-3900"):
            self.consume(vb, e, b + 600, part, cons)
        e = self.op(vb, wo_vb, model.VALVE, "A", 20, "WU-LEAK-01", ops16[(i + 9) % 16], b + 2100, b + 3000, "pass")
        self.inspect(f"CH-{model.VALVE}-A-LEAK", vb, e, b + 2900, "WU-LEAK-01", True)
        self.segment(xmls[1], vb, wo_vb, model.VALVE, "A", b, b + 3000, cons)

        case = self.case_by_unit.get(i)
        station = "WU-FIN-01" if i % 2 else "WU-FIN-02"
        who = None if i in self.operatorless else ops16[(i + 3) % 16]
        cons = []
        e = self.op(fc, wo_fc, model.TOP, rev, 10, station, who, t0, t0 + 2400, "pass")
        if who is None:
            self.gap_records["operatorless"].append(e)
        self.consume(fc, e, t0 + 300, model.SENSOR, cons, sm)
        self.consume(fc, e, t0 + 300, model.VALVE, cons, vb)
        for part in ("ENC-3600", model.FASTENER) + ((model.GASKET,) if rev == "C" else ()):
            self.consume(fc, e, t0 + 900, part, cons)

        reworked = False
        status, end = "completed", 0
        flow = f"CH-{model.TOP}-{rev}-FLOW"
        cursor = t0 + 2700
        failing = case is not None and case.step == 20
        e = self.op(
            fc,
            wo_fc,
            model.TOP,
            rev,
            20,
            "WU-FLOW-01",
            ops16[(i + 7) % 16],
            cursor,
            cursor + 900,
            "fail" if failing else "pass",
        )
        self.inspect(flow, fc, e, cursor + 840, "WU-FLOW-01", False, "fail" if failing else "")
        cursor += 900
        if failing and case is not None:
            cursor = self._dispose(case, fc, wo_fc, rev, 20, cursor, (flow,))
            reworked = (case.disposition or "") in ("rework", "repair")
        end = cursor
        if i not in self.no_final:
            cursor += 1200
            failing = case is not None and case.step == 30
            e = self.op(
                fc,
                wo_fc,
                model.TOP,
                rev,
                30,
                "WU-PG-01",
                ops16[(i + 11) % 16],
                cursor,
                cursor + 900,
                "fail" if failing else "pass",
            )
            final_chars = self.steps[(model.TOP, rev, 30)].characteristics
            for k, cid in enumerate(final_chars):
                mode = ""
                if k == 0 and failing:
                    mode = "fail"
                elif k == 0 and i in self.out_pass:
                    mode = "falsepass"
                rid = self.inspect(cid, fc, e, cursor + 800, "WU-PG-01", True, mode)
                if mode == "falsepass":
                    self.gap_records["out_of_limits_pass"].append(rid)
            cursor += 900
            end = cursor
            if failing and case is not None:
                if case.is_open:
                    status = "quarantined"
                    case.opened_at, case.revision, case.serial = cursor, rev, fc
                elif case.disposition == "scrap":
                    status = "scrapped"
                    case.opened_at, case.revision, case.serial = cursor, rev, fc
                    case.closed_at = cursor + 2 * DAY
                    end = cursor + DAY
                else:
                    end = self._dispose(case, fc, wo_fc, rev, 30, cursor, final_chars)
                    reworked = True
        if status == "completed" and end < self.plan.export_at - 14 * DAY:
            status = "shipped"
        self.reworked += reworked
        self.scrapped += status == "scrapped"
        location = {"shipped": "CUSTOMER", "completed": "FG-STORE", "scrapped": "SCRAP-BIN", "quarantined": "MRB-CAGE"}[
            status
        ]
        sub_status = "shipped" if status == "shipped" else "completed"
        self.unit_row(sm, model.SENSOR, "A", wo_sm, sub_status, f"IN-{fc}", a, a + 3000, False)
        self.unit_row(vb, model.VALVE, "A", wo_vb, sub_status, f"IN-{fc}", b, b + 3000, False)
        self.unit_row(fc, model.TOP, rev, wo_fc, status, location, t0, end, reworked)
        self.segment(xmls[2], fc, wo_fc, model.TOP, rev, t0, end, cons)
        return end

    def _dispose(
        self, case: NcrCase, fc: str, wo: str, rev: str, seq: int, failed_at: int, chars: tuple[str, ...]
    ) -> int:
        """After a failed check: MRB decides a day later; rework/repair and re-check follow."""
        case.opened_at, case.revision, case.serial = failed_at, rev, fc
        resume = failed_at + DAY + 2 * HOUR
        if case.disposition in ("rework", "repair"):
            station = "WU-FLOW-01" if seq == 20 else "WU-PG-01"
            self.op(
                fc,
                wo,
                model.TOP,
                rev,
                seq,
                station,
                model.OPERATORS[case.ordinal % 16],
                resume,
                resume + 3600,
                "rework",
            )
            e = self.op(
                fc,
                wo,
                model.TOP,
                rev,
                seq,
                station,
                model.OPERATORS[(case.ordinal + 2) % 16],
                resume + 3900,
                resume + 4800,
                "pass",
            )
            for cid in chars:
                self.inspect(cid, fc, e, resume + 4700, station, seq == 30)
            resume += 4800
        case.closed_at = resume + (4 + case.ordinal % 3 * 24) * HOUR
        return resume

    # --- driver ----------------------------------------------------------------------------------
    def run(self, progress: Progress) -> tuple[Counts, dict[str, Any]]:
        plan = self.plan
        mes, qms, erp = self.root / "mes", self.root / "qms", self.root / "erp"
        for d in (mes, qms, erp):
            d.mkdir(parents=True, exist_ok=True)
        example = next(c[0] for c in plan.chunks[2:] if c[0] not in self.case_by_unit and len(c) > 1)
        f_units = (mes / "units.csv").open("w", encoding="utf-8")
        f_units.write(UNITS_HEADER)
        f_ops = (mes / "operations.jsonl").open("w", encoding="utf-8")
        f_gen = (mes / "genealogy.jsonl").open("w", encoding="utf-8")
        f_xml = (mes / "production-performance.xml").open("w", encoding="utf-8")
        f_xml.write(performance_header(f"PP-{plan.seed}-{plan.units}", plan.export_at))
        f_insp = (qms / "inspection-results.csv").open("w", encoding="utf-8")
        f_insp.write(INSPECTION_HEADER)
        wo_rows: list[str] = []
        done = 0
        step = max(1, plan.units // 20)
        for chunk in plan.chunks:
            rev = plan.revision[chunk[0]]
            first_wo = 1000001 + self.n_wo
            wos = (f"WO-{first_wo}", f"WO-{first_wo + 1}", f"WO-{first_wo + 2}")
            self.n_wo += 3
            xmls: tuple[list[str], list[str], list[str]] = ([], [], [])
            last_end = 0
            for i in chunk:
                self.track = i if i == example else -1
                if i == example:
                    self.example_wo = wos[2]
                last_end = max(last_end, self.build(i, wos, xmls))
            first = min(plan.start[i] for i in chunk)
            closed = "closed" if last_end < plan.export_at - 30 * DAY else "completed"
            for wo, part, r, lead, x in zip(
                wos,
                (model.SENSOR, model.VALVE, model.TOP),
                ("A", "A", rev),
                (DAY + HOUR, DAY + HOUR, HOUR),
                xmls,
                strict=True,
            ):
                planned = first - lead
                wo_rows.append(
                    f"{wo},PP01,{part},{r},{len(chunk)},{closed},{ts(planned)},{date_str(day_of(planned) + 3)}\n"
                )
                f_xml.write(production_response(wo, x))
            f_units.write("".join(self.units))
            f_ops.write("".join(self.ops))
            f_gen.write("".join(self.gen))
            f_insp.write("".join(self.insp))
            self.units.clear()
            self.ops.clear()
            self.gen.clear()
            self.insp.clear()
            prev = done
            done += len(chunk)
            if progress is not None and (done // step != prev // step or done == plan.units):
                progress("production", done, plan.units)
        f_xml.write("</ProductionPerformance>\n")
        for f in (f_units, f_ops, f_gen, f_xml, f_insp):
            f.close()
        with (erp / "work-orders.csv").open("w", encoding="utf-8") as fh:
            fh.write(WORK_ORDERS_HEADER)
            fh.write("".join(wo_rows))
        counts: Counts = {
            "erp/work-orders.csv": len(wo_rows),
            "mes/units.csv": self.n_units,
            "mes/operations.jsonl": self.n_op,
            "mes/genealogy.jsonl": self.n_ge,
            "mes/production-performance.xml": self.n_units,
            "qms/inspection-results.csv": self.n_ir,
        }
        fc = serial("FC", example)
        truth = {
            "exampleSerial": fc,
            "exampleIndex": example,
            "exampleWorkOrder": self.example_wo,
            "exampleSubassemblies": [serial("SM", example), serial("VB", example)],
            "exampleConsumed": self.tracked,
        }
        return counts, truth
