"""The audit trail for inspectors: CSV (every field, exact) and PDF (a readable, printable table).

The PDF is made with fpdf2 (pure Python, no system fonts or network). It uses the PDF core font Helvetica,
which covers Latin-1; any other character is written as a ``\\uXXXX`` escape rather than dropped, so the
printed record stays faithful. The CSV carries the exact stored text and is the one to recompute hashes from.
Both begin from ``verify``, so the chain's state is printed with the entries.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import IO, Any

from threadline.audit.chain import AuditError
from threadline.audit.verify import VerifyResult, read_entries, verify
from threadline.store import Store

COLUMNS = ["sequence", "time", "actor", "action", "why", "what", "previous", "hash"]
HEADINGS = ["#", "time (UTC)", "actor", "action", "reason", "what", "previous hash / entry hash"]
WIDTHS = (10, 40, 30, 22, 41, 84, 50)  # mm, on landscape A4 with 10 mm margins (277 mm)


def export(store: Store, fmt: str, out: Path | str | IO[bytes]) -> VerifyResult:
    """Write the trail as ``fmt`` (csv|pdf) to ``out`` (path or binary file); returns the chain's state."""
    if fmt not in ("csv", "pdf"):
        raise AuditError(f"unknown export format {fmt!r}: csv or pdf")
    result = verify(store)
    rows = _all_rows(store)
    payload = _csv(rows) if fmt == "csv" else _pdf(rows, result, store.url)
    if isinstance(out, str | Path):
        Path(out).write_bytes(payload)
    else:
        out.write(payload)
    return result


def _all_rows(store: Store) -> list[dict[str, Any]]:
    """Every stored entry, in sequence order — a broken trail is exported too, past the break."""
    rows = [found[0] for found in read_entries(store).values()]
    return sorted(rows, key=lambda row: int(row["sequence"]) if (row["sequence"] or "").isdigit() else -1)


def _csv(rows: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([row.get(name) or "" for name in COLUMNS])
    return buffer.getvalue().encode("utf-8-sig")  # the BOM lets spreadsheet tools read UTF-8


def _latin1(text: str) -> str:
    return text.encode("latin-1", "backslashreplace").decode("latin-1")


def _what(text: str | None) -> str:
    """``what`` one key per line, JSON values as stored."""
    try:
        value = json.loads(text or "null")
    except ValueError:
        return text or ""
    if not isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return "\n".join(f"{key}: {json.dumps(item, ensure_ascii=False)}" for key, item in sorted(value.items()))


def _pdf(rows: list[dict[str, Any]], result: VerifyResult, store_url: str) -> bytes:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    from threadline.audit.chain import utc_now

    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_margins(10, 10, 10)
    pdf.set_auto_page_break(True, margin=12)
    pdf.set_title("Threadline audit trail")
    pdf.set_creator("Threadline")
    pdf.alias_nb_pages()
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 8, "Threadline audit trail", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    for line in (
        f"Store: {store_url}",
        f"Exported: {utc_now()} (UTC)",
        f"Entries: {len(rows)}",
        f"Chain: {result}",
        "Each entry hash is the sha256 of the entry's canonical JSON; see docs/security.md, 'Audit trail'.",
    ):
        pdf.multi_cell(0, 5, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("Helvetica", size=7)
    heading = FontFace(emphasis="BOLD", fill_color=(225, 225, 225))
    with pdf.table(
        col_widths=WIDTHS, headings_style=heading, line_height=3.5, text_align="LEFT", repeat_headings=1
    ) as table:
        table.row(HEADINGS)
        for row in rows:
            hashes = f"prev {_split(row.get('previous'))}\nhash {_split(row.get('hash'))}"
            cells = [
                row.get("sequence"),
                row.get("time"),
                row.get("actor"),
                row.get("action"),
                row.get("why"),
                _what(row.get("what")),
                hashes,
            ]
            table.row([_latin1(str(cell or "")) for cell in cells])
    return bytes(pdf.output())


def _split(digest: str | None) -> str:
    """A 64-digit hash on two lines of 32, so the column stays narrow and every digit stays printed."""
    digest = digest or ""
    return digest[:32] + "\n     " + digest[32:] if len(digest) > 32 else digest
