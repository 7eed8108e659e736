"""HTTP routes of the ontology: ``/ontology`` (Turtle for machines, a readable page for browsers) and
``/ontology.ttl``.

Which answer ``/ontology`` gives is chosen by ``choose_format``: the ``format`` parameter, else the client's
``Accept`` with its q-values (the one negotiation of the app, ``sparql.negotiation.best``), Turtle when the
client has no preference.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from threadline.errors import UnknownFormat
from threadline.ontology import ontology_turtle
from threadline.ontology.page import ontology_html
from threadline.sparql.negotiation import NotAcceptable, best

TURTLE, HTML = "text/turtle", "text/html"
FORMATS = {"turtle": TURTLE, "ttl": TURTLE, "html": HTML}
router = APIRouter(tags=["ontology"])


def choose_format(format: str | None, accept: str | None) -> str:
    """``text/turtle`` or ``text/html``; ``UnknownFormat`` for another ``format``, ``NotAcceptable`` when
    ``Accept`` admits neither."""
    if format:
        if format.strip().lower() not in FORMATS:
            raise UnknownFormat(f"format {format!r} is not offered here: use one of {', '.join(FORMATS)}")
        return FORMATS[format.strip().lower()]
    return best(accept, [TURTLE, HTML], {TURTLE: ["application/x-turtle", "text/n3"]})


@router.get("/ontology", responses={200: {"content": {"text/turtle": {}, "text/html": {}}}})
async def ontology(request: Request, format: str | None = None) -> Response:
    """The Threadline ontology: Turtle for machines, a readable page for browsers (``Accept`` with q-values,
    or ``format=turtle|html``); 406 when the client accepts neither."""
    try:
        media = choose_format(format, request.headers.get("accept"))
    except NotAcceptable as exc:
        return JSONResponse({"error": str(exc)}, status_code=406)
    if media == HTML:
        return HTMLResponse(await run_in_threadpool(ontology_html), headers={"Vary": "Accept"})
    body = await run_in_threadpool(ontology_turtle)
    return PlainTextResponse(body, media_type="text/turtle", headers={"Vary": "Accept"})


@router.get("/ontology.ttl", include_in_schema=False)
async def ontology_ttl() -> Response:
    return PlainTextResponse(await run_in_threadpool(ontology_turtle), media_type="text/turtle")
