"""HTTP routes of the ontology: ``/ontology`` (Turtle for machines, a readable page for browsers) and
``/ontology.ttl``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from threadline.ontology import ontology_turtle
from threadline.ontology.page import choose_format, ontology_html
from threadline.sparql.negotiation import NotAcceptable

router = APIRouter(tags=["ontology"])


@router.get("/ontology", responses={200: {"content": {"text/turtle": {}, "text/html": {}}}})
async def ontology(request: Request, format: str | None = None) -> Response:
    """The Threadline ontology: Turtle for machines, a readable page for browsers (``Accept`` with q-values,
    or ``format=turtle|html``); 406 when the client accepts neither."""
    try:
        media = choose_format(format, request.headers.get("accept"))
    except NotAcceptable as exc:
        return JSONResponse({"error": str(exc)}, status_code=406)
    if media == "text/html":
        return HTMLResponse(await run_in_threadpool(ontology_html), headers={"Vary": "Accept"})
    body = await run_in_threadpool(ontology_turtle)
    return PlainTextResponse(body, media_type="text/turtle", headers={"Vary": "Accept"})


@router.get("/ontology.ttl", include_in_schema=False)
async def ontology_ttl() -> Response:
    return PlainTextResponse(await run_in_threadpool(ontology_turtle), media_type="text/turtle")
