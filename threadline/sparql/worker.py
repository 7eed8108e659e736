"""Running endpoint queries under a real time limit and a result-size limit.

pyoxigraph has no timeout or cancellation; only a separate process can be stopped. So for the on-disk store
each query runs in one of a small pool of worker processes; a query that overruns its limit gets its worker
killed (the CPU is freed at once) and a fresh worker is spawned in its place. Workers read snapshots that
this process publishes (``threadline.store.snapshots``: RocksDB checkpoints, made when a query arrives after
a write), never the live store: a read-only open beside the writer is undefined behaviour in pyoxigraph,
and made cheap queries hang while a load committed. A query therefore sees the state after the last
committed write, never half of a load, and does not wait for one. A job with a reader ``view``
(``threadline.store.reader_view``) runs on that view's snapshot with the union default graph.

A remote store is asked over HTTP with the time limit as the request timeout (the remote server should
enforce its own limit too). A memory store cannot be shared with another process: its queries run in a
thread that is abandoned, not stopped, on time-out — the caller gets the timeout error but the CPU stays busy
until the query ends. That is acceptable for tests and demos only, and documented in docs/sparql.md.

Every thread that runs caller text here has no network (``threadline.store.sandbox``): worker processes confine
themselves before their first query, memory-store query threads before theirs.

The worker serialises the answer itself (rows stop at the limit), so only bytes cross the process boundary.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import queue
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

import pyoxigraph as ox

from threadline.errors import QueryError, QueryTimeout, StoreError, StoreUnavailable
from threadline.sparql.execution import Answer, Job, ResultTooLarge, execute, position, serialise
from threadline.store import sandbox
from threadline.store.recovery import uncommitted
from threadline.store.snapshots import Snapshots

EMPTY_GRAPH = "urn:threadline:empty"  # names no graph: the dataset of an empty graph list (as RemoteStore)
log = logging.getLogger(__name__)


def _count(metric: str, label: str) -> None:
    """Increment a counter of this (server) process. Imported here, not at the top: worker processes import
    this module and never count, and prometheus-client adds about 0.3 s to their start (more on a busy
    machine), which the first query of a fresh server waits for."""
    from threadline.observability import metrics

    getattr(metrics, metric).labels(label).inc()


def _timed_out(executor: str, timeout: float, job: Job, note: str = "") -> QueryTimeout:
    """Count and log a query stopped at its time limit; the error to raise (the query text is not logged: it
    may hold anything a caller typed)."""
    _count("QUERY_TIMEOUTS", executor)
    log.warning("query stopped at the time limit of %g s", timeout, extra={"executor": executor, "form": job.form})
    return QueryTimeout(_timeout_message(timeout) + note)


# -- executors -------------------------------------------------------------------------------------------


class Executor:
    """Runs jobs; ``run`` blocks (call it from a worker thread) and raises QueryTimeout past ``timeout``."""

    def run(self, job: Job, timeout: float) -> Answer:
        raise NotImplementedError

    def close(self) -> None:
        """Stop whatever the executor started."""


class ThreadExecutor(Executor):
    """Memory stores: a daemon thread per query; a timed-out query is abandoned, not stopped (see module doc)."""

    def __init__(self, store: ox.Store) -> None:
        self.store = store

    def run(self, job: Job, timeout: float) -> Answer:
        _no_state(job)
        box: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)

        def work() -> None:
            sandbox.confine()  # this thread runs caller text: no network for it (see threadline.store.sandbox)
            try:
                box.put((True, execute(self.store, job)))
            except Exception as exc:  # handed to the caller's thread
                box.put((False, exc))

        threading.Thread(target=work, name="sparql-query", daemon=True).start()
        try:
            ok, value = box.get(timeout=timeout)
        except queue.Empty as exc:
            raise _timed_out("thread", timeout, job, " (memory store: the query still runs to its end)") from exc
        if not ok:
            raise value
        return value


class RemoteExecutor(Executor):
    """Remote stores: the query is forwarded with the time limit as the HTTP timeout, through the store's own
    transport and answer reading (``RemoteStore.send_query``), so an engine's quirks are undone here too."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.endpoint = store.query_endpoint

    def run(self, job: Job, timeout: float) -> Answer:
        import httpx

        _no_state(job)
        started = time.perf_counter()
        graph = job.form in ("CONSTRUCT", "DESCRIBE")
        accept = "application/n-triples" if graph else "application/sparql-results+json"
        text = (f"BASE <{job.base_iri}>\n" if job.base_iri else "") + job.text
        try:
            response = self.store.send_query(text, job.default_graphs, job.named_graphs, accept, timeout)
        except httpx.TimeoutException as exc:
            raise _timed_out("remote", timeout, job, " (the remote store was asked to stop)") from exc
        except httpx.HTTPError as exc:
            raise StoreUnavailable(f"store at {self.endpoint} did not answer: {exc}") from exc
        if response.status_code == 400:
            raise QueryError(f"malformed query: {response.text.strip()}", position=position(response.text))
        if response.status_code >= 400:
            raise StoreError(f"store refused the query: HTTP {response.status_code} {response.text[:300]}")
        answer = serialise(self.store.read_answer(response), job)
        answer.seconds = time.perf_counter() - started
        return answer


