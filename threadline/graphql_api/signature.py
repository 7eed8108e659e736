"""Electronic signatures on part revisions, dispositions and CAPAs (tl:ElectronicSignature).

Both kinds show here: those made in Threadline (``POST /signatures``; signer named by their token) and those
loaded from a source system (signer a ``Person``). ``recordUnchanged`` recomputes the signed record's hash
(``threadline.signatures``) through one batched loader per request, for Threadline-made signatures only: a
source system's hash follows its own formula.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from threadline.graphql_api import refs
from threadline.graphql_api.base import _selected, link, loaders, reads, register, text, timestamp, wrap
from threadline.graphql_api.node import Node


async def signatures_of(info: Info, record: str) -> list[ElectronicSignature]:
    """The signatures of ``record``, oldest first.

    After the one batched inverse lookup, it asks — synchronously, so every sibling list's keys join the
    same batch — for what the selection's fields will need: the record's current hash and the signing
    persons. Those fields then resolve from the request's cache. (Awaiting ``base.prefetch`` first would
    let a list with nothing to prefetch run ahead and dispatch its hash lookup in a batch of one.)
    """
    from threadline.signatures import HASH_FORM

    found = [wrap(r, ElectronicSignature) for r in await loaders(info).inverse("signs").load(record)]
    names: set[str] = set()
    for field in info.selected_fields:
        _selected(field.selections, names, False)
    cache = loaders(info).loaded
    pending: list[Awaitable[Any]] = []
    if "recordUnchanged" in names and any(s.r.text("recordHashForm") == HASH_FORM for s in found):
        pending.append(loaders(info).record_hash.load(record))
    wanted = (
        [p for s in found for p in s.r.refs("signer") if p not in cache] if names & {"signer", "signerName"} else []
    )
    if "record" in names and found and record not in cache:
        wanted.append(record)
    if wanted:
        pending.append(loaders(info).describe.load_many(list(dict.fromkeys(wanted))))
    if pending:
        await asyncio.gather(*pending)
    return sorted(found, key=lambda s: (s.r.text("signedAt") or "", s.r.iri))


@register("ElectronicSignature")
@strawberry.type(description="An electronic signature on a record: who, what it means, when, and the record's hash.")
class ElectronicSignature(Node):
    meaning: str | None = text("signatureMeaning", "What the signer asserts: released, approved, reviewed, closed.")
    signed_at: datetime | None = timestamp("signedAt", "When it was signed (UTC).")
    record_hash: str | None = text("signedRecordHash", "SHA-256 of the signed record's content at signing.")
    hash_form: str | None = text(
        "recordHashForm", "How recordHash was computed (Threadline-made signatures); null for a source system's."
    )
    signer_token: str | None = text("signerTokenId", "The id of the API token the signer signed with (Threadline).")

    signer: refs.Person | None = link("signer", "The person who signed (source-system signatures).")

    record: Node | None = link("signs", "The signed record.")

    @strawberry.field(
        description="The signer's printed name: their token's description, or the signing person's name.",
        metadata=reads("signerName", "signer"),
    )
    async def signer_name(self, info: Info) -> str | None:
        name = self.r.text("signerName")
        person = self.r.ref("signer")
        if name or person is None:
            return name
        found = await loaders(info).describe.load(person)
        return found.text("name") if found is not None else None

    @strawberry.field(
        description='"threadline" (signed with POST /signatures) or "source system" (loaded with the data).',
        metadata=reads("recordHashForm"),
    )
    def source(self) -> str:
        return "threadline" if self.r.text("recordHashForm") else "source system"

    @strawberry.field(
        description=(
            "Whether the signed record still has the content that was signed (Threadline-made signatures; null "
            "for a source system's, and when the caller's token scope hides part of the thread)."
        ),
        metadata=reads("signs", "signedRecordHash", "recordHashForm", "ontologyVersion"),
    )
    async def record_unchanged(self, info: Info) -> bool | None:
        from threadline.signatures import HASH_FORM
        from threadline.upgrades.versions import BASELINE_ONTOLOGY, ontology_version

        record, stored = self.r.ref("signs"), self.r.text("signedRecordHash")
        if record is None or stored is None or self.r.text("recordHashForm") != HASH_FORM:
            return None
        signed_under = self.r.text("ontologyVersion") or BASELINE_ONTOLOGY
        if signed_under == ontology_version():
            current = await loaders(info).record_hash.load(record)
        else:  # signed under an older ontology: under its names (record_hash step 2a); rare, unbatched
            current = await loaders(info).record_hash_under(record, signed_under)
        return None if current is None else current == stored
