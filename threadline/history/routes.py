"""HTTP: ``GET /changes`` — the change-set stream as RDF Patch, page by page (compliance and admin, who read the
audit trail). ``Link: <…>; rel="next"`` names the next page while one follows; ``X-Threadline-First-Change``
names the first change set the store holds (a store from before change sets has history from its upgrade on)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from threadline.auth.guard import require
from threadline.auth.principal import Principal
from threadline.history.changeset import change_iri
from threadline.history.export import DEFAULT_LIMIT, MAX_LIMIT, limit_of, page
from threadline.web import deps

MEDIA_TYPE = "application/rdf-patch"
Compliance = Annotated[Principal, Depends(require("compliance"))]
router = APIRouter(tags=["history"])


def _chunks(body: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := body.read(1 << 16):
            yield chunk
    finally:
        body.close()


@router.get("/changes", response_class=StreamingResponse, responses={200: {"content": {MEDIA_TYPE: {}}}})
async def changes(
    _: Compliance,
    store: deps.Store,
    since: Annotated[
        str | None, Query(description="A change id (N or its IRI) or an xsd:dateTime with its zone: changes after it.")
    ] = None,
    until: Annotated[str | None, Query(description="A change id or an xsd:dateTime: changes up to it.")] = None,
    limit: Annotated[
        str | None, Query(description=f"Change sets per page, 1-{MAX_LIMIT} (default {DEFAULT_LIMIT}).")
    ] = None,
) -> StreamingResponse:
    """The change sets after ``since`` as RDF Patch, oldest first, one patch (``TX`` … ``TC``) per change set."""
    size = limit_of(limit)
    found = await run_in_threadpool(page, store, since, until, size)
    headers = {"X-Threadline-Changes": str(found.count)}
    if found.first_iri:
        headers["X-Threadline-First-Change"] = found.first_iri
    if found.last is not None:
        headers["X-Threadline-Last-Change"] = change_iri(found.last)
    if found.more and found.last is not None:
        query = {"since": str(found.last), "limit": str(size)} | ({"until": until} if until else {})
        headers["Link"] = f'</changes?{urlencode(query)}>; rel="next"'
    return StreamingResponse(_chunks(found.body), media_type=MEDIA_TYPE, headers=headers)
