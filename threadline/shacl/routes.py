"""HTTP: ``POST /validate`` (a profile, or an uploaded shapes file), ``GET /reports`` (latest per profile) and
``GET /reports/view`` (a stored report as the HTML page).

Validating needs the ``reader`` role and sees only the graphs the caller may read (a scoped token validates
its graphs only, so a report never shows data the caller could not query). Storing the report as evidence
needs ``compliance``: ``store_report`` defaults to "when the caller holds it", and asking for it explicitly
without it is refused (403). The evidence names the caller's token as the PROV agent.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, UploadFile
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from threadline.auth import Principal, require
from threadline.errors import Forbidden, InvalidRequest, NotFound
from threadline.store import Store
from threadline.web import deps

Reader = Annotated[Principal, Depends(require("reader"))]
router = APIRouter()

MEDIA = {
    "turtle": "text/turtle",
    "html": "text/html; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@router.post("/validate")
async def validate(
    principal: Reader,
    store: deps.Store,
    settings: deps.Settings,
    profile: str | None = None,
    engine: str = "native",
    format: str = "json",
    store_report: bool | None = None,
    shapes: UploadFile | None = None,
) -> Response:
    """Validate the store against ``profile`` (or an uploaded ``shapes`` file); returns the report."""
    from threadline.shacl import report, service
    from threadline.shacl.shapes import ShapesError

    if format not in MEDIA or engine not in service.ENGINES:
        raise InvalidRequest(f"format must be one of {sorted(MEDIA)} and engine native|pyshacl")
    if profile and shapes is not None:
        raise InvalidRequest("give a profile or a shapes file, not both")
    may_store = principal.allows("compliance")
    if store_report and not may_store:
        raise Forbidden(
            f"storing a validation report needs role 'compliance'; {principal.actor} "
            f"has {principal.role!r} (validate with store_report=false)",
        )
    store_report = may_store if store_report is None else store_report
    view = await run_in_threadpool(_view, store, principal)
    with tempfile.TemporaryDirectory(prefix="threadline-shapes-") as tmp:
        paths = None
        if shapes is not None:
            name = Path(shapes.filename or "shapes.ttl").name or "shapes.ttl"
            path = Path(tmp) / name
            path.write_bytes(await shapes.read())
            paths = [path]
        try:
            chosen = await run_in_threadpool(service.choose_shapes, settings, profile, paths)
        except ShapesError as exc:  # name the file as the client sent it, not our temporary path
            raise ShapesError(str(exc).replace(str(Path(tmp)) + "/", "")) from exc
    outcome = await run_in_threadpool(service.validate, store, chosen, engine, view)
    headers = {"X-Conforms": str(outcome.conforms).lower(), "X-Result-Count": str(len(outcome.results))}
    if store_report:
        agent = principal.actor
        evidence = await run_in_threadpool(lambda: report.store_evidence(store, outcome, chosen, agent=agent))
        headers["X-Report-Graph"] = evidence.graph
    payload = await run_in_threadpool(service.render, outcome, chosen, format, store)
    return Response(payload, media_type=MEDIA[format], headers=headers)


@router.get("/reports")
async def reports(principal: Reader, store: deps.Store) -> dict[str, object]:
    """The newest stored report per profile (among the report graphs the caller may read)."""
    from threadline.shacl.report import latest_reports

    latest = await run_in_threadpool(latest_reports, store, principal.may_read_graph)
    for item in latest:
        item["view"] = f"/reports/view?graph={item['graph']}"
    return {"reports": latest}


@router.get("/reports/view", response_class=HTMLResponse)
async def view(principal: Reader, graph: str, store: deps.Store, settings: deps.Settings) -> HTMLResponse:
    """A stored report as the printable HTML page."""
    from threadline.shacl.report import REPORT_GRAPH_PREFIX, stored_page

    if not graph.startswith(REPORT_GRAPH_PREFIX) or not principal.may_read_graph(graph):
        raise NotFound("not a validation report graph")
    page = await run_in_threadpool(stored_page, store, graph, settings)
    if page is None:
        raise NotFound(f"no stored report in {graph}")
    return HTMLResponse(page)


def _view(store: Store, principal: Principal) -> list[str] | None:
    """The graphs the caller may read, as a default-graph list; None (the union) when that is all of them."""
    graphs = store.graphs()
    visible = principal.visible_graphs(graphs)
    return None if len(visible) == len(graphs) else visible
