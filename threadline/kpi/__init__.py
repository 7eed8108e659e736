"""Materialised KPI summaries: indicator answers precomputed after each load, so they answer in milliseconds.

Aggregates over every unit or operation are linear in the data (about 2 s per 100k units on disk for one
first-pass-yield query, and several such queries make a dashboard); point queries are not. So each named
query marked ``materialise: true`` is run once after every committed load (an ``after_commit`` hook from
``threadline.ingest.hooks``), and its rows are written, atomically, into the summary graph
``https://w3id.org/threadline/graph/kpi``: one resource per row, one ``kpi:{variable}`` triple per bound cell, the
terms exactly as the plain query returned them. Reading them back is a lookup of a few dozen triples.

After a load, the KPIs that declare how they decompose (``queries/NAME.incremental.yaml``) are not recomputed:
``threadline.kpi.delta`` finds the entities whose contribution the load can have changed and updates the stored
per-group partials (``threadline.kpi.parts``), from which the rows are recomputed; it falls back to this
module's full recompute whenever it cannot be sure.

Each refresh also records every KPI's footprint, the graphs holding the quads it can match
(``threadline.kpi.footprint``): a reader limited to some data graphs gets the summary only when the footprint
lies within them, since only then is the summary its plain answer.

The summary records how many ingest activities the store held when it was computed; when that number differs
(a load happened and the hook was not installed, or failed), readers fall back to the plain query. Writes
through the SPARQL endpoint or the Graph Store Protocol mark it outdated (``kpi:staleSince``) for the same
reason. ``threadline kpi refresh`` rebuilds it by hand.

In the server the refresh runs in a background thread (``Refresher``): the load returns at once, and while the
refresh runs readers get the previous summary, labelled outdated, instead of plain aggregates that take
4–40 s each at 100k units. The CLI refreshes before it returns. Each refresh reads a checkpoint of the store
taken between staged writes, so a load being staged beside it never leaks half into the numbers.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import functools
import logging
import shutil
import tempfile
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import pyoxigraph as ox

from threadline.namespaces import GRAPH, ID, TL
from threadline.observability import metrics
from threadline.store.base import text, text_or_none

if TYPE_CHECKING:
    from threadline.kpi.parts import Group, Parts
    from threadline.queries import NamedQuery
    from threadline.store import SelectResult, Store

log = logging.getLogger(__name__)

KPI_GRAPH = GRAPH + "kpi"
K = "https://w3id.org/threadline/kpi#"
SUMMARY = ID + "kpi/summary"
XSD = "http://www.w3.org/2001/XMLSchema#"

ACTIVITIES = f"SELECT (COUNT(DISTINCT ?__a) AS ?__n) WHERE {{ ?__a a <{TL}IngestActivity> }}"
# the freshness rule, once: also checked inside the guarded reads of ``threadline.kpi.footprint`` (hence the
# ``__`` variables, which no named query uses)
FRESH_PATTERN = f"""{{
  GRAPH <{KPI_GRAPH}> {{ <{SUMMARY}> <{K}activities> ?__n FILTER NOT EXISTS {{ <{SUMMARY}> <{K}staleSince> ?__t }} }}
  {{ {ACTIVITIES} }}
}}"""
FRESH = f"ASK {FRESH_PATTERN}"
VARIABLES = f"""SELECT ?variables WHERE {{
  GRAPH <{KPI_GRAPH}> {{ ?q <{K}name> ?__kpi ; <{K}variables> ?variables }}
}}"""


def node_of(name: str) -> str:
    """The summary's resource for the KPI ``name`` (its rows are ``{node}/{index}``)."""
    return f"{ID}kpi/{name}"


def materialised_queries() -> list[NamedQuery]:
    """The KPIs to keep, parsed again only when a query file changed (parsing every header costs 0.1–0.3 s,
    which an incremental update would otherwise pay several times per load)."""
    from threadline.queries import QUERY_DIR

    files = sorted(QUERY_DIR.glob("*.rq"))
    return list(_materialised(tuple((p, p.stat().st_mtime_ns) for p in files)))


@functools.lru_cache(maxsize=4)
def _materialised(_files: tuple[tuple[Path, int], ...]) -> tuple[NamedQuery, ...]:
    from threadline.queries import catalogue

    return tuple(q for q in catalogue().values() if q.materialise)


