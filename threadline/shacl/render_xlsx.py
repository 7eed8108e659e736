"""The report as an Excel workbook (openpyxl 3.1.5): a summary sheet and a filterable results sheet."""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import fields

from openpyxl import Workbook
from openpyxl.styles import Font

from threadline.shacl.rows import Row

HEADERS = [f.name for f in fields(Row)]


def to_xlsx(rows: list[Row], *, conforms: bool, profile: str | None) -> bytes:
    book = Workbook()
    summary = book.active
    summary.title = "Summary"
    summary.append(["Profile", profile or "(shapes file)"])
    summary.append(["Conforms", "yes" if conforms else "no"])
    summary.append(["Results", len(rows)])
    for title, key in (("By clause", "clause"), ("By severity", "severity"), ("By shape", "shape_label")):
        summary.append([])
        summary.append([title])
        summary.cell(summary.max_row, 1).font = Font(bold=True)
        for name, count in sorted(Counter(getattr(r, key) for r in rows).items()):
            summary.append([name, count])
    sheet = book.create_sheet("Results")
    sheet.append(HEADERS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([getattr(row, h) for h in HEADERS])
    sheet.auto_filter.ref = sheet.dimensions
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
