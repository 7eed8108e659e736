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

What the server's state looks like at scrape time (store, query workers, snapshots, KPI summary, sandbox) is
read here too (``ServerState``): counters live where the work happens (``threadline.observability.metrics``);
these gauges are read from the app when ``/metrics`` is asked, so they are never stale and cost nothing between
scrapes. Each probe that touches the store is guarded: a store that does not answer shows as
``threadline_store_up 0``, and the scrape still succeeds (a monitoring system must be able to see an outage).
They are read from the app, its store and the KPI summary, so they belong with the routes, above every feature
(docs/architecture.md), not with the counters the features import.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool

from threadline import __version__, kpi
from threadline.auth import require
from threadline.errors import StoreError
from threadline.observability.metrics import REGISTRY
from threadline.store import sandbox

log = logging.getLogger(__name__)
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


# -- the server's state at scrape time ----------------------------------------------------------------


def gauge(name: str, text: str, value: float, **labels: str) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, text, labels=list(labels))
    family.add_metric(list(labels.values()), value)
    return family


def store_up(store: Any) -> bool:
    try:
        store.ask("ASK { }")
        return True
    except StoreError:
        return False


def folder_bytes(path: Path) -> int:
    """Bytes of the files under ``path`` (RocksDB keeps a few hundred files: a walk is cheap)."""
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(folder, name)).st_size
            except OSError:  # compaction removed it meanwhile
                continue
    return total


class ServerState(Collector):
    """Gauges read from one app's state."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        yield gauge("threadline_build_info", "Threadline version serving.", 1, version=__version__)
        yield gauge(
            "threadline_sandbox_confined",
            "1 when SPARQL engine threads run without network.",
            1 if sandbox.status() == "confined" else 0,
        )
        store = getattr(self.app.state, "store", None)
        up = store is not None and store_up(store)
        yield gauge("threadline_store_up", "1 when the store answers a query.", 1 if up else 0)
        path = getattr(store, "path", None)
        if path is not None:
            yield gauge(
                "threadline_store_bytes",
                "Bytes the on-disk store takes (snapshots excluded).",
                folder_bytes(Path(path)),
            )
        yield from self._workers()
        if up:
            yield from self._kpi(store)

    def _workers(self) -> Iterator[Metric]:
        runner = getattr(self.app.state, "sparql_runner", None)
        if runner is None:
            return
        pool = runner.pool_state()
        if pool is not None:
            yield gauge("threadline_query_workers", "Live query worker processes.", pool[0])
            yield gauge("threadline_query_workers_busy", "Query worker processes running a query.", pool[1])
        snapshots = runner.published()
        if snapshots is not None and snapshots.published_at is not None:
            yield gauge(
                "threadline_snapshot_age_seconds",
                "Seconds since the snapshot queries read was published.",
                time.time() - snapshots.published_at,
            )
            yield gauge(
                "threadline_snapshot_behind",
                "1 when the store changed since that snapshot (the next query publishes a fresh one).",
                1 if snapshots.behind() else 0,
            )

    def _kpi(self, store: Any) -> Iterator[Metric]:
        try:
            fresh, refreshed = kpi.fresh(store), kpi.refreshed_at(store)
        except StoreError as exc:
            log.warning("could not read the KPI summary state for metrics: %s", exc)
            return
        yield gauge(
            "threadline_kpi_summary_fresh", "1 when the KPI summary reflects the latest write.", 1 if fresh else 0
        )
        yield gauge(
            "threadline_kpi_refresh_running", "1 while a background KPI refresh runs.", 1 if kpi.refresher.busy() else 0
        )
        if refreshed is not None:
            when = dt.datetime.fromisoformat(refreshed.replace("Z", "+00:00"))
            yield gauge(
                "threadline_kpi_summary_age_seconds",
                "Seconds since the KPI summary was computed.",
                (dt.datetime.now(dt.UTC) - when).total_seconds(),
            )


def exposition(app: Any) -> bytes:
    """The Prometheus text exposition: this process's counters, then the app's state."""
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(ServerState(app))
    return generate_latest(REGISTRY) + generate_latest(scrape)