def refresh(
    store: Store, activity: Any = None, partials: dict[str, dict[Group, Parts] | None] | None = None
) -> dict[str, int]:
    """Recompute every materialised KPI and replace the summary graph in one step; returns rows per KPI.
    ``partials``: per KPI, its groups' partials already brought up to date (``threadline.kpi.delta``): only
    the rows are recomputed from them; a KPI without them is recomputed from the data."""

    from threadline.kpi import footprint

    now = ox.Literal(dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), datatype=ox.NamedNode(XSD + "dateTime"))
    queries = materialised_queries()
    given = partials or {}
    quick = bool(queries) and all(given.get(q.name) is not None for q in queries)
    with _quiet_view(store) if quick else _consistent_view(store) as view:
        activities = view.select(ACTIVITIES).rows[0][0]
        results = [(query, *_compute(view, query, given.get(query.name))) for query in queries]
        footprints = footprint.record(view, queries)
    triples = [
        _t(SUMMARY, K + "activities", activities),
        _t(SUMMARY, K + "refreshedAt", now),
    ]
    counts: dict[str, int] = {}
    for query, result, kept in results:
        node = node_of(query.name)
        triples += [
            _t(node, K + "name", ox.Literal(query.name)),
            _t(node, K + "variables", ox.Literal(" ".join(result.variables))),
            _t(node, K + "refreshedAt", now),
            *footprints[query.name].triples(query.name),
        ]
        for index, row in enumerate(result.rows):
            subject = f"{node}/{index}"
            triples += [
                _t(subject, K + "query", ox.Literal(query.name)),
                _t(subject, K + "index", ox.Literal(str(index), datatype=ox.NamedNode(XSD + "integer"))),
            ]
            triples += [_t(subject, K + var, term) for var, term in zip(result.variables, row, strict=True) if term]
        if kept is not None:
            triples += _partial_triples(query, node, kept)
        counts[query.name] = len(result.rows)
    data = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b""
    store.replace_graph(KPI_GRAPH, data, ox.RdfFormat.N_TRIPLES)
    return counts


def _compute(
    view: Store, query: NamedQuery, partials: dict[Group, Parts] | None
) -> tuple[SelectResult, dict[Group, Parts] | None]:
    """A KPI's rows, and the partials they were computed from (None: the KPI is not kept incrementally)."""
    from threadline.kpi import parts as kpi_parts

    declared = kpi_parts.declared(query.path)
    if declared is None:
        return view.select(query.text, query.bindings({})), None
    if partials is None:
        try:
            partials = kpi_parts.full_partials(view, declared)
        except kpi_parts.Unsure:  # an unbound part: the plain query says what the rows are
            return view.select(query.text, query.bindings({})), None
    return view.select(declared.rows_query(partials)), partials


def _partial_triples(query: NamedQuery, node: str, partials: dict[Group, Parts]) -> list[ox.Triple]:
    from threadline.kpi import parts as kpi_parts

    name, declared = query.name, kpi_parts.declared(query.path)
    assert declared is not None
    out = [_t(node, K + "incremental", ox.Literal(declared.digest))]
    for index, (group, parts) in enumerate(partials.items()):
        subject = f"{node}/partial/{index}"
        out.append(_t(subject, K + "partialOf", ox.Literal(name)))
        out += [_t(subject, K + var, term) for var, term in zip(declared.groups, group, strict=True)]
        out += [_t(subject, K + var, term) for var, term in parts.items()]
    return out


def stored_partials(store: Store) -> tuple[int, bool, dict[str, dict[Group, Parts]]] | None:
    """The stored summary's activity count, whether it is marked outdated, and the partials of every KPI kept
    incrementally; None when there is no summary."""
    from threadline.kpi import parts as kpi_parts

    head = store.select(
        f"SELECT ?n ?stale WHERE {{ GRAPH <{KPI_GRAPH}> {{ <{SUMMARY}> <{K}activities> ?n "
        f"OPTIONAL {{ <{SUMMARY}> <{K}staleSince> ?stale }} }} }} LIMIT 1"
    ).rows
    if not head or head[0][0] is None:
        return None
    kept = store.select(
        f"SELECT ?name ?digest WHERE {{ GRAPH <{KPI_GRAPH}> {{ ?q <{K}incremental> ?digest ; <{K}name> ?name }} }}"
    ).rows
    paths = {q.name: q.path for q in materialised_queries()}
    declarations = {name: kpi_parts.declared(path) for name, path in paths.items()}
    out: dict[str, dict[Group, Parts]] = {
        text(name): {}
        for name, digest in kept
        if (d := declarations.get(text(name))) is not None and text(digest) == d.digest
    }
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    rows = store.select(
        f"SELECT ?name ?s ?p ?o WHERE {{ GRAPH <{KPI_GRAPH}> {{ ?s <{K}partialOf> ?name ; ?p ?o }} }}"
    ).rows
    for name, s, p, o in rows:
        if p is not None and text(p).startswith(K):
            cells.setdefault((text(name), text(s)), {})[text(p).removeprefix(K)] = o
    for (kpi, _), values in cells.items():
        declared = declarations.get(kpi) if kpi in out else None
        if declared is None:
            continue
        group = tuple(values.get(g) for g in declared.groups)
        out[kpi][group] = {part: values.get(part) for part in declared.parts}
    return int(text(head[0][0])), head[0][1] is not None, out


