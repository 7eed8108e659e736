"""Builds a record: gathers it (``dhr.collect``, ``fai.collect``), reviews it (``review``), and returns the
``Record`` every format renders from, with its canonical JSON-LD, content hash and release signatures."""

from __future__ import annotations

from pathlib import Path

from threadline.records import dhr as dhr_members
from threadline.records import fai as fai_members
from threadline.records import forms, jsonld, sections
from threadline.records.record import Record, Refs, ReleaseRow, label, when
from threadline.records.review import review
from threadline.signatures import signatures_of
from threadline.store import Store

DHR_TYPE = "rec:DeviceHistoryRecord"
FAI_TYPE = "rec:FirstArticleInspectionReport"


def dhr(store: Store, identifier: str, shapes_dir: Path | None = None) -> Record:
    """The device history record of the unit (serial number) or lot (lot number) ``identifier``."""
    members = dhr_members.collect(store, identifier)
    facts = members.facts
    findings = review(store, facts, members.subject, members.items, shapes_dir)
    identification = {"rec:identifier": identifier, "rec:subjectKind": members.kind}
    document, digest = jsonld.document(members.iri, DHR_TYPE, members.subject, facts, findings, identification)
    refs = Refs(facts)
    record = Record(
        kind="dhr",
        title="Device history record",
        id=identifier,
        iri=members.iri,
        content_hash=digest,
        summary=sections.summary(members),
        tables=sections.tables(members, refs),
        findings=findings,
        sources=refs.rows(),
        document=document,
        labels={f.focus: label(facts, f.focus) for f in findings},
    )
    return with_release(store, record)


def fai(store: Store, part: str, revision: str, serial: str | None = None, shapes_dir: Path | None = None) -> Record:
    """The first article inspection report of ``part`` at ``revision`` on the unit ``serial`` (default: the first
    unit built to it)."""
    members = fai_members.collect(store, part, revision, serial)
    facts = members.unit.facts
    findings = review(store, facts, members.unit.subject, members.unit.items, shapes_dir) + forms.findings(members)
    findings = sorted(set(findings), key=lambda f: f.key())
    chars, reason = fai_members.affected(members)
    identification = {
        "rec:partNumber": part,
        "rec:revision": revision,
        "rec:firstArticle": {"@id": members.unit.subject},
        "rec:scope": "full" if reason is None else f"partial: {reason}",
        "rec:characteristic": [{"@id": c} for c in sorted(chars)],
    }
    document, digest = jsonld.document(members.iri, FAI_TYPE, members.rev, facts, findings, identification)
    refs = Refs(facts)
    record = Record(
        kind="fai",
        title="First article inspection report",
        id=f"{part} rev {revision}",
        iri=members.iri,
        content_hash=digest,
        summary=forms.summary(members),
        tables=forms.tables(members, refs),
        findings=findings,
        sources=refs.rows(),
        document=document,
        labels={f.focus: label(facts, f.focus) for f in findings},
    )
    return with_release(store, record)


def with_release(store: Store, record: Record) -> Record:
    """Add the record's release signatures (made by ``release.release``), each marked current or changed."""
    found = [s for s in signatures_of(store, [record.iri]) if s.hash_form == jsonld.HASH_FORM]
    nodes = []
    for signature in found:
        current = signature.record_hash == record.content_hash
        state = "current" if current else "data changed since release"
        record.release.append(
            ReleaseRow(
                signer=signature.signer_name or "",
                meaning=signature.meaning or "",
                signed_at=when(signature.signed_at),
                hash=signature.record_hash or "",
                state=state,
            )
        )
        nodes.append(
            {
                "@id": signature.id,
                "@type": ["tl:ElectronicSignature"],
                "tl:signs": {"@id": record.iri},
                "tl:signerName": signature.signer_name,
                "tl:signatureMeaning": signature.meaning,
                "tl:signedAt": {"@value": signature.signed_at, "@type": "xsd:dateTime"},
                "tl:signedRecordHash": signature.record_hash,
                "tl:recordHashForm": signature.hash_form,
                "rec:releaseState": state,
            }
        )
    if nodes:
        graph = record.document["@graph"]
        head = next(node for node in graph if node["@id"] == record.iri)
        head["rec:release"] = [{"@id": n["@id"]} for n in nodes]
        record.document["@graph"] = sorted(graph + nodes, key=lambda node: str(node["@id"]))
    return record


__all__ = ["DHR_TYPE", "FAI_TYPE", "Record", "dhr", "fai", "with_release"]
