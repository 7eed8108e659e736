"""A record as the template reads it: a summary, tables, exceptions, release signatures and numbered sources.

Every row of a table names the sources of what it shows (``[3]``, the numbers of the source table at the end),
so a printed record traces each line to the file and load it came from, as the JSON-LD does per value.
Cells are plain text: the one template renders to HTML and, through fpdf2's ``write_html``, to PDF, whose
table cells take text only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from threadline.records.facts import Facts
from threadline.records.review import Finding


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    empty: str = "None recorded."
    widths: list[int] | None = None  # percent per column, for the PDF (fpdf2 reads the first row's widths)


@dataclass
class SourceRow:
    number: int
    id: str
    system: str
    file: str
    locators: str
    key: str
    graphs: str
    load: str
    loaded_at: str


@dataclass
class ReleaseRow:
    signer: str
    meaning: str
    signed_at: str
    hash: str
    state: str  # "current" or what changed


@dataclass
class Record:
    kind: str  # dhr | fai
    title: str
    id: str
    iri: str
    content_hash: str
    summary: list[tuple[str, str]]
    tables: list[Table]
    findings: list[Finding]
    sources: list[SourceRow]
    document: dict[str, Any]
    release: list[ReleaseRow] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # how the exceptions name the members they are about


class Refs:
    """Numbers the sources of a record in order of their ids, and names the sources of any subjects."""

    def __init__(self, facts: Facts) -> None:
        self.facts = facts
        used = sorted({sid for subject in facts.statements for sid in facts.sources_of(subject)})
        self.number = {sid: n for n, sid in enumerate(used, 1)}

    def of(self, *subjects: str | None) -> str:
        numbers = sorted(self.number[s] for s in self.facts.sources_of(*subjects) if s in self.number)
        return ", ".join(str(n) for n in numbers)

    def rows(self) -> list[SourceRow]:
        out = []
        for sid, n in sorted(self.number.items(), key=lambda pair: pair[1]):
            source = self.facts.sources.get(sid)
            graphs = source.graphs if source else (sid,)
            loads = [self.facts.loads[g] for g in graphs if g in self.facts.loads]
            out.append(
                SourceRow(
                    number=n,
                    id=sid,
                    system=(source.system if source else None) or "",
                    file=(source.file if source else None) or "",
                    locators=", ".join(source.locators) if source else "",
                    key=(source.key if source else None) or "",
                    graphs=", ".join(graphs),
                    load=", ".join(sorted({load.activity for load in loads if load.activity})),
                    loaded_at=", ".join(sorted({load.started for load in loads if load.started})),
                )
            )
        return out


def label(facts: Facts, iri: str | None) -> str:
    """How a record names a thread object: its identifier and name, never a bare IRI when it has either."""
    if iri is None:
        return ""
    one = facts.one
    if facts.has_type(iri, "Person"):
        return _joined(one(iri, "name"), one(iri, "personId"), "({})")
    if facts.has_type(iri, "PartRevision"):
        part = facts.iris(iri, "revisionOf")
        return f"{one(part[0] if part else None, 'partNumber') or ''} rev {one(iri, 'revisionLabel') or ''}".strip()
    for key in (
        "serialNumber",
        "lotNumber",
        "equipmentId",
        "partNumber",
        "characteristicId",
        "ncrNumber",
        "capaNumber",
        "workOrderNumber",
        "receiptNumber",
        "certificateNumber",
        "supplierId",
        "documentNumber",
    ):
        value = one(iri, key)
        if value is not None:
            name = one(iri, "name")
            if key == "documentNumber":
                return f"{value} rev {one(iri, 'documentRevision') or ''}".strip()
            return f"{value} {name}" if name and key in ("equipmentId", "partNumber", "supplierId") else value
    return iri.rsplit("/", 1)[-1]


def _joined(name: str | None, key: str | None, template: str) -> str:
    if name and key:
        return f"{name} {template.format(key)}"
    return name or key or ""


def when(text: str | None) -> str:
    """A timestamp as stored (UTC), readable: ``2024-03-01 06:40:00Z``."""
    return (text or "").replace("T", " ")
