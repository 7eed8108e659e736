"""HTTP: ``GET /records/dhr/{id}`` (a unit's or lot's device history record), ``POST /records/dhr/{id}/release``
and ``GET /records/fai/{part}/{revision}`` (a first article inspection report).

The format is ``?format=html|pdf|jsonld``, else the client's ``Accept`` with its q-values (the app's one
negotiation, ``sparql.negotiation.best``), HTML when the client has no preference; 406 when it accepts none.
Reading needs the ``reader`` role and sees the graphs the caller may read (a scoped token's record holds only
what it may see). Releasing needs ``compliance``, a personal token, re-authentication (its secret again as
``password``, as ``POST /signatures`` asks) and a record without open exceptions (409 lists them).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from threadline.auth import Principal, require
from threadline.auth.guard import unauthorised
from threadline.records import builder
from threadline.records.release import MEANING, release
from threadline.records.render import FORMATS, format_name, render
from threadline.signatures import Signature
from threadline.signatures.routes import reauthenticated
from threadline.sparql.negotiation import best
from threadline.store.scoped import view_for
from threadline.web import deps

Reader = Annotated[Principal, Depends(require("reader"))]
router = APIRouter(tags=["records"])
OFFERED = [FORMATS["html"], FORMATS["jsonld"], FORMATS["pdf"]]
MEDIA_ALIASES = {FORMATS["jsonld"]: ["application/json"]}


class ReleaseRequest(BaseModel):
    meaning: str = Field(default=MEANING, description="What the signature means: released.")
    reason: str | None = Field(default=None, description="Why; kept in the signature's audit entry.")
    password: str | None = Field(
        default=None, description="The secret of the token in the Authorization header, again (re-authentication)."
    )


def choose(format: str | None, accept: str | None) -> str:
    """The format name: ``format`` when given (400 for one not offered), else negotiated from ``Accept``."""
    if format:
        return format_name(format)
    media = best(accept, OFFERED, MEDIA_ALIASES)
    return next(name for name, offered in FORMATS.items() if offered == media)


@router.get(
    "/records/dhr/{identifier}",
    responses={200: {"content": {FORMATS["html"]: {}, FORMATS["jsonld"]: {}, FORMATS["pdf"]: {}}}},
)
async def dhr(
    request: Request,
    identifier: str,
    principal: Reader,
    store: deps.Store,
    settings: deps.Settings,
    format: str | None = None,
) -> Response:
    """The device history record of a serialized unit (serial number) or material lot (lot number): HTML, PDF
    or canonical JSON-LD (``format=html|pdf|jsonld``, aliases ``json-ld``, ``json``; or ``Accept``)."""
    name = choose(format, request.headers.get("accept"))

    def work() -> bytes:
        record = builder.dhr(view_for(store, principal), identifier, settings.shapes_dir)
        return render(record, name)

    body = await run_in_threadpool(work)
    return _answer(body, name, f"dhr-{_safe(identifier)}")


def _answer(body: bytes, name: str, stem: str) -> Response:
    media = FORMATS[name] + ("; charset=utf-8" if name != "pdf" else "")
    headers = {"Vary": "Accept"}
    if name == "pdf":
        headers["Content-Disposition"] = f'inline; filename="{stem}.pdf"'
    return Response(body, media_type=media, headers=headers)


@router.get(
    "/records/fai/{part}/{revision}",
    responses={200: {"content": {FORMATS["html"]: {}, FORMATS["jsonld"]: {}, FORMATS["pdf"]: {}}}},
)
async def fai(
    request: Request,
    part: str,
    revision: str,
    principal: Reader,
    store: deps.Store,
    settings: deps.Settings,
    serial: str | None = None,
    format: str | None = None,
) -> Response:
    """The first article inspection report (AS9102 Rev C Forms 1-3) of a part revision, on the unit ``serial``
    (default: the first unit built to the revision); partial after a revision change. Formats as for a DHR."""
    name = choose(format, request.headers.get("accept"))

    def work() -> bytes:
        record = builder.fai(view_for(store, principal), part, revision, serial, settings.shapes_dir)
        return render(record, name)

    body = await run_in_threadpool(work)
    return _answer(body, name, f"fai-{_safe(part)}-{_safe(revision)}")


@router.post("/records/dhr/{identifier}/release", status_code=201)
async def release_dhr(
    request: Request,
    identifier: str,
    body: ReleaseRequest,
    principal: Reader,
    store: deps.Store,
    settings: deps.Settings,
) -> JSONResponse:
    """Release the device history record: a compliance signature bound to its content hash; 409 while it has
    open exceptions (listed in ``exceptions``)."""
    if principal.anonymous:
        raise unauthorised("releasing a record needs an API token (Authorization: Bearer <token>)")

    def work() -> Signature:
        reauthenticated(request, store, principal, body.password)
        return release(
            store, principal, identifier, meaning=body.meaning, reason=body.reason, shapes_dir=settings.shapes_dir
        )

    signature = await run_in_threadpool(work)
    return JSONResponse(_body(signature), status_code=201, headers={"Cache-Control": "no-store"})


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
    }


def _safe(identifier: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in identifier)