@contextlib.contextmanager
def _quiet_view(store: Store) -> Iterator[Store]:
    """What an incremental update reads (only the rows from the partials: milliseconds): the store itself, with
    staged writes held off meanwhile — cheaper than a checkpoint (0.2–0.5 s on disk at 10k units)."""
    from threadline.store import EmbeddedStore

    if not isinstance(store, EmbeddedStore):
        yield store
        return
    with store.quiet(wait=True):
        yield store


@contextlib.contextmanager
def _consistent_view(store: Store) -> Iterator[Store]:
    """What the refresh reads: on disk, a checkpoint taken between staged writes (never half of a load being
    staged beside it; 10–15 ms at 100k units), else the store itself."""
    from threadline.store import EmbeddedStore

    if not isinstance(store, EmbeddedStore) or store.path is None or store.read_only:
        yield store
        return
    folder = Path(tempfile.mkdtemp(prefix=".kpi-view-", dir=store.path.parent))
    target = folder / "store"
    try:
        with store.quiet(wait=True):
            store.native.backup(str(target))
        view = EmbeddedStore(target, read_only=True)
        try:
            yield view
        finally:
            view.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _t(subject: str, predicate: str, obj: Any) -> ox.Triple:
    return ox.Triple(ox.NamedNode(subject), ox.NamedNode(predicate), obj)


def fresh(store: Store) -> bool:
    """Whether the summary was computed after the latest load and no other write has outdated it since."""
    return store.ask(FRESH)


def invalidate(store: Store) -> None:
    """Mark the summary outdated (after a write the loader did not see). In the server a background refresh is
    started and readers get the outdated summary, labelled, until it lands; elsewhere they use the plain
    queries meanwhile."""
    if refreshed_at(store) is None:
        return  # no summary: readers run the plain queries anyway
    when = ox.Literal(dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), datatype=ox.NamedNode(XSD + "dateTime"))
    store.update(f"INSERT DATA {{ GRAPH <{KPI_GRAPH}> {{ <{SUMMARY}> <{K}staleSince> {when} }} }}")
    if refresher.handles(store):
        refresher.request(store)


def summary_status(store: Store) -> str | None:
    """ "fresh"; "refreshing" when the summary is outdated but a refresh is under way in this process (readers
    may use it, labelled); None when readers should run the plain query."""
    if fresh(store):
        return "fresh"
    if refresher.busy() and refreshed_at(store) is not None:
        return "refreshing"
    return None


def refreshed_at(store: Store) -> str | None:
    """When the stored summary was computed, or None when there is none."""
    rows = store.select(f"SELECT ?t WHERE {{ GRAPH <{KPI_GRAPH}> {{ <{SUMMARY}> <{K}refreshedAt> ?t }} }}").rows
    return text_or_none(rows[0][0]) if rows else None


class Refresher:
    """Recomputes the summary in one background thread, so a load (or an HTTP write) returns without waiting for
    it — minutes at 100k units — and requests arriving while it runs fold into one more run.

    Readers meanwhile get the previous summary, labelled as outdated (``threadline.queries.routes``), rather than
    the plain aggregates, which take 4–40 s each at 100k units and can hit the endpoint's time limit."""

    def __init__(self) -> None:
        self.background = False  # the server's setting (``features.install(..., server=True)``)
        self._served: weakref.WeakSet[Any] = weakref.WeakSet()  # stores a running server refreshes for
        self._released: weakref.WeakSet[Any] = weakref.WeakSet()  # stores whose server has stopped
        self._cond = threading.Condition()
        self._pending: Store | None = None
        self._running = False
        self.runs = 0
        self.errors: collections.deque[Exception] = collections.deque(maxlen=10)  # the latest, for tests

    def serve(self, store: Store) -> None:
        """The server opened ``store``: refresh it in the background from now on (if the setting says so)."""
        self._served.add(store)
        self._released.discard(store)

    def release(self, store: Store) -> None:
        self._served.discard(store)
        self._released.add(store)

    def handles(self, store: Store) -> bool:
        """Whether writes to ``store`` refresh in the background: only a store a running server holds, so a
        load through the CLI or a library call in the same process still returns with a fresh summary."""
        return self.background and store in self._served

    def request(self, store: Store) -> None:
        with self._cond:
            self._pending = store
            if not self._running:
                self._running = True
                threading.Thread(target=self._loop, name="kpi-refresh", daemon=True).start()

    def busy(self) -> bool:
        with self._cond:
            return self._running

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no refresh is running or pending; False if ``timeout`` passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._running, timeout)

    def _loop(self) -> None:
        while True:
            with self._cond:
                store, self._pending = self._pending, None
                if store is None:
                    self._running = False
                    self._cond.notify_all()
                    return
            try:
                refresh(store)
                self.runs += 1
                metrics.KPI_REFRESHES.labels("ok").inc()
            except Exception as exc:  # a closed store at shutdown, a failing query: log it, go on
                if store in self._released:
                    # its server stopped (and may have closed it) while this ran: abandoned, as app shutdown says
                    log.warning("background KPI summary refresh abandoned: the server stopped (%s)", exc)
                    continue
                self.errors.append(exc)
                metrics.KPI_REFRESHES.labels("failed").inc()
                log.error("background KPI summary refresh failed: %s", exc, exc_info=exc)


