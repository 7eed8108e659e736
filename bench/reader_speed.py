"""Reader speed: the same queries as admin, as an unscoped reader (explicit graph list vs reader view) and as a
reader scoped to one system's graphs; and what publishing a reader view costs as the system graphs grow.

    .venv/bin/python bench/reader_speed.py [--units 1000 10000] [--reps 5] [--timeout 120] [--work var/bench-reader]
                                           [--archive 0 100000 1000000] [--skip-list]

For each size: generate the demo exports (seed 42) and load them through the mapping pack into an on-disk store
(kept under ``--work`` and reused), ``optimize()`` it, add a few tokens (security graph; the loads wrote the
audit entries), then:

1. queries — every named query (its SPARQL, parameters at their examples), the first (ad-hoc) query of
   docs/data-science.md, run through the service's own executor (worker processes on published snapshots, the
   answer serialised to JSON) as
     admin        union default graph on the base snapshot;
     reader-list  default and named graphs = every graph but the system graphs (what readers had before);
     reader-view  the reader view: the snapshot pruned of the system graphs, union default graph (now);
     scoped-list  a token scoped to one system's batch graphs (``graph/batch/mes/*``; lists, as before);
   and the five GraphQL examples in-process (admin and unscoped readers: union; scoped: ``ScopedStore``).
   Modes alternate within each repetition; min/median/max in ms; ratio = median / admin median. A run that
   passes ``--timeout`` is stopped (its worker killed) and shown as ``>T``.
2. publication — on a copy of the store, with ``N`` reified archive statements added (``--archive``): the time
   to publish a base snapshot and a reader view after one small write (checkpoint + prune), alternating.
"""

from __future__ import annotations

import argparse
import asyncio
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
DATA_SCIENCE_1 = """PREFIX tl: <https://w3id.org/threadline/ontology#>
SELECT DISTINCT ?serial ?part ?revision ?status WHERE {
  ?unit a tl:SerializedUnit ; tl:serialNumber ?serial ; tl:unitStatus ?status ;
        tl:ofPart/tl:partNumber ?part ; tl:builtTo/tl:revisionLabel ?revision .
}"""


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
    store.close()
    return store_dir


def summary(samples: list[float], timeout: float) -> tuple[float, str]:
    if any(s is None for s in samples):
        return float("inf"), f"{'>' + format(timeout, 'g') + 's':>26}"
    return statistics.median(samples), f"{min(samples):8.1f} {statistics.median(samples):8.1f} {max(samples):8.1f}"


def alternate(modes: dict[str, Callable[[], None]], reps: int, timeout: float) -> dict[str, list[Any]]:
    """Run every mode ``reps`` times, rotating the order each repetition; a timed-out mode is not rerun."""
    from threadline.errors import QueryTimeout

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
            except QueryTimeout:
                samples[name].append(None)
    return samples


def report(label: str, samples: dict[str, list[Any]], timeout: float) -> None:
    admin, _ = summary(samples["admin"], timeout)
    for mode, series in samples.items():
        median, text = summary(series, timeout)
        ratio = f"{median / admin:6.2f}x" if median != float("inf") and admin else "     -"
        print(f"  {label:<34} {mode:<12} {text} {ratio}", flush=True)


def query_cases(manifest: dict[str, Any]) -> list[tuple[str, str]]:
    from threadline import queries
    from threadline.store.params import bind

    cases = []
    for name, query in sorted(queries.catalogue(REPO / "queries").items()):
        given = {p.name: p.example for p in query.parameters if p.required}
        cases.append((f"named {name}", bind(query.text, query.bindings(given))))
    cases.append(("data-science 1 (ad hoc)", DATA_SCIENCE_1))
    return cases


