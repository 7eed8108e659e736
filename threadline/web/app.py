"""The app factory: one FastAPI app from the features' routers, the error handlers and the request layers.

Routes are declared on each feature's module-level ``router`` (``threadline.<feature>.routes``) and reach the
app's settings, store and query runner through ``threadline.web.deps``; ``routers`` lists them all. The store
is opened in the app's lifespan (not at import), so ``server:app`` can be imported by uvicorn, tests and tools
without side effects. Every store call runs in a worker thread: pyoxigraph releases the GIL, so a long query
never blocks the event loop and cheap requests stay fast while heavy ones run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from threadline import __version__, features, kpi
from threadline.auth import routes as tokens
from threadline.config import STATIC_DIR, Settings
from threadline.graphql_api import routes as graphql
from threadline.history import diff_routes as diffs
from threadline.history import routes as history
from threadline.ingest import open_recovered, recover
from threadline.ingest import routes as ingest
from threadline.observability import request_context
from threadline.observability import routes as operations
from threadline.ontology import routes as ontology
from threadline.queries import routes as named_queries
from threadline.records import routes as records
from threadline.shacl import routes as validation
from threadline.signatures import routes as signatures
from threadline.sparql import routes as sparql
from threadline.sparql.runner import Runner
from threadline.store import Store
from threadline.store import backup_routes as backups
from threadline.web import body_limit
from threadline.web import errors as web_errors
from threadline.web import openapi as openapi_doc
from threadline.web import routes as own


def routers(settings: Settings) -> list[APIRouter]:
    """Every route of the service, feature by feature, in the order they are matched."""
    return [
        own.router,  # /, /docs, /version, /stats
        ingest.router,  # /ingest/{system}
        tokens.router,  # /admin/tokens
        validation.router,  # /validate, /reports
        signatures.router,  # /signatures
        records.router,  # /records
        backups.router,  # /admin/backup
        history.router,  # /changes
        diffs.router,  # /diff
        graphql.router(settings),  # /graphql: its schema carries the settings' limits
        sparql.router,  # /sparql, /store
        named_queries.router,  # /queries
        operations.router,  # /livez, /readyz, /healthz, /metrics
        ontology.router,  # /ontology
    ]


def create_app(settings: Settings | None = None, store: Store | None = None) -> FastAPI:
    """Build the ASGI app; pass ``store`` to serve an already-open store (tests, demo)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = store is None
        if owned:
            app.state.store = await run_in_threadpool(open_recovered, None, settings)
        else:
            app.state.store = store
            await run_in_threadpool(recover, app.state.store)
        kpi.refresher.serve(app.state.store)
        start = bool(getattr(app.state, "start_query_workers", False))
        await run_in_threadpool(lambda: app.state.sparql_runner.prepare(app.state.store, start_workers=start))
        try:
            yield
        finally:
            await run_in_threadpool(app.state.sparql_runner.close)  # the query worker processes end here
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
        docs_url=None,  # served by web.routes from vendored Swagger UI: FastAPI's default page loads a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.sparql_runner = Runner(settings)  # shared by /sparql and /queries; started in the lifespan
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    web_errors.install(app, settings)  # the one place an exception becomes an answer
    for router in routers(settings):
        app.include_router(router)
    openapi_doc.install(app)
    body_limit.install(app, settings.max_request_bytes)
    features.install(settings, server=True)  # the hooks that watch every load: validation gate, KPI summaries
    request_context.install(app)  # outermost: every answer, a 500 included, gets a request id and an access line
    return app
