"""Releasing a record: an electronic signature (21 CFR 11.50: printed name, date and time, meaning) bound to the
record's content hash, made by the signatures engine (``signatures.sign_content``) under the writer lock.

The record is built afresh under that lock, so the hash signed is the hash of what the thread holds at that
moment; while the record has open exceptions the release is refused (``ReleaseBlocked``, HTTP 409) with the list.
A released record whose data later change shows the release as "data changed since release"
(``builder.with_release``): the signature keeps the hash it signed.
"""

from __future__ import annotations

from pathlib import Path

from threadline.auth.principal import Principal
from threadline.errors import Forbidden
from threadline.records import builder
from threadline.records.dhr import KIND, record_iri
from threadline.records.errors import ReleaseBlocked
from threadline.records.jsonld import HASH_FORM
from threadline.signatures import Signature, complete_view, sign_content
from threadline.store import Store

MEANING = "released"


def release(
    store: Store,
    principal: Principal,
    identifier: str,
    *,
    meaning: str = MEANING,
    reason: str | None = None,
    shapes_dir: Path | None = None,
) -> Signature:
    """Sign the device history record of ``identifier`` as released, or refuse while exceptions remain."""
    if not complete_view(store):
        raise Forbidden("a record is released on the whole thread: a token limited to some graphs cannot release it")

    def content() -> tuple[str, str]:
        record = builder.dhr(store, identifier, shapes_dir)
        if record.findings:
            listed = [{**f.as_dict(), "about": record.labels.get(f.focus, f.focus)} for f in record.findings]
            raise ReleaseBlocked(
                f"the device history record of {identifier} has {len(listed)} open exception(s): resolve them first",
                listed,
            )
        return record.content_hash, HASH_FORM

    iri = record_iri(KIND, identifier)
    return sign_content(store, principal, iri, "DeviceHistoryRecord", meaning, content, reason)
