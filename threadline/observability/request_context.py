"""The outermost ASGI layer: a request id for every request, one access log line and the request metrics.

It wraps the whole middleware stack (``install`` replaces ``build_middleware_stack``), outside Starlette's
``ServerErrorMiddleware``, so a request that ends in a 500 still gets its id echoed, its access line and its
count, and the traceback is logged once, with the request id, here (uvicorn would log it without one).

Routes are labelled by their template (``/queries/{name}``), never the raw path: a path can carry anything a
client typed (IRIs, secrets pasted by mistake) and unbounded label values would swamp the metrics. The query
string is never logged. A request no route matched is labelled ``<unmatched>``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from threadline.observability import metrics
from threadline.observability.logs import REQUEST_ID, request_id_from

access = logging.getLogger("threadline.access")
errors = logging.getLogger("threadline.errors")
UNMATCHED = "<unmatched>"


def route_of(scope: Scope) -> str:
    """The template of the route that answered. Starlette's router records the route in the scope; a route
    of a router included with a prefix (``/graphql``) is recorded as its router declared it (path ``""``),
    so FastAPI's record of the effective route, prefix included, comes first: its ``path`` as declared
    (``/store/{rest:path}``, as a route of the app itself is recorded), else its ``path_format``."""
    fastapi_scope = scope.get("fastapi")
    effective = fastapi_scope.get("effective_route_context") if isinstance(fastapi_scope, dict) else None
    path = (
        getattr(effective, "path", None)
        or getattr(getattr(effective, "starlette_route", None), "path_format", None)
        or getattr(effective, "path_format", None)
    )
    if not path:
        path = getattr(scope.get("route"), "path", None)
    return str(path) if path else UNMATCHED


class RequestContext:
    """ASGI middleware: request id in and out, access line, request counters and latency histogram."""

    def __init__(self, app: ASGIApp, routes: Any = ()) -> None:
        self.app = app
        self.routes = routes  # the app's routes: mounts (``/static``) leave no route in the scope

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-request-id"), None)
        request_id = request_id_from(header)
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        answer: dict[str, Any] = {"status": 500, "started": False}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer.update(status=message["status"], started=True)
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, (b"x-request-id", request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            errors.exception("request failed with an unhandled error", extra={"route": route_of(scope)})
            if not answer["started"]:
                raise  # nothing was answered: let the server close the connection
        finally:
            self._record(scope, self._route(scope), int(answer["status"]), time.perf_counter() - started)
            REQUEST_ID.reset(token)

    def _route(self, scope: Scope) -> str:
        route = route_of(scope)
        if route == UNMATCHED:
            path = scope.get("path", "")
            for mount in self.routes:
                if isinstance(mount, Mount) and path.startswith(mount.path.rstrip("/") + "/"):
                    return mount.path + "/{path}"
        return route

    @staticmethod
    def _record(scope: Scope, route: str, status: int, seconds: float) -> None:
        method = scope.get("method", "-")
        metrics.HTTP_REQUESTS.labels(method, route, str(status)).inc()
        metrics.HTTP_SECONDS.labels(method, route, str(status)).observe(seconds)
        access.info(
            "%s %s %d %.1f ms",
            method,
            route,
            status,
            seconds * 1000,
            extra={"method": method, "route": route, "status": status, "duration_ms": round(seconds * 1000, 2)},
        )


def install(app: Any) -> None:
    """Make ``RequestContext`` the outermost layer of ``app`` (a FastAPI/Starlette app)."""
    build = app.build_middleware_stack

    def build_with_context() -> ASGIApp:
        return RequestContext(build(), app.router.routes)

    app.build_middleware_stack = build_with_context
