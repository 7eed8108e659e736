"""The device history record's summary and tables, read from its members' facts (``dhr.collect``).

What 21 CFR 820.184 asks of a DHR, as far as the thread holds it: dates of manufacture, quantity made and
released, the acceptance records (inspections with requirement, result and pass/fail), the operations with who,
where, when and by which work-instruction revision, the components and lots with supplier and certificate, NCRs
with disposition and CAPAs, and the signatures on the revision, dispositions and CAPAs.

The work-instruction revision of an operation is the work instruction of the unit's built-to revision: the
ontology links documents to part revisions (``tl:hasDocument``), not to operation executions.
"""

from __future__ import annotations

from threadline.records.dhr import Members
from threadline.records.facts import Facts
from threadline.records.record import Refs, Table, label, when

RELEASED = ("completed", "shipped")


def summary(m: Members) -> list[tuple[str, str]]:
    f, s = m.facts, m.subject
    rev = f.first(s, "builtTo")
    wo = f.first(s, "builtUnder")
    part = f.first(s, "ofPart")
    rows = [
        ("Record", f"Device history record of {'unit' if m.kind == 'unit' else 'lot'} {m.id}"),
        ("Serial number" if m.kind == "unit" else "Lot number", m.id),
        ("Part", label(f, part)),
    ]
    if m.kind == "unit":
        status = f.one(s, "unitStatus") or ""
        signed = [_signature(f, sig) for sig in _signatures_of(f, rev)]
        rows += [
            ("Built to revision", _revision(f, rev)),
            ("Revision release signature", "; ".join(signed) or "none"),
            ("Work order", _work_order(f, wo)),
            ("Manufacture started", when(f.one(s, "startedAt"))),
            ("Manufacture completed", when(f.one(s, "completedAt"))),
            ("Quantity made", "1"),
            ("Quantity released", "1" if status in RELEASED else "0"),
            ("Status", status),
            ("Location", f.one(s, "location") or ""),
            ("Reworked", f.one(s, "reworked") or ""),
        ]
    else:
        receipt = f.first(s, "receivedIn")
        rows += [
            ("Quantity", " ".join(x for x in (f.one(s, "quantity"), f.one(s, "unitOfMeasure")) if x)),
            ("Supplier", label(f, f.first(s, "suppliedBy"))),
            ("Receipt", _receipt(f, receipt)),
            ("Certificates", ", ".join(label(f, c) for c in f.iris(receipt, "hasCertificate")) or "none"),
        ]
    return rows


def tables(m: Members, refs: Refs) -> list[Table]:
    return [
        _operations(m, refs),
        _consumed(m, refs),
        _inspections(m, refs),
        _ncrs(m, refs),
        _capas(m, refs),
        _signatures(m, refs),
    ]


def _operations(m: Members, refs: Refs) -> Table:
    f = m.facts
    rev = f.first(m.subject, "builtTo")
    instructions = ", ".join(label(f, d) for d in f.iris(rev, "hasDocument") if f.has_type(d, "WorkInstruction"))
    table = Table(
        "Operations",
        ["Seq", "Operation", "Result", "Operator", "Equipment", "Started", "Ended", "Work instruction", "Src"],
        widths=[5, 14, 7, 16, 16, 12, 12, 11, 7],
    )
    ops = [x for x in m.own if f.has_type(x, "OperationExecution")]
    for op in sorted(ops, key=lambda x: (f.one(x, "startedAt") or "", x)):
        step = f.first(op, "executesStep")
        table.rows.append(
            [
                f.one(step, "sequence") or "",
                f.one(step, "operationName") or "",
                f.one(op, "operationResult") or "",
                ", ".join(label(f, p) for p in f.iris(op, "performedBy")) or "none recorded",
                ", ".join(label(f, e) for e in f.iris(op, "onEquipment")),
                when(f.one(op, "startedAt")),
                when(f.one(op, "endedAt")),
                instructions,
                refs.of(op),
            ]
        )
    return table


def _consumed(m: Members, refs: Refs) -> Table:
    f = m.facts
    table = Table(
        "Components and lots consumed",
        ["Consumer", "Item", "Part", "Qty", "At", "Supplier", "Certificate", "Src"],
        widths=[12, 13, 17, 6, 14, 16, 14, 8],
    )
    for event in sorted(x for x in m.around if f.has_type(x, "Consumption")):
        consumer = f.first(event, "consumer")
        for item in f.iris(event, "consumedItem"):
            table.rows.append(
                [
                    label(f, consumer),
                    label(f, item),
                    label(f, f.first(item, "ofPart")),
                    f.one(event, "quantity") or "",
                    when(f.one(event, "consumedAt")),
                    *_supply(f, item),
                    refs.of(event, item),
                ]
            )
    for lot in m.items:
        for link, how in (("splitFrom", "split from"), ("mergedFrom", "merged from")):
            for parent in f.iris(lot, link):
                table.rows.append(
                    [
                        label(f, lot),
                        f"{how} {label(f, parent)}",
                        label(f, f.first(parent, "ofPart")),
                        f.one(lot, "quantity") or "",
                        "",
                        *_supply(f, parent),
                        refs.of(lot, parent),
                    ]
                )
    return table


def _supply(f: Facts, item: str) -> list[str]:
    supplier = ", ".join(label(f, s) for s in f.iris(item, "suppliedBy"))
    certificates = [c for r in f.iris(item, "receivedIn") for c in f.iris(r, "hasCertificate")]
    received = bool(f.iris(item, "receivedIn"))
    return [supplier, ", ".join(label(f, c) for c in certificates) or ("none" if received else "")]


