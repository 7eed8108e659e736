"""HTTP: ``POST /validate`` (a profile, or an uploaded shapes file), ``GET /reports`` (latest per profile) and
``GET /reports/view`` (a stored report as the HTML page).

Validating needs the ``reader`` role and sees only the graphs the caller may read (a scoped token validates
its graphs only, so a report never shows data the caller could not query). Storing the report as evidence
needs ``compliance``: ``store_report`` defaults to "when the caller holds it", and asking for it explicitly
without it is refused (403). The evidence names the caller's token as the PROV agent. ``asOf`` validates the store
as it stood at a past instant (``threadline.history.asof``), cut to the graphs the caller may read of that time; such
a report is never stored as evidence (the evidence graph would describe a state that is no longer the store's).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, UploadFile
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from threadline.auth import Principal, require
from threadline.errors import Forbidden, InvalidRequest, NotFound
from threadline.history import asof
from threadline.shacl.shapes import Shapes
from threadline.store import Store
from threadline.web import deps

AS_OF_HEADER = asof.HEADER
AS_OF_DOC = (
    "Validate the store as it stood at this instant (xsd:dateTime with its zone, or a change id; also the "
    "X-Threadline-As-Of header): the report names the change it resolved to, its time and the data state. "
    "Embedded on-disk store only (else 501)."
)

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
    runner: deps.Runner,
    profile: str | None = None,
    engine: str = "native",
    format: str = "json",
    store_report: bool | None = None,
    shapes: UploadFile | None = None,
    as_of: Annotated[str | None, Query(alias="asOf", description=AS_OF_DOC)] = None,
    as_of_header: Annotated[str | None, Header(alias=AS_OF_HEADER, description="The same as asOf.")] = None,
) -> Response:
    """Validate the store against ``profile`` (or an uploaded ``shapes`` file); returns the report. With
    ``asOf``, the store as it stood then ("did it conform then?"), stated in the report and its headers."""
    from threadline.shacl import service

    if format not in MEDIA or engine not in service.ENGINES:
        raise InvalidRequest(f"format must be one of {sorted(MEDIA)} and engine native|pyshacl")
    if profile and shapes is not None:
        raise InvalidRequest("give a profile or a shapes file, not both")
    wanted = asof.asked(as_of, as_of_header)
    may_store = principal.allows("compliance")
    if store_report and not may_store:
        raise Forbidden(
            f"storing a validation report needs role 'compliance'; {principal.actor} "
            f"has {principal.role!r} (validate with store_report=false)",
        )
    if store_report and wanted is not None:
        raise InvalidRequest("a report of a past state is not stored as evidence: validate with store_report=false")
    store_report = (may_store and wanted is None) if store_report is None else store_report
    chosen = await _shapes(settings, profile, shapes)
    if wanted is None:
        return await _validated(principal, store, store, chosen, engine, format, store_report=store_report)
    instant, state = await run_in_threadpool(asof.open_state, store, wanted)
    try:
        stamp = await run_in_threadpool(service.as_of, instant, state)
        return await _validated(principal, store, state, chosen, engine, format, stamp=stamp)
    finally:
        await run_in_threadpool(state.close)
        await run_in_threadpool(runner.collect_states, store)


async def _shapes(settings: Any, profile: str | None, shapes: UploadFile | None) -> Shapes:
    from threadline.shacl import service
    from threadline.shacl.shapes import ShapesError

    with tempfile.TemporaryDirectory(prefix="threadline-shapes-") as tmp:
        paths = None
        if shapes is not None:
            name = Path(shapes.filename or "shapes.ttl").name or "shapes.ttl"
            path = Path(tmp) / name
            path.write_bytes(await shapes.read())
            paths = [path]
        try:
            return await run_in_threadpool(service.choose_shapes, settings, profile, paths)
        except ShapesError as exc:  # name the file as the client sent it, not our temporary path
            raise ShapesError(str(exc).replace(str(Path(tmp)) + "/", "")) from exc


async def _validated(
    principal: Principal,
    store: Store,
    data: Store,
    chosen: Shapes,
    engine: str,
    format: str,
    *,
    store_report: bool = False,
    stamp: dict[str, object] | None = None,
) -> Response:
    """The report of ``data`` (the store, or its state at ``stamp``) as the caller may read it."""
    from threadline.shacl import report, service

    view = await run_in_threadpool(_view, data, principal)
    outcome = await run_in_threadpool(service.validate, data, chosen, engine, view)
    headers = {"X-Conforms": str(outcome.conforms).lower(), "X-Result-Count": str(len(outcome.results))}
    if stamp is not None:
        headers |= {AS_OF_HEADER: str(stamp["time"]), "X-Threadline-Change": str(stamp["change"])}
        headers["X-Threadline-Data-State"] = str(stamp["dataState"])
    if store_report:
        agent = principal.actor
        evidence = await run_in_threadpool(lambda: report.store_evidence(store, outcome, chosen, agent=agent))
        headers["X-Report-Graph"] = evidence.graph
    payload = await run_in_threadpool(lambda: service.render(outcome, chosen, format, data, stamp=stamp))
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
