"""Reader speed through the real service: the same questions as admin, as an unscoped reader and as a reader
scoped to one system's graphs, over HTTP with real tokens; and what publishing a reader view costs.

    .venv/bin/python bench/reader_speed.py [--units 1000 10000] [--reps 5] [--timeout 120] [--work var/bench-reader]
                                           [--archive 0 100000] [--only service|publication] [--cases SUBSTRING]
                                           [--scope IRI_OR_PREFIX* ...]

For each size: generate the demo exports (seed 42) and load them through the mapping pack into an on-disk store
(kept under ``--work`` and reused: ``--work /work/bench-data`` keeps one 100k store for every run), ``optimize()``
it, then:

1. service — the real app (``create_app``, every route) served by uvicorn on 127.0.0.1, one admin token
   (``THREADLINE_WRITE_TOKEN``), one unscoped ``reader`` token and one ``reader`` token scoped to
   ``graph/batch/mes/*`` or ``--scope`` (made by ``create_token`` in the store, as an operator would), and for
   each case:
     named   ``GET /queries/{name}`` for every query in ``queries/`` (required parameters at their examples);
     graphql ``POST /graphql`` for each of ``graphql/examples/*.graphql``;
     ds      the data-science page's notebook (docs/data-science.md): its ad-hoc SPARQL as
             ``POST /sparql`` asking for CSV (what sparql-dataframe sends) and its ``/queries/…`` URLs as written;
     sparql  ``POST /sparql`` with the SPARQL of each materialised indicator: the service answers those named
             queries from the KPI summary (``prepare`` refreshes it, as a service does after a load), so this
             times the aggregate itself.
   Modes alternate, the order rotating every repetition; min/median/max in ms, ratio = median / admin median,
   min-ratio = min / admin min;
   wall-clock time of the HTTP request (the client is on the same machine). Admin and the unscoped reader must
   give the same answer on every case (rows compared; a difference stops the run); the scoped reader's answers
   are over its graphs only, and their row count is shown, with ``X-Threadline-Source`` for named queries (the
   scoped reader gets a materialised indicator from the summary where its footprint lies within the scope). A
   request that passes ``--timeout`` (or is refused with 503 by the endpoint's own limit) shows as ``>T``. One
   warm-up round (not timed) publishes the snapshots.
2. publication — on a copy of the store, with ``N`` reified archive statements added (``--archive``): the time
   to publish a base snapshot and a reader view after one small write (checkpoint + prune), alternating.
3. scope-views (only with ``--only scope-views``) — what a per-scope view would cost to publish: pruning a
   checkpoint of everything outside ``graph/batch/mes/*``, and copying that scope into a fresh store.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder is sys.path[0], and it holds graphql.py: drop it so ``import graphql``
# finds graphql-core, not that benchmark.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO))

SYSTEMS = ("plm", "erp", "mes", "qms")
SCOPE = "https://w3id.org/threadline/graph/batch/mes/*"


def prepare(units: int, seed: int, work: Path) -> Path:
    """The loaded store's folder (generated and loaded once, then reused)."""
    from threadline.auth.tokens import create_token
    from threadline.demo import generate
    from threadline.ingest import load_files
    from threadline.store import EmbeddedStore

    root = work / f"{units}-{seed}"
    exports, store_dir, done = root / "exports", root / "store", root / "loaded"
    if not done.exists():
        shutil.rmtree(store_dir, ignore_errors=True)  # an interrupted earlier load
        print(f"[{units}] generating and loading (once; kept in {root})", file=sys.stderr)
        store = EmbeddedStore(store_dir)
        generate(exports, units=units, seed=seed)
        for system in SYSTEMS:
            load_files(store, system, [exports / system], ingest_dir=REPO / "ingest")
        store.native.optimize()
        store.close()
        done.write_text("ok\n")
    store = EmbeddedStore(store_dir)
    if not (root / "tokens").exists():
        for role in ("reader", "compliance", "integrator"):
            create_token(store, role, description=f"bench {role}", actor="bench")
        (root / "tokens").write_text("ok\n")
    from threadline import kpi
    from threadline.kpi import footprint

    # as a service has it after a load: the materialised indicators' summary, with their footprints (a summary
    # from before footprints existed has none, so scoped readers would not get it)
    if not kpi.fresh(store) or not footprint.recorded(store):
        started = time.perf_counter()
        kpi.refresh(store)
        print(f"[{units}] KPI summary refreshed in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    store.close()
    return store_dir


def summary(samples: list[float], timeout: float) -> tuple[float, str]:
    if any(s is None for s in samples):
        return float("inf"), f"{'>' + format(timeout, 'g') + 's':>26}"
    return statistics.median(samples), f"{min(samples):8.1f} {statistics.median(samples):8.1f} {max(samples):8.1f}"


def alternate(modes: dict[str, Callable[[], None]], reps: int, timeout: float) -> dict[str, list[Any]]:
    """Run every mode ``reps`` times, rotating the order each repetition; a timed-out mode is not rerun."""
    names = list(modes)
    samples: dict[str, list[Any]] = {name: [] for name in names}
    for rep in range(reps):
        for name in names[rep % len(names) :] + names[: rep % len(names)]:
            if None in samples[name]:
                continue
            started = time.perf_counter()
            try:
                modes[name]()
                samples[name].append((time.perf_counter() - started) * 1000)
            except TimeoutError:
                samples[name].append(None)
    return samples


def report(label: str, samples: dict[str, list[Any]], timeout: float, sizes: dict[str, Any] | None = None) -> None:
    """One line per mode; ``ratio`` compares medians, ``min-ratio`` the fastest runs (on a shared machine the
    noise only ever adds time, so the minimum is the steadier figure for millisecond cases)."""
    admin, _ = summary(samples["admin"], timeout)
    admin_min = min((s for s in samples["admin"] if s is not None), default=None)
    for mode, series in samples.items():
        median, text = summary(series, timeout)
        ratio = f"{median / admin:6.2f}x" if median != float("inf") and admin else "     -"
        low = min(series) if series and None not in series else None
        low_ratio = f"{low / admin_min:6.2f}x" if low is not None and admin_min else "     -"
        rows = (sizes or {}).get(mode, "")
        print(f"  {label:<34} {mode:<8} {text} {ratio} {low_ratio}  {rows}", flush=True)


ADMIN = "bench-admin-token"


class Service:
    """The real app on a loopback port (uvicorn in a thread), as ``threadline serve`` runs it."""

    def __init__(self, store_dir: Path, timeout: float) -> None:
        import socket
        import threading

        import uvicorn

        from threadline.config import Settings
        from threadline.store import open_store
        from threadline.web.app import create_app

        self.store = open_store(str(store_dir))
        settings = Settings(store=str(store_dir), write_token=ADMIN, sparql_timeout=timeout)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            create_app(settings, store=self.store), host="127.0.0.1", port=port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise SystemExit("the service did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.store.close()


def tokens(store: Any, scopes: list[str]) -> dict[str, str]:
    """Bearer secrets: admin (the write token), an unscoped reader, a reader scoped to ``scopes``."""
    from threadline.auth.tokens import create_token

    _, reader = create_token(store, "reader", description="bench reader", actor="bench")
    _, scoped = create_token(store, "reader", scopes=scopes, description="bench scoped reader", actor="bench")
    return {"admin": ADMIN, "reader": reader, "scoped": scoped}


def notebook_cases() -> list[tuple[str, str, str, dict[str, Any]]]:
    """The data-science page's requests, read from its worked example: (label, method, path, arguments)."""
    import re

    text = (REPO / "docs" / "data-science.md").read_text()
    code = text.split("```python", 1)[1].split("```", 1)[0]
    cases: list[tuple[str, str, str, dict[str, Any]]] = []
    for i, sparql in enumerate(re.findall(r'sparql_dataframe\.get\(ENDPOINT, """(.*?)"""\)', code, re.S), 1):
        cases.append((f"ds sparql {i}", "POST", "/sparql", {"data": {"query": sparql}, "accept": "text/csv"}))
    for url in re.findall(r'f"\{BASE\}(/queries/[^"]+)"', code):
        cases.append((f"ds {url.split('/')[-1][:28]}", "GET", url, {"accept": "text/csv" if "csv" in url else None}))
    if len(cases) < 4:
        raise SystemExit(f"expected the notebook's four requests in docs/data-science.md, found {len(cases)}")
    return cases


def service_cases() -> list[tuple[str, str, str, dict[str, Any]]]:
    from urllib.parse import urlencode

    from threadline import queries
    from threadline.store.params import bind

    cases: list[tuple[str, str, str, dict[str, Any]]] = []
    for name, query in sorted(queries.catalogue(REPO / "queries").items()):
        given = {p.name: p.example for p in query.parameters if p.required}
        path = f"/queries/{name}" + (f"?{urlencode(given)}" if given else "")
        cases.append((f"named {name}", "GET", path, {}))
        if query.materialise:  # the service reads the summary for these: time the aggregate itself too
            text = bind(query.text, query.bindings({}))
            cases.append((f"sparql {name} (plain)", "POST", "/sparql", {"data": {"query": text}}))
    for path in sorted((REPO / "graphql" / "examples").glob("*.graphql")):
        cases.append((f"graphql {path.stem}", "POST", "/graphql", {"json": {"query": path.read_text()}}))
    return cases + notebook_cases()


def answer(response: Any) -> Any:
    """What two callers' answers are compared by: rows for named queries, data (and error codes) for GraphQL,
    sorted CSV lines; a scoped caller may get GraphQL's NOT_FOUND for a record outside its graphs."""
    kind = response.headers.get("content-type", "")
    if "json" in kind:
        body = response.json()
        if "errors" in body:
            return {
                "data": body.get("data"),
                "errors": sorted(e.get("extensions", {}).get("code", "") for e in body["errors"]),
            }
        if "results" in body:  # SPARQL JSON: the rows, in a canonical order
            return sorted(json.dumps(row, sort_keys=True) for row in body["results"]["bindings"])
        return body.get("rows", body.get("data", body))
    return sorted(response.text.splitlines()[1:]) + response.text.splitlines()[:1]


def size(value: Any) -> int | str:
    if isinstance(value, dict) and "errors" in value:
        return "+".join(value["errors"])
    if isinstance(value, dict):
        return sum(n for n in map(size, value.values()) if isinstance(n, int))
    return len(value) if isinstance(value, list) else 1


def bench_service(store_dir: Path, args: argparse.Namespace) -> None:
    import httpx

    service = Service(store_dir, args.timeout)
    secrets = tokens(service.store, args.scope)
    graphs = service.store.graphs()
    inside = sum(1 for g in graphs if any(g.startswith(s[:-1]) if s.endswith("*") else g == s for s in args.scope))
    print(f"  {len(graphs)} graphs; the scoped token ({' '.join(args.scope)}) reads {inside}")
    client = httpx.Client(base_url=service.url, timeout=args.timeout + 30)
    cases = [c for c in service_cases() if not args.cases or any(s in c[0] for s in args.cases)]

    sources: dict[str, str] = {}  # mode -> X-Threadline-Source of its last answer (named queries)

    def request(mode: str, method: str, path: str, extra: dict[str, Any]) -> Any:
        headers = {"Authorization": f"Bearer {secrets[mode]}"}
        if extra.get("accept"):
            headers["Accept"] = extra["accept"]
        kwargs = {k: v for k, v in extra.items() if k in ("data", "json")}
        response = client.request(method, path, headers=headers, **kwargs)
        if response.status_code == 503 or response.status_code >= 500:
            raise TimeoutError(response.text[:200])
        if response.status_code != 200:
            raise SystemExit(f"{mode} {method} {path}: HTTP {response.status_code} {response.text[:300]}")
        if "x-threadline-source" in response.headers:
            sources[mode] = response.headers["x-threadline-source"]
        return answer(response)

    try:
        print(f"  {'case':<34} {'mode':<8} {'min':>8} {'median':>8} {'max':>8}   ratio min-ratio  answer")
        for label, method, path, extra in cases:
            answers: dict[str, Any] = {}

            def run(
                mode: str, method: str = method, path: str = path, extra: dict[str, Any] = extra, into: Any = answers
            ) -> None:
                into[mode] = request(mode, method, path, extra)

            for mode in secrets:  # warm-up: publishes the snapshot and views; not timed
                with contextlib.suppress(TimeoutError):
                    run(mode)
            samples = alternate({mode: lambda m=mode: run(m) for mode in secrets}, args.reps, args.timeout)
            if isinstance(answers.get("admin"), dict) and "errors" in answers["admin"]:
                raise SystemExit(f"{label}: the admin got errors {answers['admin']}")
            if "admin" in answers and "reader" in answers and answers["admin"] != answers["reader"]:
                raise SystemExit(f"{label}: the unscoped reader's answer differs from the admin's")
            shown = {m: f"{size(a)}" + (f" ({sources[m]})" if m in sources else "") for m, a in answers.items()}
            report(label, samples, args.timeout, shown)
            sources.clear()
    finally:
        client.close()
        service.stop()


def bench_publication(store_dir: Path, args: argparse.Namespace) -> None:
    print(f"  {'archive statements':>20} {'quads hidden':>13} {'mode':<12} {'min':>8} {'median':>8} {'max':>8}")
    for size in args.archive:
        copy = store_dir.with_name("publication-copy")
        shutil.rmtree(copy, ignore_errors=True)
        shutil.rmtree(copy.with_name(copy.name + ".snapshots"), ignore_errors=True)
        try:
            publication_at(store_dir, copy, size, args)
        finally:
            shutil.rmtree(copy, ignore_errors=True)


def publication_at(store_dir: Path, copy: Path, size: int, args: argparse.Namespace) -> None:
    """Base snapshot vs reader view publication on a copy of the store holding ``size`` archived statements."""
    import pyoxigraph as ox

    from threadline.audit import ARCHIVE_PREFIX
    from threadline.store import EmbeddedStore
    from threadline.store.reader_view import View
    from threadline.store.snapshots import Snapshots

    view = View(frozenset({"admin", "compliance"}))
    rdf = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
    source = EmbeddedStore(store_dir, read_only=True)
    source.native.backup(str(copy))
    source.close()
    store = EmbeddedStore(copy)
    if size:
        lines = (
            f"_:s{i} <{rdf}type> <{rdf}Statement> .\n_:s{i} <{rdf}subject> <urn:x:{i}> .\n"
            f'_:s{i} <{rdf}predicate> <urn:p> .\n_:s{i} <{rdf}object> "v{i}" .\n'
            for i in range(size)
        )
        archive = ox.NamedNode(ARCHIVE_PREFIX + "bench")
        store.native.bulk_load("".join(lines).encode(), format=ox.RdfFormat.N_TRIPLES, to_graph=archive)
    hidden = sum(n for g, n in store.stats().graphs.items() if view.hides(g))
    snapshots = Snapshots(store)
    snapshots.current()
    snapshots.current(view)
    counter = [0]

    def publish(chosen: View | None) -> None:
        counter[0] += 1
        store.update(f'INSERT DATA {{ GRAPH <urn:bench:w> {{ <urn:bench:s> <urn:bench:p> "{counter[0]}" }} }}')
        snapshots.current(chosen)
        snapshots.collect([])

    samples = alternate({"base": lambda: publish(None), "reader-view": lambda: publish(view)}, args.reps, args.timeout)
    for mode, series in samples.items():
        print(f"  {size:>20} {hidden:>13} {mode:<12} {summary(series, args.timeout)[1]}", flush=True)
    snapshots.close()
    store.close()


def bench_scope_views(store_dir: Path, args: argparse.Namespace) -> None:
    """What a per-scope view (a published copy holding only the scoped token's graphs) would cost to publish after
    each write, the two ways pyoxigraph allows: prune a checkpoint of every graph outside the scope
    (``remove_graph``), or copy the scope's graphs into a fresh store (``bulk_extend`` of their quads, which keeps
    blank nodes shared between graphs; a dump per graph and ``bulk_load`` would rename them). Once each."""
    import pyoxigraph as ox

    from threadline.store import EmbeddedStore

    work = store_dir.with_name("scope-view-cost")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    source = EmbeddedStore(store_dir, read_only=True)
    source.native.backup(str(work / "pruned"))
    inside = [g for g in source.native.named_graphs() if "/batch/mes/" in g.value]
    try:
        started = time.perf_counter()
        pruned = ox.Store(str(work / "pruned"))
        outside = [g for g in pruned.named_graphs() if "/batch/mes/" not in g.value]
        removed = sum(1 for g in outside for _ in pruned.quads_for_pattern(None, None, None, g))
        counted = time.perf_counter()
        for graph in outside:
            pruned.remove_graph(graph)
        pruned.flush()
        seconds = time.perf_counter() - counted
        print(
            f"  prune a checkpoint: {removed:,} quads outside the scope removed in {seconds:.1f} s "
            f"({removed / seconds:,.0f} quads/s; counting them took {counted - started:.1f} s)",
            flush=True,
        )
        del pruned
        started = time.perf_counter()
        copy = ox.Store(str(work / "copied"))
        copy.bulk_extend(q for g in inside for q in source.native.quads_for_pattern(None, None, None, g))
        copy.flush()
        seconds, copied = time.perf_counter() - started, len(copy)
        print(f"  copy the scope: {copied:,} quads copied in {seconds:.1f} s ({copied / seconds:,.0f} quads/s)")
        del copy
    finally:
        source.close()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--work", type=Path, default=REPO / "var" / "bench-reader")
    parser.add_argument("--archive", type=int, nargs="*", default=[0, 100_000])
    parser.add_argument("--cases", nargs="*", default=[], help="only the cases whose label holds one of these")
    parser.add_argument("--only", choices=["service", "publication", "scope-views"], default=None)
    parser.add_argument("--scope", nargs="+", default=[SCOPE], help="the scoped reader's scopes (IRIs, prefix*)")
    args = parser.parse_args()
    for units in args.units:
        store_dir = prepare(units, args.seed, args.work)
        if args.only in (None, "service"):
            print(f"[{units} units] through the service, as admin / unscoped reader / scoped reader (ms)", flush=True)
            bench_service(store_dir, args)
        if args.only == "scope-views":  # slow (minutes at 10k units): only when asked
            print(f"[{units} units] publishing a per-scope view (graph/batch/mes/*)", flush=True)
            bench_scope_views(store_dir, args)
        if args.only in (None, "publication"):
            print(f"[{units} units] publishing a snapshot after one write (ms)", flush=True)
            bench_publication(store_dir, args)


if __name__ == "__main__":
    main()
