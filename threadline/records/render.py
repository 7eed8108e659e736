"""A record as HTML, PDF or JSON-LD; HTML and PDF from the one Jinja2 template (``templates/record.html.j2``).

The PDF is the template's HTML written by fpdf2 (``FPDF.write_html``): the library the audit-trail export
already uses (pure Python, maintained, no system fonts), with Noto Sans embedded from the ``fontpkg-noto-sans``
wheel (``audit.export.register_font``), so names in any Latin, Greek or Cyrillic script print as written and copy
back out as text. Its header and footer carry the record id, "page n of m" and the content hash on every page.
A browser engine (WeasyPrint) would render CSS, but needs Pango and its system libraries, which plants' air-gapped
installs do not have; fpdf2's HTML subset (tables of plain text, headings, paragraphs) is all a record uses.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from threadline.errors import UnknownFormat
from threadline.records.jsonld import HASH_FORM, dumps
from threadline.records.record import Record

TEMPLATES = Path(__file__).resolve().parent / "templates"
FORMATS = {"html": "text/html", "pdf": "application/pdf", "jsonld": "application/ld+json"}
ALIASES = {"json-ld": "jsonld", "json": "jsonld", "htm": "html"}
PAGE_MARGIN = 10  # mm


def format_name(name: str) -> str:
    """``html``, ``pdf`` or ``jsonld`` (and their aliases); ``UnknownFormat`` for anything else."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in FORMATS:
        raise UnknownFormat(f"format {name!r} is not offered for records: use one of {', '.join(FORMATS)}")
    return key


@functools.cache
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def html(record: Record, *, pdf: bool = False) -> str:
    """The record page (``pdf``: the body alone, for fpdf2, with neither head nor styles)."""
    exceptions = [
        [f.kind, record.labels.get(f.focus, f.focus.rsplit("/", 1)[-1]), f.message, f.clause or "", f.owner or ""]
        for f in record.findings
    ]
    release = [[r.signer, r.meaning, r.signed_at, r.hash, r.state] for r in record.release]
    sources = [
        [str(s.number), s.system, s.file, s.locators, s.key, s.load.rsplit("/", 1)[-1], s.loaded_at.replace("T", " ")]
        for s in record.sources
    ]
    return str(
        _environment()
        .get_template("record.html.j2")
        .render(record=record, pdf=pdf, exceptions=exceptions, release=release, sources=sources, hash_form=HASH_FORM)
    )


def pdf(record: Record) -> bytes:
    from fpdf import FPDF

    from threadline.audit.export import register_font

    class Paged(FPDF):
        def header(self) -> None:
            self.set_font(family, size=7)
            self.set_text_color(90, 90, 90)
            self.cell(0, 4, f"{record.title} {record.id}", new_x="LMARGIN", new_y="NEXT")
            self.ln(2)
            self.set_text_color(0, 0, 0)

        def footer(self) -> None:
            self.set_y(-PAGE_MARGIN)
            self.set_font(family, size=7)
            self.set_text_color(90, 90, 90)
            text = f"{record.id} · page {self.page_no()} of {{nb}} · content hash {record.content_hash}"
            self.cell(0, 4, text, align="C")
            self.set_text_color(0, 0, 0)

    document = Paged(orientation="L", unit="mm", format="A4")
    family = register_font(document)
    document.set_margins(PAGE_MARGIN, PAGE_MARGIN, PAGE_MARGIN)
    document.set_auto_page_break(True, margin=PAGE_MARGIN + 4)
    document.set_title(f"{record.title} {record.id}")
    document.set_creator("Threadline")
    document.alias_nb_pages()
    document.add_page()
    document.set_font(family, size=7.5)
    document.write_html(html(record, pdf=True), font_family=family, table_line_separators=True)
    return bytes(document.output())


def render(record: Record, fmt: str) -> bytes:
    """The record in ``fmt`` (``format_name``): UTF-8 HTML, PDF bytes or canonical JSON-LD."""
    name = format_name(fmt)
    if name == "jsonld":
        return dumps(record.document)
    if name == "pdf":
        return pdf(record)
    return html(record).encode("utf-8")