refresher = Refresher()


def read_query(store: Store, name: str) -> tuple[str, dict[str, Any]] | None:
    """A query returning the stored rows of ``name`` as the plain query would, or None if not stored."""
    found = store.select(VARIABLES, {"__kpi": name})
    if not found.rows:
        return None
    variables = text(found.rows[0][0]).split()
    # the KPI's own variables are projected; ours carry a __ prefix no named query uses
    optional = " ".join(f"OPTIONAL {{ ?__row <{K}{v}> ?{v} }}" for v in variables)
    projection = " ".join(f"?{v}" for v in variables) or "?__row"
    query = (
        f"SELECT {projection} WHERE {{ GRAPH <{KPI_GRAPH}> {{ ?__row <{K}query> ?__kpi ; <{K}index> ?__index . "
        f"{optional} }} }} ORDER BY ?__index"
    )
    return query, {"__kpi": ox.Literal(name)}


def read(store: Store, name: str) -> SelectResult | None:
    """The materialised rows of ``name`` if the summary is fresh, else None."""
    if not fresh(store):
        return None
    prepared = read_query(store, name)
    return store.select(*prepared) if prepared else None


def refresh_after_load(store: Store, activity: Any) -> None:
    """``after_commit``: bring the summary up to date from what the load changed (``threadline.kpi.delta``),
    else recompute it (in the background in the server)."""
    from threadline.kpi import delta as kpi_delta

    if kpi_delta.apply(store, activity):
        return
    if refresher.handles(store):
        refresher.request(store)
    else:
        refresh(store, activity)


def install() -> None:
    """Keep the summary fresh after every committed load, refreshing before the load returns (programmatic use;
    the CLI and server go through ``threadline.features.install``)."""
    from threadline.ingest import hooks
    from threadline.kpi import delta as kpi_delta

    refresher.background = False
    hooks.before_commit(kpi_delta.plan_load)
    hooks.after_commit(refresh_after_load)


def uninstall() -> None:
    from threadline.ingest import hooks
    from threadline.kpi import delta as kpi_delta

    hooks.unregister(kpi_delta.plan_load)
    hooks.unregister(refresh_after_load)


@click.group(name="kpi", invoke_without_command=True)
@click.option(
    "--as-of",
    "as_of",
    default=None,
    metavar="INSTANT",
    help="The indicators as the store stood at this xsd:dateTime (with its zone) or change id: plain aggregates.",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--store", "store_url", default=None, help="Store URL (default: THREADLINE_STORE).")
@click.pass_context
def kpi_command(ctx: click.Context, as_of: str | None, fmt: str, store_url: str | None) -> None:
    """Materialised KPI summaries (refreshed after every load); alone, every indicator's answer."""
    if ctx.invoked_subcommand is None:
        from threadline.kpi.answers import show

        show(store_url, as_of, fmt)


@kpi_command.command(name="refresh")
@click.option("--store", "store_url", default=None, help="Store URL (default: THREADLINE_STORE).")
def refresh_command(store_url: str | None) -> None:
    """Recompute the KPI summary graph now."""
    import time

    from threadline.config import Settings
    from threadline.errors import StoreUnavailable
    from threadline.store import disk_path, open_store
    from threadline.store.published import latest

    started = time.perf_counter()
    settings = Settings()
    try:
        with open_store(store_url, settings) as store:
            counts = refresh(store)
    except StoreUnavailable as exc:
        path = disk_path(store_url if store_url is not None else settings.store)
        if path is not None and latest(path) is not None:
            # a refresh writes, and only the service may write to the store it holds; it refreshes after each load
            raise StoreUnavailable(
                f"the store at {path} is held by a running service, which refreshes the KPI summaries itself "
                "after every load; read them with `threadline query NAME` or at /queries/NAME, or stop the "
                "service to refresh from here"
            ) from exc
        raise
    for name, rows in counts.items():
        click.echo(f"{name}: {rows} rows")
    click.echo(f"refreshed in {time.perf_counter() - started:.2f} s", err=True)
