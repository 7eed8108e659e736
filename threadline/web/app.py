"""The HTTP layer: the only module that speaks HTTP.

The store is opened in the app's lifespan (not at import), so ``server:app`` can be imported by uvicorn, tests
and tools without side effects. Every store call runs in a worker thread: pyoxigraph releases the GIL, so a
long query never blocks the event loop and cheap requests stay fast while heavy ones run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from threadline import __version__
from threadline.auth import Principal, require
from threadline.config import Settings
from threadline.errors import (
    EngineLimit,
    IngestError,
    InsufficientSpace,
    QueryError,
    SourceError,
    StoreError,
    ThreadlineError,
)
from threadline.ingest import routes as ingest_routes
from threadline.observability import request_context
from threadline.observability import routes as observability_routes
from threadline.ontology import routes as ontology_routes
from threadline.store import Store
from threadline.web import body_limit
from threadline.web import openapi as openapi_doc
from threadline.web.errors import public

Reader = Annotated[Principal, Depends(require("reader"))]
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def create_app(settings: Settings | None = None, store: Store | None = None) -> FastAPI:
    """Build the ASGI app; pass ``store`` to serve an already-open store (tests, demo)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from threadline.ingest import open_recovered, recover

        owned = store is None
        if owned:
            app.state.store = await run_in_threadpool(open_recovered, None, settings)
        else:
            app.state.store = store
            await run_in_threadpool(recover, store)
        from threadline import kpi

        kpi.refresher.serve(app.state.store)
        yield
        kpi.refresher.release(app.state.store)
        # a refresh still running is abandoned at exit: it writes in one update (or a staging graph that
        # recover() drops), so no half-summary is left behind
        await run_in_threadpool(kpi.refresher.wait, 5.0)
        if owned:
            await run_in_threadpool(app.state.store.close)

    app = FastAPI(
        title="Threadline",
        version=__version__,
        description="Knowledge-graph digital thread for manufacturing.",
        lifespan=lifespan,
        docs_url=None,  # served below from vendored Swagger UI: FastAPI's default page loads a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    _errors(app, settings)
    _routes(app, settings)
    ingest_routes.register(app, settings)
    openapi_doc.install(app)
    body_limit.install(app, settings.max_request_bytes)
    _features(app, settings)
    app.include_router(observability_routes.router)
    app.include_router(ontology_routes.router)
    request_context.install(app)  # outermost: every answer, a 500 included, gets a request id and an access line
    return app


def _features(app: FastAPI, settings: Settings) -> None:
    """Routes that live with their feature's package, and the hooks that watch every load."""
    from threadline import features
    from threadline.auth import routes as admin
    from threadline.graphql_api import routes as graphql
    from threadline.queries import routes as named_queries
    from threadline.shacl import routes as validation
    from threadline.signatures import routes as signatures
    from threadline.sparql import register as sparql
    from threadline.store import backup_routes as backups

    features.install(settings, server=True)
    admin.register(app, settings)
    validation.register(app, settings)
    signatures.register(app, settings)
    backups.register(app, settings)
    graphql.register(app, settings)
    sparql(app, settings)
    named_queries.register(app)  # after sparql: it runs through the endpoint's runner


def _errors(app: FastAPI, settings: Settings) -> None:
    @app.exception_handler(SourceError)
    async def source_error(_: Request, exc: SourceError) -> JSONResponse:
        # Uploads live in a temporary folder: name the file as the client sent it, not our path.
        name = Path(exc.file).name if exc.file else None
        where = ", ".join(p for p in (name, exc.locator, f"field {exc.field!r}" if exc.field else None) if p)
        reason = public(exc.reason, settings)
        detail = {"error": f"{where}: {reason}", "file": name, "locator": exc.locator, "field": exc.field}
        return JSONResponse(detail, status_code=422)

    @app.exception_handler(InsufficientSpace)
    async def insufficient_space(_: Request, exc: InsufficientSpace) -> JSONResponse:
        # the server's disk, not the request, is at fault: 507, and the client may retry once space is freed
        body = {"error": public(str(exc), settings), "needed": exc.needed, "free": exc.free}
        return JSONResponse(body, status_code=507)

    @app.exception_handler(IngestError)
    async def ingest_error(_: Request, exc: IngestError) -> JSONResponse:
        # a load the validation gate rejects answers with its report, so the caller can act on it
        body = exc.report_json() if hasattr(exc, "report_json") else {"error": public(str(exc), settings)}
        return JSONResponse(body, status_code=422)

    @app.exception_handler(QueryError)
    async def query_error(_: Request, exc: QueryError) -> JSONResponse:
        return JSONResponse({"error": public(str(exc), settings), "position": exc.position}, status_code=400)

    @app.exception_handler(EngineLimit)
    async def engine_limit(_: Request, exc: EngineLimit) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=501)

    @app.exception_handler(StoreError)
    async def store_error(_: Request, exc: StoreError) -> JSONResponse:
        message = str(exc) if settings.debug else "the store could not complete the request"
        return JSONResponse({"error": message}, status_code=503)

    @app.exception_handler(ThreadlineError)
    async def other_error(_: Request, exc: ThreadlineError) -> JSONResponse:
        return JSONResponse({"error": public(str(exc), settings)}, status_code=400)


def _routes(app: FastAPI, settings: Settings) -> None:
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def home() -> str:
        from threadline.web.pages import home_page

        return home_page()

    @app.get("/docs", include_in_schema=False)
    async def api_docs() -> HTMLResponse:
        """Swagger UI from the vendored swagger-ui-dist (fetched at set-up), with no online validator."""
        if not (STATIC_DIR / "vendor" / "swagger-ui-dist" / "swagger-ui-bundle.js").is_file():
            raise HTTPException(503, "Swagger UI assets are missing: run `python -m threadline.web.vendor`")
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Threadline API",
            swagger_js_url="/static/vendor/swagger-ui-dist/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui-dist/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/version")
    async def version() -> dict[str, str]:
        import pyoxigraph

        return {"threadline": __version__, "pyoxigraph": pyoxigraph.__version__}

    @app.get("/stats")
    async def stats(request: Request, principal: Reader) -> dict[str, Any]:
        """Triples per named graph the caller may read."""
        result = await run_in_threadpool(request.app.state.store.stats)
        graphs = {g: n for g, n in result.graphs.items() if principal.may_read_graph(g)}
        return {"triples": sum(graphs.values()), "graphs": graphs}