def _no_state(job: Job) -> None:
    """Only the on-disk store's executor runs on as-of states; any other answering one would answer the present."""
    if job.state is not None:
        from threadline.history.asof import AsOfUnsupported

        raise AsOfUnsupported("as-of reads need the embedded on-disk store: this store keeps no past states")


def _timeout_message(timeout: float) -> str:
    return (
        f"the query ran longer than the time limit of {timeout:g} s and was stopped "
        "(THREADLINE_SPARQL_TIMEOUT); narrow it, or use a named query backed by a materialised KPI"
    )


# -- worker processes for the on-disk store ----------------------------------------------------------------


def _worker_main(conn: Any) -> None:
    """Body of a worker process: answer ``(snapshot folder, job, folders to keep open)`` requests until the
    parent goes away. A worker keeps the current base snapshot and reader views open side by side, so admin
    and reader queries in turn do not reopen a store each time (12–15 ms at 100k units, more under load).
    Each open snapshot comes with its uncommitted graphs (a crash's leftovers being removed), which no query
    may see (``threadline.store.recovery``)."""
    stores: dict[str, tuple[ox.Store, frozenset[str]]] = {}
    sandbox.confine(whole_process=True)  # before any query: no network for this process (threadline.store.sandbox)
    conn.send(("ready", sandbox.status()))  # imports done: from here on the parent's clock measures queries only
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        snapshot, job, keep = request
        for folder in [f for f in stores if f not in keep]:
            del stores[folder]  # closes it: the parent may delete the folder once no worker keeps it
        reply: tuple[str, Any] = ("error", ("StoreError", "the store could not be read", None))
        for attempt in range(2):
            try:
                if snapshot not in stores:
                    opened = ox.Store.read_only(snapshot)
                    stores[snapshot] = (opened, uncommitted(opened))
                native, hidden = stores[snapshot]
                reply = ("ok", execute(native, job, hidden))
                break
            except QueryError as exc:
                reply = ("error", (type(exc).__name__, str(exc), exc.position))
                break
            except StoreError as exc:  # e.g. the spool file could not be written
                reply = ("error", ("StoreError", str(exc), None))
                break
            except (OSError, RuntimeError) as exc:
                stores.pop(snapshot, None)
                reply = ("error", ("StoreError", f"the store snapshot {snapshot} could not be read: {exc}", None))
                time.sleep(0.05 * (attempt + 1))
        try:
            conn.send(reply)
        except (EOFError, OSError, BrokenPipeError):
            return


STARTUP_LIMIT = 60.0  # seconds a new worker process may take to start


class _Worker:
    """One ``python -m threadline.sparql.worker`` process, spoken to over a socket pair.

    A plain subprocess rather than ``multiprocessing``: its spawn mode re-imports the parent's ``__main__``
    (uvicorn's, a test runner's, a notebook's), and fork would copy a process holding RocksDB's threads.
    """

    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "threadline.sparql.worker", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self.conn = Connection(ours.detach())
        self.snapshots: set[str] = set()  # the snapshots this worker has open (or was last asked to keep)
        self.ready = False
        self.sandbox: str | None = None  # the worker's sandbox status, as it reported it when ready

    def wait_ready(self) -> None:
        """Wait for the process to finish starting (not counted in a query's time limit: on a busy machine
        starting Python and importing the engine can take seconds)."""
        if self.ready:
            return
        if not self.conn.poll(STARTUP_LIMIT):
            raise StoreError(f"a query worker did not start within {STARTUP_LIMIT:g} s")
        status, self.sandbox = self.conn.recv()
        if status != "ready":
            raise StoreError(f"a query worker sent {status!r} instead of starting")
        self.ready = True

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)
        self.conn.close()


