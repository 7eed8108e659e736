"""What the server's state looks like at scrape time: store, query workers, snapshots, KPI summary, sandbox.

Counters live where the work happens (``threadline.observability.metrics``); these gauges are read from the
app when ``/metrics`` is asked, so they are never stale and cost nothing between scrapes. Each probe that
touches the store is guarded: a store that does not answer shows as ``threadline_store_up 0``, and the
scrape still succeeds (a monitoring system must be able to see an outage).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from threadline import __version__
from threadline.errors import StoreError
from threadline.observability.metrics import REGISTRY

log = logging.getLogger(__name__)


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
        from threadline.store import sandbox

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
        from threadline import kpi

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