def _inspections(m: Members, refs: Refs) -> Table:
    f = m.facts
    table = Table(
        "Inspections and tests",
        ["Characteristic", "Requirement", "Measured", "Result", "Inspector", "Equipment", "At", "Src"],
        widths=[16, 16, 9, 7, 16, 14, 14, 8],
    )
    results = [x for x in [*m.own, *m.around] if f.has_type(x, "InspectionResult")]
    for result in sorted(set(results), key=lambda x: (f.one(x, "inspectedAt") or "", x)):
        char = f.first(result, "forCharacteristic")
        uom = f.one(result, "unitOfMeasure") or ""
        low, high = f.one(result, "lowerLimit") or "", f.one(result, "upperLimit") or ""
        name = " ".join(x for x in (label(f, char), f.one(char, "name")) if x)
        final = " (final)" if f.one(result, "isFinalInspection") == "true" else ""
        table.rows.append(
            [
                name,
                f"{low} .. {high} {uom}".strip(),
                f"{f.one(result, 'measuredValue') or ''} {uom}".strip(),
                (f.one(result, "inspectionStatus") or "") + final,
                ", ".join(label(f, p) for p in f.iris(result, "inspectedBy")),
                ", ".join(label(f, e) for e in f.iris(result, "usingEquipment")),
                when(f.one(result, "inspectedAt")),
                refs.of(result),
            ]
        )
    return table


def _ncrs(m: Members, refs: Refs) -> Table:
    f = m.facts
    table = Table(
        "Nonconformances",
        ["NCR", "Item", "Defect", "Status", "Opened", "Closed", "Disposition", "Approved by", "CAPA", "Src"],
        widths=[9, 10, 17, 6, 11, 11, 9, 12, 8, 7],
    )
    for ncr in sorted(x for x in m.around if f.has_type(x, "Nonconformance")):
        disposition = f.first(ncr, "hasDisposition")
        table.rows.append(
            [
                label(f, ncr),
                ", ".join(label(f, i) for i in f.iris(ncr, "concernsItem")),
                " ".join(x for x in (f.one(ncr, "defectCode"), f.one(ncr, "defectDescription")) if x),
                f.one(ncr, "ncrStatus") or "",
                when(f.one(ncr, "openedAt")),
                when(f.one(ncr, "closedAt")),
                f.one(disposition, "dispositionType") or "none",
                ", ".join(label(f, p) for p in f.iris(disposition, "approvedBy")),
                ", ".join(label(f, c) for c in f.iris(ncr, "capa")),
                refs.of(ncr, disposition),
            ]
        )
    return table


def _capas(m: Members, refs: Refs) -> Table:
    f = m.facts
    table = Table(
        "Corrective and preventive actions",
        ["CAPA", "Status", "Problem", "Root cause", "Effectiveness check", "Src"],
        widths=[10, 7, 27, 20, 28, 8],
    )
    for capa in m.capas:
        done = "done" if f.one(capa, "effectivenessCheckDone") == "true" else "not done"
        table.rows.append(
            [
                label(f, capa),
                f.one(capa, "capaStatus") or "",
                f.one(capa, "problemStatement") or "",
                f.one(capa, "rootCause") or "",
                f"{f.one(capa, 'effectivenessCheck') or ''} ({done})",
                refs.of(capa),
            ]
        )
    return table


def _signatures(m: Members, refs: Refs) -> Table:
    f = m.facts
    table = Table(
        "Signatures on the record's parts",
        ["Signed record", "Meaning", "Signer", "Signed at", "Src"],
        widths=[30, 12, 26, 20, 12],
    )
    for sig in m.signatures:
        for record in f.iris(sig, "signs"):
            signer = ", ".join(label(f, p) for p in f.iris(sig, "signer")) or f.one(sig, "signerName") or ""
            table.rows.append(
                [
                    _described(f, record),
                    f.one(sig, "signatureMeaning") or "",
                    signer,
                    when(f.one(sig, "signedAt")),
                    refs.of(sig),
                ]
            )
    return table


def _described(f: Facts, record: str) -> str:
    if f.has_type(record, "Disposition"):
        ncrs = [s for s in f.statements if record in f.iris(s, "hasDisposition")]
        return f"disposition of {', '.join(label(f, n) for n in sorted(ncrs))}"
    return label(f, record)


def _signatures_of(f: Facts, record: str | None) -> list[str]:
    return [s for s in sorted(f.statements) if record is not None and record in f.iris(s, "signs")]


def _signature(f: Facts, sig: str) -> str:
    signer = ", ".join(label(f, p) for p in f.iris(sig, "signer")) or f.one(sig, "signerName") or "unnamed"
    return f"{f.one(sig, 'signatureMeaning') or 'signed'} by {signer} at {when(f.one(sig, 'signedAt'))}"


def _revision(f: Facts, rev: str | None) -> str:
    if rev is None:
        return "none recorded"
    state = f.one(rev, "lifecycleState") or "state unknown"
    released = f.one(rev, "releasedAt")
    return f"{label(f, rev)} (state {state}{'; released ' + when(released) if released else ''})"


def _work_order(f: Facts, wo: str | None) -> str:
    if wo is None:
        return "none recorded"
    facts = [f"quantity {f.one(wo, 'quantity')}" if f.one(wo, "quantity") else "", f.one(wo, "workOrderStatus") or ""]
    return f"{label(f, wo)} ({', '.join(x for x in facts if x)})"


def _receipt(f: Facts, receipt: str | None) -> str:
    if receipt is None:
        return "none recorded"
    return f"{label(f, receipt)} received {when(f.one(receipt, 'receivedAt'))}"
