"""``/livez``, ``/readyz``, ``/metrics`` and the deprecated ``/healthz``: one router.

Liveness and readiness are separate questions for an orchestrator: ``/livez`` only shows that the process
answers (restart it when it does not), ``/readyz`` that the store and the query worker pool are usable (stop
sending traffic while they are not, without restarting a healthy process because its remote store is down).
Neither says anything about the configuration: no store URL, no error text, no versions; they are anonymous.

``/healthz`` was all of these at once and showed the store URL and the sandbox status to anyone. It stays for
the clients and scripts that poll it, answering exactly as ``/readyz`` does with the body it always had on
success (``{"status": "ok"}``), marked deprecated (``Deprecation`` header, OpenAPI ``deprecated``); the
sandbox status moved to ``/metrics`` (``threadline_sandbox_confined``).

``/metrics`` is for an admin token or the dedicated ``THREADLINE_METRICS_TOKEN``, which grants nothing else.
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool

from threadline.auth import require
from threadline.observability.state import exposition, store_up

router = APIRouter(tags=["operations"])
READY: dict[int | str, dict[str, Any]] = {
    200: {"description": "Ready"},
    503: {"description": "Not ready: the store or the query workers are not usable"},
}


def checks(app: Any) -> dict[str, str]:
    """``ok`` / ``failed`` per dependency (``not started``: the worker pool starts with the first query)."""
    store = getattr(app.state, "store", None)
    result = {"store": "ok" if store is not None and store_up(store) else "failed"}
    runner = getattr(app.state, "sparql_runner", None)
    pool = runner.pool_state() if runner is not None else None
    result["queryWorkers"] = "not started" if pool is None else ("ok" if pool[0] > 0 else "failed")
    return result


async def readiness(request: Request) -> tuple[bool, dict[str, str]]:
    found = await run_in_threadpool(checks, request.app)
    return all(state != "failed" for state in found.values()), found


async def metrics_reader(request: Request) -> None:
    """Admit the metrics token, else whatever ``require("admin")`` admits (and refuse as it refuses)."""
    token = getattr(request.app.state.settings, "metrics_token", None)
    scheme, _, bearer = (request.headers.get("authorization") or "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(bearer.strip().encode(), str(token).encode()):
        return
    await require("admin")(request)


@router.get("/livez", responses={200: {"description": "The process answers"}})
async def livez() -> dict[str, str]:
    """Liveness: the process answers HTTP. Touches nothing else (a slow or absent store does not fail it)."""
    return {"status": "alive"}


@router.get("/readyz", responses=READY)
async def readyz(request: Request) -> JSONResponse:
    """Readiness: the store answers a query and the query worker pool has live workers; 503 otherwise."""
    ready, found = await readiness(request)
    if ready:
        return JSONResponse({"status": "ready", "checks": found})
    return JSONResponse({"status": "unready", "error": "not ready", "checks": found}, status_code=503)


@router.get("/healthz", deprecated=True, responses=READY)
async def healthz(request: Request) -> JSONResponse:
    """Deprecated: use ``/readyz`` (same answer) and ``/livez``. Kept for clients that poll it."""
    headers = {"Deprecation": "true", "Link": '</readyz>; rel="successor-version"'}
    ready, _ = await readiness(request)
    if ready:
        return JSONResponse({"status": "ok"}, headers=headers)
    return JSONResponse({"status": "unready", "error": "not ready"}, status_code=503, headers=headers)


@router.get(
    "/metrics",
    dependencies=[Depends(metrics_reader)],
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request) -> Response:
    """Prometheus text format: this server process's requests, loads, gate verdicts, query workers, snapshot
    and KPI summary age, store size (admin, or the ``THREADLINE_METRICS_TOKEN`` bearer)."""
    body = await run_in_threadpool(exposition, request.app)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