def bench_queries(store_dir: Path, manifest: dict[str, Any], args: argparse.Namespace) -> None:
    from threadline.auth import Principal
    from threadline.sparql.execution import Job
    from threadline.sparql.worker import ProcessExecutor
    from threadline.store import EmbeddedStore
    from threadline.store.reader_view import view_for
    from threadline.store.snapshots import Snapshots

    store = EmbeddedStore(store_dir)
    snapshots = Snapshots(store)
    executor = ProcessExecutor(snapshots, workers=1)
    graphs = store.graphs()
    reader = Principal("bench", "reader")
    visible = reader.visible_graphs(graphs)
    scoped = Principal("bench-mes", "reader", (SCOPE,)).visible_graphs(graphs)
    view = view_for(reader, visible, visible, visible)
    print(f"  {len(graphs)} graphs; reader sees {len(visible)}, scoped reader {len(scoped)}; view {view}")
    started = time.perf_counter()
    snapshots.current(view)
    print(
        f"  first reader view published in {(time.perf_counter() - started) * 1000:.0f} ms, dropped {snapshots.pruned}"
    )
    print(f"  {'case':<34} {'mode':<12} {'min':>8} {'median':>8} {'max':>8}  ratio")

    def job(text: str, graphs: list[str] | None, use_view: bool = False) -> Callable[[], None]:
        def run() -> None:
            executor.run(
                Job(
                    text,
                    "SELECT",
                    "application/sparql-results+json",
                    10_000_000,
                    graphs,
                    graphs,
                    view=view if use_view else None,
                ),
                args.timeout,
            )

        return run

    for label, text in query_cases(manifest):
        modes = {"admin": job(text, None), "reader-view": job(text, visible, True), "scoped-list": job(text, scoped)}
        if not args.skip_list:
            modes["reader-list"] = job(text, visible)
        report(label, alternate(modes, args.reps, args.timeout), args.timeout)
    bench_graphql(snapshots, view, scoped, args)
    executor.close()
    store.close()


def bench_graphql(snapshots: Any, view: Any, scoped: list[str], args: argparse.Namespace) -> None:
    from threadline.graphql_api import execute_async
    from threadline.graphql_api.schema import build_schema
    from threadline.store import EmbeddedStore
    from threadline.store.scoped import ScopedStore

    schema = build_schema()
    base = EmbeddedStore(Path(snapshots.current()), read_only=True)
    pruned = EmbeddedStore(Path(snapshots.current(view)), read_only=True)
    stores = {"admin": base, "reader-view": pruned, "scoped-list": ScopedStore(base, scoped)}
    loop = asyncio.new_event_loop()
    for path in sorted((REPO / "graphql" / "examples").glob("*.graphql")):
        text = path.read_text()

        def run(store: Any, text: str = text, label: str = path.stem) -> Callable[[], None]:
            def go() -> None:
                result = loop.run_until_complete(execute_async(store, text, {}, schema=schema))
                if result.errors:
                    raise SystemExit(f"{label}: {result.errors}")

            return go

        report(
            f"graphql {path.stem}",
            alternate({k: run(s) for k, s in stores.items()}, args.reps, args.timeout),
            args.timeout,
        )
    loop.close()


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--work", type=Path, default=REPO / "var" / "bench-reader")
    parser.add_argument("--archive", type=int, nargs="*", default=[0, 100_000, 1_000_000])
    parser.add_argument("--skip-list", action="store_true", help="do not run the (slow) explicit-list reader")
    parser.add_argument("--only", choices=["queries", "publication"], default=None)
    args = parser.parse_args()
    for units in args.units:
        store_dir = prepare(units, args.seed, args.work)
        manifest = json.loads((store_dir.parent / "exports" / "manifest.json").read_text())
        if args.only in (None, "queries"):
            print(f"[{units} units] queries (ms)", flush=True)
            bench_queries(store_dir, manifest, args)
        if args.only in (None, "publication"):
            print(f"[{units} units] publishing a snapshot after one write (ms)", flush=True)
            bench_publication(store_dir, args)


if __name__ == "__main__":
    main()
