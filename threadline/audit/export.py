"""The audit trail for inspectors: CSV (every field, exact) and PDF (a readable, printable table).

The PDF is made with fpdf2 (pure Python, no system fonts or network) in Noto Sans, embedded (subset) from the
``fontpkg-noto-sans`` wheel, so names such as ``Łukasz`` or ``Ørsted`` print as written (Latin, Greek and
Cyrillic) and copy back out of the PDF as text, on any machine Threadline is installed on. It is one row per
entry: who was responsible (the person or token the entry names), what they did and why, and a short summary
of ``what`` (long hashes cut to 12 digits, long lists counted); the entry's hash is printed as its first 16
digits. The CSV carries the exact stored text, every hash in full, and is the one to recompute hashes from.
Both begin from ``verify``, so the chain's state (and its full head hash) is printed with the entries.

What a change replaced (EU GMP Annex 11 §9) is derived from the entry's change set at export time
(``history.values``: each property the change set removed a value of, or set in place, with its old and new
values), never stored in the entry: the hash chain of existing stores verifies as before. The CSV's ``replaced``
column has one line per property in N-Triples terms; the PDF prints them short under "Replaced" in the What cell.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import IO, Any

import pyoxigraph as ox

from threadline.audit.chain import AuditError
from threadline.audit.verify import VerifyResult, read_entries, verify
from threadline.history import values
from threadline.store import Store

# ``history.values.PropertyChange`` items, typed ``Any`` and imported inside ``_all_rows``: audit and history must
# not import each other at module level (tests/test_architecture.py), and the write path's audit.guard ->
# history.changeset is that edge.
Changes = list[Any] | None

COLUMNS = ["sequence", "time", "actor", "action", "why", "what", "previous", "hash", "replaced"]
HEADINGS = ["#", "Time (UTC)", "Responsible person", "Action", "Reason", "What", "Entry hash"]
WIDTHS = (9, 27, 44, 22, 48, 98, 29)  # mm, on landscape A4 with 10 mm margins (277 mm)
FONT = "Noto Sans"
LIST_ITEMS = 3  # list items (or map entries) printed before the rest are counted
MAX_VALUE = 160  # characters of one value printed
LIMIT = 10_000  # statements one change set may touch and still be listed (history.values.DEFAULT_LIMIT)
_HASH = re.compile(r"\b[0-9a-f]{32,}\b")


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
    """Every stored entry, in sequence order — a broken trail is exported too, past the break — with what its
    change set replaced."""
    rows = [found[0] for found in read_entries(store).values()]
    rows = sorted(rows, key=lambda row: int(row["sequence"]) if (row["sequence"] or "").isdigit() else -1)
    for row in rows:
        numbered = (row["sequence"] or "").isdigit()
        row["changes"] = values.values(store, int(row["sequence"]), limit=LIMIT) if numbered else []
        row["replaced"] = _replaced(row["changes"], values.text)
    return rows


def _replaced(changes: Changes, line: Any) -> str:
    """One ``line`` per changed property; a note when the change touched too many statements to list here."""
    if changes is None:
        return f"more than {LIMIT} statements changed: see threadline diff"
    return "\n".join(line(item) for item in changes)


def _short(term: Any) -> str:
    """A term as people read it: a literal's text, an IRI's key (``unit/SN-1``) or local name."""
    value = getattr(term, "value", str(term))
    if "/id/" in value:
        return value.partition("/id/")[2]
    return value.rsplit("#", 1)[-1] if isinstance(term, ox.NamedNode) else value


def _brief_change(item: Any) -> str:
    """``ncr/NCR-7 ncrStatus: closed -> open``: ASCII arrows, as the embedded font has no arrow or empty-set glyph."""
    old = ", ".join(_short(t) for t in item.old) or "(none)"
    new = ", ".join(_short(t) for t in item.new) or "(none)"
    return _clip(f"{_short(item.subject)} {_short(item.predicate)}: {old} -> {new}")


def _csv(rows: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([row.get(name) or "" for name in COLUMNS])
    return buffer.getvalue().encode("utf-8-sig")  # the BOM lets spreadsheet tools read UTF-8


def _what(text: str | None) -> str:
    """``what`` one key per line, shortened for reading: hashes cut, long lists and maps counted."""
    try:
        value = json.loads(text or "null")
    except ValueError:
        return _clip(text or "")
    if not isinstance(value, dict):
        return _clip(_brief(value))
    return "\n".join(f"{key}: {_brief(item)}" for key, item in sorted(value.items()) if item not in (None, [], {}))


def _replaced_cell(changes: Changes) -> str:
    """The PDF's "Replaced" lines under ``what``: the first ``LIST_ITEMS`` properties, the rest counted."""
    if changes == []:
        return ""
    if changes is None:
        return "\nReplaced: " + _replaced(None, _brief_change)
    shown = _replaced(changes[:LIST_ITEMS], _brief_change)
    more = f"\n(+{len(changes) - LIST_ITEMS} more: see the CSV)" if len(changes) > LIST_ITEMS else ""
    return "\nReplaced:\n" + shown + more


