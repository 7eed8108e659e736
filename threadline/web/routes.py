"""The routes that belong to no feature: the home page, the API page (``/docs``), ``/version`` and ``/stats``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from threadline import __version__
from threadline.auth import Principal, require
from threadline.config import STATIC_DIR
from threadline.errors import Unavailable
from threadline.web import deps

Reader = Annotated[Principal, Depends(require("reader"))]
router = APIRouter()


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def home() -> str:
    from threadline.web.pages import home_page

    return home_page()


@router.get("/docs", include_in_schema=False)
async def api_docs() -> HTMLResponse:
    """Swagger UI from the vendored swagger-ui-dist (fetched at set-up), with no online validator."""
    if not (STATIC_DIR / "vendor" / "swagger-ui-dist" / "swagger-ui-bundle.js").is_file():
        raise Unavailable("Swagger UI assets are missing: run `python -m threadline.web.vendor`")
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Threadline API",
        swagger_js_url="/static/vendor/swagger-ui-dist/swagger-ui-bundle.js",
        swagger_css_url="/static/vendor/swagger-ui-dist/swagger-ui.css",
        swagger_favicon_url="/static/favicon.svg",
        swagger_ui_parameters={"validatorUrl": None},
    )


@router.get("/version")
async def version() -> dict[str, str]:
    import pyoxigraph

    return {"threadline": __version__, "pyoxigraph": pyoxigraph.__version__}


@router.get("/stats")
async def stats(principal: Reader, store: deps.Store) -> dict[str, Any]:
    """Triples per named graph the caller may read."""
    result = await run_in_threadpool(store.stats)
    graphs = {g: n for g, n in result.graphs.items() if principal.may_read_graph(g)}
    return {"triples": sum(graphs.values()), "graphs": graphs}
