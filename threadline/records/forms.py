"""The AS9102 Rev C forms of a first article inspection report (``fai``): Form 1 as the summary and the index of
BOM components, Form 2 (materials, functional tests), Form 3 (one row per characteristic)."""

from __future__ import annotations

from threadline.records.facts import Facts
from threadline.records.fai import FaiMembers, affected
from threadline.records.record import Refs, Table, label, when
from threadline.records.review import Finding


def summary(m: FaiMembers) -> list[tuple[str, str]]:
    f, rev = m.unit.facts, m.rev
    part = f.first(rev, "revisionOf")
    chars, reason = affected(m)
    drawings = [d for d in f.iris(rev, "hasDocument") if f.has_type(d, "Drawing")]
    return [
        ("1. Part number", m.part),
        ("2. Part name", f.one(part, "name") or ""),
        ("3. Serial number", m.unit.id),
        ("4. FAI report number", f"FAI-{m.part}-{m.revision}-{m.unit.id}"),
        ("5. Part revision level", f"{m.revision} ({f.one(rev, 'lifecycleState') or 'state unknown'})"),
        ("6. Drawing number and revision", ", ".join(label(f, d) for d in drawings) or "none recorded"),
        ("9. Manufacturing process reference", ", ".join(label(f, r) for r in m.design if f.has_type(r, "Routing"))),
        ("14. Detail or assembly FAI", "assembly" if _bom(m) else "detail"),
        ("15. Full or partial FAI", "full" if reason is None else f"partial: {reason}"),
        ("Characteristics in this report", str(len(chars))),
    ]


def tables(m: FaiMembers, refs: Refs) -> list[Table]:
    return [_index(m, refs), _materials(m, refs), _functional(m, refs), _characteristics(m, refs)]


def findings(m: FaiMembers) -> list[Finding]:
    """Characteristics of the report without a result on the first article."""
    f = m.unit.facts
    results = _results(m)
    out = []
    for char in affected(m)[0]:
        if char not in results:
            out.append(
                Finding(
                    kind="characteristic-without-result",
                    focus=char,
                    message=f"Characteristic {label(f, char)} has no result on the first article {m.unit.id}.",
                    clause="AS9102C Form 3",
                    owner="Quality inspector",
                    fix="Inspect the characteristic on the first article and record the result.",
                )
            )
    return out


def _bom(m: FaiMembers) -> list[str]:
    f = m.unit.facts
    lines = [x for x in m.design if m.rev in f.iris(x, "parentRevision")]
    return sorted(lines, key=lambda x: f.one(x, "findNumber") or x)


def _index(m: FaiMembers, refs: Refs) -> Table:
    f = m.unit.facts
    table = Table(
        "Form 1: index of components",
        ["Find", "Part number", "Part name", "Qty", "Serial or lot", "Src"],
        widths=[8, 18, 28, 8, 28, 10],
    )
    consumed = {(f.iris(i, "ofPart") or [""])[0]: i for i in m.unit.items}
    for line in _bom(m):
        child = f.first(line, "childPart")
        item = consumed.get(child or "")
        table.rows.append(
            [
                f.one(line, "findNumber") or "",
                f.one(child, "partNumber") or "",
                f.one(child, "name") or "",
                f.one(line, "quantity") or "",
                label(f, item) if item else "not consumed",
                refs.of(line, item),
            ]
        )
    return table


def _materials(m: FaiMembers, refs: Refs) -> Table:
    f = m.unit.facts
    table = Table(
        "Form 2: materials",
        ["Material", "Lot", "Specification", "Supplier", "Certificate", "Src"],
        widths=[22, 14, 22, 18, 14, 10],
    )
    for lot in m.unit.items:
        if not f.has_type(lot, "MaterialLot"):
            continue
        part = f.first(lot, "ofPart")
        receipts = f.iris(lot, "receivedIn")
        certificates = [c for r in receipts for c in f.iris(r, "hasCertificate")]
        table.rows.append(
            [
                label(f, part),
                label(f, lot),
                _specifications(f, part),
                ", ".join(label(f, s) for s in f.iris(lot, "suppliedBy")),
                ", ".join(label(f, c) for c in certificates) or ("none" if receipts else ""),
                refs.of(lot),
            ]
        )
    return table


def _specifications(f: Facts, part: str | None) -> str:
    found = [s for s in f.statements if part is not None and part in f.iris(s, "revisionOf")]
    docs = [d for rev in sorted(found) for d in f.iris(rev, "hasDocument") if f.has_type(d, "Specification")]
    return ", ".join(label(f, d) for d in docs)


def _functional(m: FaiMembers, refs: Refs) -> Table:
    f = m.unit.facts
    table = Table(
        "Form 2: functional tests",
        ["Seq", "Operation", "Characteristics", "Result", "Equipment", "At", "Src"],
        widths=[6, 20, 24, 10, 18, 14, 8],
    )
    for op in m.unit.own:
        step = f.first(op, "executesStep")
        checks = f.iris(step, "requiresInspection")
        if not checks or f.one(step, "isFinalInspection") == "true":
            continue
        table.rows.append(
            [
                f.one(step, "sequence") or "",
                f.one(step, "operationName") or "",
                ", ".join(label(f, c) for c in checks),
                f.one(op, "operationResult") or "",
                ", ".join(label(f, e) for e in f.iris(op, "onEquipment")),
                when(f.one(op, "startedAt")),
                refs.of(op),
            ]
        )
    return table


def _results(m: FaiMembers) -> dict[str, list[str]]:
    f = m.unit.facts
    out: dict[str, list[str]] = {}
    for result in sorted(m.unit.own, key=lambda x: (f.one(x, "inspectedAt") or "", x)):
        for char in f.iris(result, "forCharacteristic"):
            out.setdefault(char, []).append(result)
    return out


def _characteristics(m: FaiMembers, refs: Refs) -> Table:
    f = m.unit.facts
    table = Table(
        "Form 3: characteristic accountability",
        ["Char no", "Characteristic", "Requirement", "Result", "Gauge", "Pass/fail", "NCR", "Src"],
        widths=[16, 14, 18, 10, 16, 8, 10, 8],
    )
    results = _results(m)
    ncrs = [n for n in m.unit.around if f.has_type(n, "Nonconformance")]
    for char in sorted(affected(m)[0], key=lambda c: f.one(c, "characteristicId") or c):
        uom = f.one(char, "unitOfMeasure") or ""
        limits = f"[{f.one(char, 'lowerLimit') or ''} .. {f.one(char, 'upperLimit') or ''}]"
        requirement = f"{f.one(char, 'nominal') or ''} {limits} {uom}"
        found: list[str | None] = list(results.get(char, []))
        for result in found or [None]:  # None: a row saying there is no result
            status = f.one(result, "inspectionStatus") if result else None
            ncr = ", ".join(label(f, n) for n in ncrs) if status == "fail" else ""
            table.rows.append(
                [
                    f.one(char, "characteristicId") or "",
                    f.one(char, "name") or "",
                    requirement.strip(),
                    f"{f.one(result, 'measuredValue') or ''} {uom}".strip() if result else "no result",
                    ", ".join(label(f, e) for e in f.iris(result, "usingEquipment")) if result else "",
                    status or "",
                    ncr or ("none" if status == "fail" else ""),
                    refs.of(char, result),
                ]
            )
    return table
