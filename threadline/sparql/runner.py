"""The app's query runner: one executor (worker processes for the on-disk store) shared by ``/sparql`` and the
named queries, so both get the same time and row limits.

One runner per app, made by ``create_app`` and held in ``app.state.sparql_runner``; the app's lifespan
``prepare``s it once the store is open and ``close``s it at shutdown (the worker processes end with it). The
executor itself is made on first use unless ``prepare`` is asked to start the workers (``threadline serve``).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import uuid
from pathlib import Path

from starlette.concurrency import run_in_threadpool

from threadline.config import Settings
from threadline.sparql import negotiation as neg
from threadline.sparql.execution import Answer, Job
from threadline.sparql.worker import Executor, ProcessExecutor, executor_for
from threadline.store import EmbeddedStore, Store
from threadline.store.snapshots import Snapshots

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_ROWS = 100_000
DEFAULT_WORKERS = 2


def limits(settings: Settings) -> tuple[float, int, int]:
    """(time limit in s, row limit, worker processes), read so that code works before the settings exist."""
    return (
        float(getattr(settings, "sparql_timeout", DEFAULT_TIMEOUT)),
        int(getattr(settings, "sparql_max_rows", DEFAULT_MAX_ROWS)),
        int(getattr(settings, "sparql_workers", DEFAULT_WORKERS)),
    )


class Runner:
    """Owns the app's query executor, created on first use (the store is opened in the app's lifespan)."""

    def __init__(self, settings: Settings) -> None:
        self.timeout, self.max_rows, self.workers = limits(settings)
        self.keep_states: int | None = getattr(settings, "asof_cache_states", None)
        self._executor: Executor | None = None
        self._snapshots: Snapshots | None = None
        self._lock = threading.Lock()
        self._spool_base: Path | None = getattr(settings, "staging_dir", None)
        self._spools: Path | None = None

    def prepare(self, store: Store, *, start_workers: bool = False) -> None:
        """At start-up, publish the first snapshot of an on-disk store: made later, by the first query, it
        would have to wait for any load staging then (the only time a query waits for a load). With
        ``start_workers`` (``threadline serve``) the worker processes start now too, not on the first query."""
        if isinstance(store, EmbeddedStore) and store.path is not None and not store.read_only:
            with self._lock:
                if self._snapshots is None and self._executor is None:
                    self._snapshots = Snapshots(store)
                    self._snapshots.current()
        if start_workers:
            self.executor(store)

    def executor(self, store: Store) -> Executor:
        with self._lock:
            if self._executor is None:
                self._executor = executor_for(store, self.workers, self._snapshots)
            return self._executor

    def pool_state(self) -> tuple[int, int] | None:
        """(live, busy) query worker processes; None when queries do not run in worker processes (yet)."""
        executor = self._executor
        return executor.state() if isinstance(executor, ProcessExecutor) else None

    def published(self) -> Snapshots | None:
        """The snapshots queries read (on-disk stores), if any were published."""
        executor = self._executor
        return executor.snapshots if isinstance(executor, ProcessExecutor) else self._snapshots

    async def run(self, store: Store, job: Job, timeout: float | None = None) -> Answer:
        """Run ``job`` on ``store`` within the time limit (``timeout`` may only lower it), off the event loop."""
        executor = await run_in_threadpool(self.executor, store)
        limit = min(timeout or self.timeout, self.timeout)
        return await run_in_threadpool(executor.run, job, limit)

    def collect_states(self, store: Store) -> None:
        """Delete as-of states beyond the cache's bound (``threadline.history.asof.collect``), but none a query
        worker or a request of this process keeps open."""
        from threadline.history import asof

        executor = self._executor
        if isinstance(store, EmbeddedStore) and store.path is not None:
            in_use = executor.in_use() if isinstance(executor, ProcessExecutor) else []
            asof.collect(store.path, in_use, self.keep_states)

    def spool_path(self, store: Store, media: str) -> str | None:
        """Where a CSV/TSV answer is written for streaming (no row limit, see ``execution._spooled``), or None
        for a remote store, whose answer arrives whole over HTTP and keeps the row limit. The folder is the
        staging folder's (``THREADLINE_STAGING_DIR``), else beside an on-disk store, else the system's
        temporary folder; the answer's file is removed once sent, and the folder when the app stops."""
        if not isinstance(store, EmbeddedStore):
            return None
        with self._lock:
            if self._spools is None or not self._spools.is_dir():
                base = self._spool_base or (store.path.parent if store.path is not None else None)
                if base is not None:
                    base.mkdir(parents=True, exist_ok=True)
                self._spools = Path(tempfile.mkdtemp(prefix="threadline-answers-", dir=base))
            folder = self._spools
        suffix = ".csv" if media == neg.CSV else ".tsv"
        return str(folder / f"{uuid.uuid4().hex}{suffix}")

    def close(self) -> None:
        with self._lock:
            if self._spools is not None:
                shutil.rmtree(self._spools, ignore_errors=True)
                self._spools = None
            if self._executor is not None:
                self._executor.close()
                self._executor = None
            elif self._snapshots is not None:
                self._snapshots.close()
            self._snapshots = None
