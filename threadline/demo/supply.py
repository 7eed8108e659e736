"""ERP purchasing exports (purchase orders, goods receipts, certificates) and MES lot split/merge events.

One goods receipt brings in one supplier lot; purchase orders cover two lots each. Certificates of
conformance are a separate export (one row per certificate attached to a receipt), so a receipt without a
certificate is simply absent there - the seeded "lot received without CoC" gap.
"""

from __future__ import annotations

from pathlib import Path

from threadline.demo import model
from threadline.demo.clock import DAY, HOUR, date_str, day_of, ts
from threadline.demo.plan import Plan
from threadline.demo.writers import Counts, write_csv

PO_HEADER = ["po_number", "supplier_id", "material", "quantity", "unit", "order_date"]
RECEIPTS_HEADER = [
    "receipt_number",
    "po_number",
    "supplier_id",
    "material",
    "lot_number",
    "quantity",
    "unit",
    "received_at",
]
CERTIFICATES_HEADER = ["certificate_number", "receipt_number", "supplier_id", "issued_at"]


def receipt_number(seq: int) -> str:
    return f"GR-{5000000 + seq}"


def write_supply(root: Path, plan: Plan) -> tuple[Counts, dict[str, str]]:
    """Returns counts and lot number -> receipt number."""
    erp = root / "erp"
    pos: list[list[str]] = []
    receipts: list[list[str]] = []
    certs: list[list[str]] = []
    receipt_of: dict[str, str] = {}
    seq = 0
    for part, lp in plan.lots.items():
        uom = model.PART_BY_NUMBER[part].uom
        lot_qty = quantity_text(lp.capacity * float(lp.qty))
        for j, lot in enumerate(lp.lots):
            supplier = lp.suppliers[j]
            if j % 2 == 0:
                po = f"PO-{4500000 + len(pos) + 1}"
                same_supplier = j + 1 < len(lp.lots) and lp.suppliers[j + 1] == supplier
                qty = quantity_text(lp.capacity * float(lp.qty) * (2 if same_supplier else 1))
                order_day = day_of(lp.received_at[j]) - 21
                pos.append([po, supplier, part, qty, uom, date_str(order_day)])
            elif lp.suppliers[j - 1] != supplier:
                po = f"PO-{4500000 + len(pos) + 1}"
                pos.append([po, supplier, part, lot_qty, uom, date_str(day_of(lp.received_at[j]) - 21)])
            seq += 1
            gr = receipt_number(seq)
            receipt_of[lot] = gr
            received = lp.received_at[j]
            receipts.append([gr, pos[-1][0], supplier, part, lot, lot_qty, uom, ts(received)])
            if lot != plan.no_coc_lot:
                certs.append([f"COC-{supplier}-{seq:06d}", gr, supplier, date_str(day_of(received) - 2)])
    counts: Counts = {
        "erp/purchase-orders.csv": write_csv(erp / "purchase-orders.csv", PO_HEADER, pos),
        "erp/receipts.csv": write_csv(erp / "receipts.csv", RECEIPTS_HEADER, receipts),
        "erp/certificates.csv": write_csv(erp / "certificates.csv", CERTIFICATES_HEADER, certs),
    }
    counts["mes/lot-events.jsonl"] = _lot_events(root / "mes", plan)
    return counts, receipt_of


def quantity_text(x: float) -> str:
    return str(int(x)) if x == int(x) else f"{x:g}"


def consumed_lots(plan: Plan, part: str, uses: int) -> int:
    """How many received lots of a part the run actually draws from."""
    lp = plan.lots[part]
    return min(len(lp.lots), -(-uses // lp.capacity))


def _lot_events(mes: Path, plan: Plan) -> int:
    """Line-side splits of received lots, and the merge of two adhesive containers."""
    lines: list[str] = []
    for part, lp in plan.lots.items():
        uom = model.PART_BY_NUMBER[part].uom
        if lp.merged_lot:
            at = ts(lp.received_at[1] + 2 * HOUR)
            qty = quantity_text(2 * lp.capacity * float(lp.qty))
            sources = ", ".join(f'{{"lot": "{lp.merged_lot}", "sourceLot": "{src}"}}' for src in lp.lots[:2])
            lines.append(
                f'{{"eventId": "LE{len(lines) + 1:07d}", "type": "merge", "at": "{at}", "lot": "{lp.merged_lot}", '
                f'"material": "{part}", "quantity": "{qty}", "uom": "{uom}", "splitFrom": null, '
                f'"mergedFrom": [{sources}]}}\n'
            )
        if lp.split == 1:
            continue
        share = quantity_text(lp.capacity // lp.split * float(lp.qty))
        for j, lot in enumerate(lp.lots[: plan_used_lots(plan, part)]):
            at = ts(lp.received_at[j] + DAY)
            for s in range(1, lp.split + 1):
                lines.append(
                    f'{{"eventId": "LE{len(lines) + 1:07d}", "type": "split", "at": "{at}", "lot": "{lot}-{s}", '
                    f'"material": "{part}", "quantity": "{share}", "uom": "{uom}", "splitFrom": "{lot}", '
                    f'"mergedFrom": []}}\n'
                )
    (mes / "lot-events.jsonl").write_text("".join(lines), encoding="utf-8")
    return len(lines)


def plan_used_lots(plan: Plan, part: str) -> int:
    comp = model.COMPONENT_BY_PART[part]
    users = sum(1 for r in plan.revision if r == "C") if part == model.GASKET else plan.units
    return consumed_lots(plan, part, users * comp.uses)
