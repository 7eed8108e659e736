"""HTTP: ``POST /validate`` (a profile, or an uploaded shapes file), ``GET /reports`` (latest per profile) and
``GET /reports/view`` (a stored report as the HTML page).

Validating only reads; storing the report as evidence is a write, so it follows the rule of every other
HTTP write (the bearer write token): ``store_report`` defaults to "when the caller may write", and asking for
it explicitly without the right to write is refused.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from threadline.config import Settings

MEDIA = {"turtle": "text/turtle", "html": "text/html; charset=utf-8", "csv": "text/csv; charset=utf-8",
         "json": "application/json",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def register(app: FastAPI, settings: Settings) -> None:
    """Add the validation routes to ``app`` (call once)."""
    if getattr(app.state, "shacl_routes", False):
        return
    app.state.shacl_routes = True

    @app.post("/validate")
    async def validate(request: Request, profile: str | None = None, engine: str = "native", format: str = "json",
                       store_report: bool | None = None, shapes: UploadFile | None = None) -> Response:
        """Validate the store against ``profile`` (or an uploaded ``shapes`` file); returns the report."""
        from threadline.shacl import report, service
        from threadline.shacl.shapes import ShapesError

        if format not in MEDIA or engine not in service.ENGINES:
            raise HTTPException(422, f"format must be one of {sorted(MEDIA)} and engine native|pyshacl")
        if profile and shapes is not None:
            raise HTTPException(422, "give a profile or a shapes file, not both")
        may_write = _may_write(request, settings)
        if store_report and not may_write:
            _authorise(request, settings)  # raises the 401/403 every HTTP write gets
        store_report = may_write if store_report is None else store_report
        store = request.app.state.store
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
        outcome = await run_in_threadpool(service.validate, store, chosen, engine)
        headers = {"X-Conforms": str(outcome.conforms).lower(), "X-Result-Count": str(len(outcome.results))}
        if store_report:
            agent = request.headers.get("x-threadline-user") or "http"
            evidence = await run_in_threadpool(
                lambda: report.store_evidence(store, outcome, chosen, agent=agent))
            headers["X-Report-Graph"] = evidence.graph
        payload = await run_in_threadpool(service.render, outcome, chosen, format, store)
        return Response(payload, media_type=MEDIA[format], headers=headers)

    @app.get("/reports")
    async def reports(request: Request) -> dict[str, object]:
        """The newest stored report per profile."""
        from threadline.shacl.report import latest_reports

        latest = await run_in_threadpool(latest_reports, request.app.state.store)
        for item in latest:
            item["view"] = f"/reports/view?graph={item['graph']}"
        return {"reports": latest}

    @app.get("/reports/view", response_class=HTMLResponse)
    async def view(request: Request, graph: str) -> HTMLResponse:
        """A stored report as the printable HTML page."""
        from threadline.shacl.report import REPORT_GRAPH_PREFIX, stored_page

        if not graph.startswith(REPORT_GRAPH_PREFIX):
            raise HTTPException(404, "not a validation report graph")
        page = await run_in_threadpool(stored_page, request.app.state.store, graph, settings)
        if page is None:
            raise HTTPException(404, f"no stored report in {graph}")
        return HTMLResponse(page)


def _authorise(request: Request, settings: Settings) -> None:
    from threadline.app import _authorise_write

    _authorise_write(request, settings)


def _may_write(request: Request, settings: Settings) -> bool:
    try:
        _authorise(request, settings)
    except HTTPException:
        return False
    return True
