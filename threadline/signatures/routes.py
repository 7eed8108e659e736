"""HTTP: ``POST /signatures`` signs a record, ``GET /signatures?record=IRI`` lists a record's signatures.

Who may sign what is decided by ``threadline.signatures.RULES`` (a part revision needs ``engineer``, a
disposition or CAPA ``compliance``), so the route itself only needs an authenticated token; refusals answer
401 (no token, failed re-authentication), 403 (role, shared or unnamed token), 404 (no such record) and 422
(a class or meaning that cannot be signed).

Re-authentication (21 CFR 11.200(a)(1)): a bearer token travels with every request a client makes, so a
request carrying it shows only that *some* program holds the token, not that its holder means to sign now.
The body must therefore repeat the token's secret as ``password``; it is checked against the stored hash
afresh (no cached lookup: a token revoked a moment ago cannot sign), in constant time, and must be the
same token as the bearer's. A client is expected to ask its user for it at each signing and not keep it.
"""

from __future__ import annotations

from typing import Annotated, Any

import pyoxigraph as ox
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from threadline.auth import Principal, authenticate, require
from threadline.auth.guard import refused, unauthorised
from threadline.errors import InvalidRequest, SignatureError, UnknownRecord
from threadline.signatures import (
    DERIVED,
    RULES,
    Signature,
    record_statements,
    resolve,
    sign,
    signatures_of,
    signer_name,
)
from threadline.store.scoped import view_for
from threadline.web import deps

Reader = Annotated[Principal, Depends(require("reader"))]
MEANINGS = "; ".join(
    f"{name}: {', '.join(rule.meanings)} (role {rule.role})" for name, rule in RULES.items() if name not in DERIVED
)
router = APIRouter(tags=["signatures"])


class RevisionKey(BaseModel):
    part: str = Field(description="Part number.")
    revision: str = Field(description="Revision label (A, B, ...).")


class SignatureRequest(BaseModel):
    """Name the record by IRI or by the identifiers people use (exactly one of the four)."""

    record: str | None = Field(default=None, description="IRI of the record to sign.")
    revision: RevisionKey | None = Field(default=None, description="A part revision, by part number and label.")
    ncr: str | None = Field(default=None, description="An NCR number: signs that NCR's disposition.")
    capa: str | None = Field(default=None, description="A CAPA number.")
    meaning: str = Field(description=f"What the signature means, per record class: {MEANINGS}.")
    reason: str | None = Field(default=None, description="Why; kept in the signature's audit entry.")
    password: str | None = Field(
        default=None, description="The secret of the token in the Authorization header, again (re-authentication)."
    )


def _record(store: Any, body: SignatureRequest) -> str:
    given = [name for name in ("record", "revision", "ncr", "capa") if getattr(body, name) is not None]
    if len(given) != 1:
        raise InvalidRequest("name the record with exactly one of: record, revision, ncr, capa")
    if body.record is not None:
        try:
            return ox.NamedNode(body.record).value
        except ValueError as exc:
            raise SignatureError(f"record must be an IRI, not {body.record!r}") from exc
    if body.revision is not None:
        return resolve(store, "revision", body.revision.part, body.revision.revision)
    if body.ncr is not None:
        return resolve(store, "ncr", body.ncr)
    return resolve(store, "capa", body.capa or "")


def reauthenticated(request: Request, store: Any, principal: Principal, password: str | None) -> None:
    if not password:
        raise unauthorised(
            'signing needs re-authentication: repeat your token\'s secret as "password" (21 CFR 11.200(a)(1))'
        )
    again = authenticate(store, password, ttl=0.0)
    if again is None or again.token_id != principal.token_id:
        refused(
            request,
            "reauthentication",
            "the signing password is not the secret of the bearer token",
            token_id=principal.token_id or "-",
        )
        raise unauthorised('re-authentication failed: "password" is not the secret of the token you sign with')


def _body(signature: Signature) -> dict[str, Any]:
    return {
        "id": signature.id,
        "record": signature.record,
        "meaning": signature.meaning,
        "signedAt": signature.signed_at,
        "recordHash": signature.record_hash,
        "hashForm": signature.hash_form,
        "signerName": signature.signer_name,
        "signerToken": signature.signer_token,
        "signerPerson": signature.signer_person,
        "source": signature.source,
    }


@router.post("/signatures", status_code=201)
async def create(request: Request, body: SignatureRequest, principal: Reader, store: deps.Store) -> JSONResponse:
    """Sign a part revision (engineer), a disposition or a CAPA (compliance); re-authenticate with
    ``password``. The signature and its audit entry are written in one transaction."""

    def work() -> Signature:
        signer_name(principal)  # a person's own API token, before anything else is looked at
        reauthenticated(request, store, principal, body.password)
        view = view_for(store, principal)  # a scoped token signs only records it may read
        record = _record(view, body)
        if view is not store and not record_statements(view, [record]):
            raise UnknownRecord(f"the thread holds no record {record} within token {principal.token_id}'s scopes")
        return sign(store, principal, record, body.meaning, body.reason)

    if principal.anonymous:
        raise unauthorised("signing needs an API token (Authorization: Bearer <token>)")
    signature = await run_in_threadpool(work)  # SignatureError: 422, UnknownRecord 404, SignatureRefused 403
    return JSONResponse(_body(signature), status_code=201, headers={"Cache-Control": "no-store"})


@router.get("/signatures")
async def listing(principal: Reader, record: str, store: deps.Store) -> dict[str, Any]:
    """Every signature of ``record``: made in Threadline, or loaded from a source system."""
    try:
        ox.NamedNode(record)
    except ValueError as exc:
        raise InvalidRequest(f"record must be an IRI, not {record!r}") from exc

    def work() -> list[Signature]:
        return signatures_of(view_for(store, principal), [record])

    found = await run_in_threadpool(work)
    return {"record": record, "signatures": [_body(s) for s in found]}
