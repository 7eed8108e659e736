"""HTTP: ``GET /diff`` — what the thread gained and lost between two instants, grouped by record (any reader).

A reader sees the statements of the graphs they may read only (``Principal.may_read_graph``): a scoped token's
diff is of its graphs, and the system graphs never appear (the change sets do not carry them). JSON by default;
Turtle (the statements reified) and RDF Patch (the net quads, exact) by ``Accept``, negotiated as every route
negotiates (``sparql.negotiation.best``)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from threadline.auth.guard import require
from threadline.auth.principal import Principal
from threadline.history import diff_output
from threadline.history.diff import Diff, diff
from threadline.sparql import negotiation
from threadline.store import Store
from threadline.web import deps

Reader = Annotated[Principal, Depends(require("reader"))]
router = APIRouter(tags=["history"])
BOUND = "A change id (N or its IRI) or an xsd:dateTime with its zone"


def _compute(
    store: Store, principal: Principal, since: str | None, until: str | None, subject: str | None, limit: int
) -> Diff:
    graphs = principal.visible_graphs(store.graphs()) if principal.scopes else None
    return diff(store, since, until, subject=subject, readable=principal.may_read_graph, graphs=graphs, limit=limit)


@router.get(
    "/diff",
    responses={200: {"content": {diff_output.TURTLE: {}, diff_output.PATCH: {}}}},
)
async def get_diff(
    request: Request,
    principal: Reader,
    store: deps.Store,
    settings: deps.Settings,
    since: Annotated[str | None, Query(alias="from", description=f"{BOUND}: the state the diff starts from.")] = None,
    until: Annotated[
        str | None, Query(alias="to", description=f"{BOUND}: the state it ends at (default: now).")
    ] = None,
    subject: Annotated[str | None, Query(description="An IRI: that record's statements only.")] = None,
) -> Response:
    """Statements added and removed between ``from`` and ``to`` (net), grouped by record with type and label."""
    media = negotiation.best(request.headers.get("accept"), diff_output.MEDIA_TYPES)
    found = await run_in_threadpool(_compute, store, principal, since, until, subject, settings.diff_max_statements)
    headers = {"Vary": "Accept", "X-Threadline-Changes": str(len(found.window.changes))}
    if media == diff_output.PATCH:
        return Response(diff_output.as_patch(found), media_type=media, headers=headers)
    if media == diff_output.TURTLE:
        return Response(diff_output.as_turtle(found), media_type=negotiation.content_type(media), headers=headers)
    body = json.dumps(diff_output.as_json(found), ensure_ascii=False).encode()
    return Response(body, media_type=media, headers=headers)