def _brief(value: Any) -> str:
    if isinstance(value, str):
        return _clip(_HASH.sub(lambda m: m.group(0)[:12] + "…", value))
    if isinstance(value, list):
        shown = ", ".join(_brief(item) for item in value[:LIST_ITEMS])
        return shown + (f" (+{len(value) - LIST_ITEMS} more)" if len(value) > LIST_ITEMS else "")
    if isinstance(value, dict):
        if len(value) > LIST_ITEMS:
            return f"{len(value)} entries"
        return ", ".join(f"{_brief(k)} → {_brief(v)}" for k, v in value.items())
    return json.dumps(value, ensure_ascii=False)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def register_font(pdf: Any) -> str:
    """Register Noto Sans and return its family name. The wheel ships the variable font; fpdf2 embeds its
    default instance (regular weight) as is, whereas making a bold instance (``variations=``) costs tens of
    seconds per export, so "bold" (headings) is the same face, set apart by size and shading instead."""
    import fontpkg

    try:
        path = fontpkg.path(FONT)
    except fontpkg.FontpkgError as exc:  # the wheel is a dependency: only a broken install gets here
        raise AuditError(f"the PDF font {FONT!r} is not installed (pip install fontpkg-noto-sans): {exc}") from exc
    pdf.add_font(FONT, "", path)
    pdf.add_font(FONT, "B", path)
    return FONT


def _pdf(rows: list[dict[str, Any]], result: VerifyResult, store_url: str) -> bytes:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    from threadline.audit.chain import utc_now

    pdf = FPDF(orientation="L", unit="mm", format="A4")
    family = register_font(pdf)
    pdf.set_margins(10, 10, 10)
    pdf.set_auto_page_break(True, margin=12)
    pdf.set_title("Threadline audit trail")
    pdf.set_creator("Threadline")
    pdf.alias_nb_pages()
    pdf.add_page()
    pdf.set_font(family, "B", 14)
    pdf.cell(0, 8, "Threadline audit trail", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=9)
    for line in (
        f"Store: {store_url}",
        f"Exported: {utc_now()} (UTC)",
        f"Entries: {len(rows)}",
        f"Chain: {result}",
        "Each entry hash is the sha256 of the entry's canonical JSON (see docs/security.md, 'Audit trail'); "
        "the CSV export carries every field and hash in full.",
    ):
        pdf.multi_cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font(family, size=7.5)
    heading = FontFace(emphasis="BOLD", fill_color=(225, 225, 225))
    with pdf.table(
        col_widths=WIDTHS,
        headings_style=heading,
        line_height=3.8,
        text_align="LEFT",
        v_align="TOP",
        repeat_headings=1,
    ) as table:
        table.row(HEADINGS)
        for row in rows:
            cells = [
                row.get("sequence"),
                (row.get("time") or "").replace("T", " ").removesuffix("Z").split(".")[0],
                row.get("actor"),
                row.get("action"),
                row.get("why"),
                _what(row.get("what")) + _replaced_cell(row.get("changes")),
                (row.get("hash") or "")[:16],
            ]
            table.row([str(cell or "") for cell in cells])
    return bytes(pdf.output())
