"""The GraphQL API and our offline GraphiQL page at ``/graphql``: one router per app.

Unlike the other features' routers, this one cannot be a module-level object: strawberry's router is built
around a schema, and the schema carries the app's request limits (``build_schema(settings)``), as the IDE
switch does. So ``router(settings)`` builds it, and ``create_app`` includes it with the others; the context
getter is module-level and reads the store and settings from the app, like every other route.

Resolvers run on the event loop and await every store call in a worker thread (``Loaders.select``), so a
slow trace never blocks other requests. The IDE page is ours (``ide.page``), served with vendored assets;
strawberry's default page would load them from a CDN.
"""

from __future__ import annotations

import json
from typing import Any, overload

from cross_web import HTTPException  # what strawberry raises and answers as a status
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.websockets import WebSocket
from strawberry.fastapi import GraphQLRouter
from strawberry.types.unset import UNSET

from threadline.auth import require
from threadline.graphql_api import ide
from threadline.graphql_api.context import GraphQLContext
from threadline.graphql_api.schema import build_schema
from threadline.store.scoped import view_for

PATH = "/graphql"


IDE_OFFERED = ["text/html", "application/graphql-response+json", "application/json"]


def renders_ide(request: Request) -> bool:
    """Whether this request gets the explorer page (which needs no token) rather than a GraphQL answer: a GET
    without a ``query`` whose ``Accept`` prefers HTML by q-value (``*/*`` too, as strawberry always did). The
    router and the context decide by this one test, so a query is never run without the token check."""
    from threadline.sparql.negotiation import NotAcceptable, best

    if request.method != "GET" or request.query_params.get("query") is not None:
        return False
    accept = request.headers.get("accept")
    if not accept or not accept.strip():
        return False
    try:
        return best(accept, IDE_OFFERED) == "text/html"
    except NotAcceptable:
        return False


class ThreadlineGraphQLRouter(GraphQLRouter):
    """Strawberry's router with our IDE page in place of the CDN-loading default.

    ``decode_json`` refuses what strawberry would crash on (500): a body that is JSON but not an object (it
    calls ``.get`` on it), nesting past the parser's recursion limit, an integer of more digits than Python
    converts. Each becomes a 400 that says what is wrong, in the JSON error body every route answers.
    """

    def should_render_graphql_ide(self, request: Request) -> bool:  # type: ignore[override]  # strawberry types the request as its own adapter; FastAPI gives a Request
        return renders_ide(request)

    @overload
    async def run(self, request: Request, context: Any = UNSET, root_value: Any = UNSET) -> Response: ...

    @overload
    async def run(self, request: WebSocket, context: Any = UNSET, root_value: Any = UNSET) -> WebSocket: ...

    async def run(
        self, request: Request | WebSocket, context: Any = UNSET, root_value: Any = UNSET
    ) -> Response | WebSocket:
        """Strawberry answers a request it cannot read (not JSON, no query, wrong content type) in plain text:
        raised as the app's own ``HTTPException`` instead, it is answered like every other error
        (``threadline.web.errors``). Errors of a readable request stay in the GraphQL ``errors`` array."""
        try:
            return await super().run(request, context, root_value)
        except HTTPException as exc:
            raise StarletteHTTPException(exc.status_code, exc.reason) from None

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(ide.page(PATH))

    def decode_json(self, data: str | bytes) -> object:
        try:
            value = json.loads(data)
        except json.JSONDecodeError:
            raise
        except RecursionError:
            raise HTTPException(400, "the JSON request is nested too deeply") from None
        except ValueError as exc:
            raise HTTPException(400, f"the JSON request cannot be read: {exc}") from None
        if not isinstance(value, dict | list):
            raise HTTPException(400, f"the JSON request must be an object, not a {type(value).__name__}")
        return value


async def context(request: Request) -> GraphQLContext:
    """Every operation needs the reader role; a scoped token sees only its graphs (as they were then, for an
    as-of request: ``GraphQLContext.read_as_of``)."""
    base, settings = request.app.state.store, request.app.state.settings
    if renders_ide(request):
        return GraphQLContext(base, settings)  # the explorer page itself: no data
    principal = await require("reader")(request)
    store = base
    if not principal.is_admin:
        store = await run_in_threadpool(lambda: view_for(base, principal, thread_vocabulary_only=True))
    runner = request.app.state.sparql_runner  # it knows which states the query workers hold open
    return GraphQLContext(
        store,
        settings,
        audit_reader=principal.allows("compliance"),
        principal=principal,
        base=base,
        collect=lambda: runner.collect_states(base),
    )


def router(settings: Any) -> APIRouter:
    """The API at ``PATH`` with ``settings``' limits (and, unless ``graphql_ide`` is false, the explorer)."""
    api = ThreadlineGraphQLRouter(
        build_schema(settings),
        context_getter=context,
        graphql_ide="graphiql" if getattr(settings, "graphql_ide", True) else None,
        allow_queries_via_get=True,
    )
    mounted = APIRouter()
    mounted.include_router(api, prefix=PATH, include_in_schema=False)
    return mounted