class ProcessExecutor(Executor):
    """A pool of worker processes reading published snapshots of the on-disk store; overrunning workers are
    killed and replaced."""

    def __init__(self, snapshots: Snapshots, workers: int = 2) -> None:
        self.snapshots = snapshots
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False
        for _ in range(max(1, workers)):
            self._idle.put(self._spawn())

    def _spawn(self) -> _Worker:
        worker = _Worker()
        with self._lock:
            self._all.add(worker)
        return worker

    def _retire(self, worker: _Worker, reason: str) -> None:
        _count("WORKER_KILLS", reason)
        log.warning("query worker %d killed and replaced (%s)", worker.pid, reason, extra={"reason": reason})
        worker.kill()
        with self._lock:
            self._all.discard(worker)
        if not self._closed:
            self._idle.put(self._spawn())

    def run(self, job: Job, timeout: float) -> Answer:
        """Run ``job`` on an idle worker, on the freshest published snapshot, within ``timeout``."""
        try:
            worker = self._idle.get(timeout=timeout)
        except queue.Empty as exc:
            _count("QUERY_TIMEOUTS", "queue")
            log.warning("every query worker stayed busy for the time limit of %g s", timeout)
            raise QueryTimeout(
                f"every query worker stayed busy for the whole time limit of {timeout:g} s; try again later"
            ) from exc
        try:
            worker.wait_ready()
        except Exception as exc:
            self._retire(worker, "start")
            raise StoreError(f"a query worker failed to start: {exc}") from exc
        deadline = time.monotonic() + timeout
        try:
            if job.view is not None and job.state is None:  # prune a new view (slow) before taking the lock
                self.snapshots.current(job.view)
            with self._lock:  # mark the snapshot in use before any other thread may collect it
                snapshot = job.state if job.state is not None else self.snapshots.current(job.view)
                worker.snapshots = {snapshot} | (worker.snapshots & self.snapshots.currents())
                keep = frozenset(worker.snapshots)
            if job.view is not None:  # the view holds exactly the caller's graphs: the fast union default graph
                job = dataclasses.replace(job, default_graphs=None, named_graphs=None, view=None)
            self._collect()
            worker.conn.send((snapshot, job, keep))
            status: str = "timeout"
            payload: Any = None  # from the worker: an Answer when "ok", else (kind, message, position)
            if worker.conn.poll(max(0.0, deadline - time.monotonic())):
                status, payload = worker.conn.recv()
        except StoreError:
            self._idle.put(worker)
            raise
        except Exception as exc:  # the worker died or sent garbage: replace it
            self._retire(worker, "failed")
            raise StoreError(f"a query worker failed: {exc!r}") from exc
        if status == "timeout":
            error = _timed_out("process", timeout, job)
            self._retire(worker, "timeout")  # kills the process: the query's CPU is freed at once
            raise error
        self._idle.put(worker)
        if status == "ok":
            return payload
        kind, message, position = payload
        if kind == "StoreError":
            raise StoreError(message)
        kind_of: type[QueryError] = ResultTooLarge if kind == "ResultTooLarge" else QueryError
        raise kind_of(message, position=position)

    def _collect(self) -> None:
        with self._lock:
            in_use = [snapshot for w in self._all for snapshot in w.snapshots]
        self.snapshots.collect(in_use)

    def state(self) -> tuple[int, int]:
        """(live workers, busy workers), for metrics and readiness: a worker is busy while a query holds it."""
        with self._lock:
            workers = [w for w in self._all if w.process.poll() is None]
        return len(workers), max(0, len(self._all) - self._idle.qsize())

    def in_use(self) -> list[str]:
        """The folders workers keep open (snapshots, as-of states): not to be deleted."""
        with self._lock:
            return [snapshot for w in self._all for snapshot in w.snapshots]

    def pids(self) -> list[int]:
        """Process ids of the live workers (for operators and tests)."""
        with self._lock:
            return [w.pid for w in self._all]

    def close(self) -> None:
        self._closed = True
        with self._lock:
            workers = list(self._all)
            self._all.clear()
        for worker in workers:
            with contextlib.suppress(OSError):
                worker.conn.send(None)
            try:
                worker.process.wait(timeout=1)
            except subprocess.TimeoutExpired:
                worker.kill()
        self.snapshots.close()


def executor_for(store: Any, workers: int = 2, snapshots: Snapshots | None = None) -> Executor:
    """The executor that can enforce limits on ``store``'s backend (``snapshots``: already published ones)."""
    from threadline.store import EmbeddedStore, RemoteStore

    if isinstance(store, EmbeddedStore):
        if store.path is not None:
            return ProcessExecutor(snapshots or Snapshots(store), workers)
        return ThreadExecutor(store.native)
    if isinstance(store, RemoteStore):
        return RemoteExecutor(store)
    raise StoreError(f"no query executor for a {type(store).__name__}")


if __name__ == "__main__":  # a worker process: python -m threadline.sparql.worker FD
    # run the imported module's copy, so that answers pickle as threadline.sparql.worker.Answer
    from threadline.sparql import worker as _module

    _module._worker_main(Connection(int(sys.argv[1])))
