"""As-of benchmark: GraphQL example 1 and a named KPI as of a past instant, side by side with the present.

    .venv/bin/python bench/asof.py [--source /work/bench-data/10000-42] [--work var/bench-asof] [--reps 7]

The source store is never written: it is opened read-only and checkpointed (RocksDB hard links) into ``--work``,
and everything happens on that copy. On the copy: the answers of now (instant T0) are kept — GraphQL example 1
(the as-built record of the manifest's example unit) and the named KPI's plain aggregate — then a few writes
change that unit (status, location: a SPARQL Update each, as an engineer's correction), so that the present and
T0 answer differently. Then, alternating, min / median / max of ``--reps`` runs of:

  - GraphQL example 1 now, and with ``asOf: T0`` (in-process through the schema, fresh loaders per request;
    the as-of request resolves the instant, finds the cached state, opens it, answers, closes it);
  - the KPI's plain aggregate now, and on the state at T0 (``history.asof.at``, opened and closed per run);

each as-of answer asserted equal to the answer kept at T0 (a fast wrong answer is no result), each present one to
the present's. The first as-of request, which builds the state (a checkpoint of the live store with the later
change sets undone), is timed on its own, with the cache emptied first.
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
# Run as a script, this file's folder is sys.path[0], and it holds bench/graphql.py: drop the folder so ``import
# graphql`` finds graphql-core.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO))

from threadline.namespaces import AUDIT_GRAPH, TL, data_iri  # noqa: E402


def copy_store(source: Path, work: Path) -> Path:
    """A checkpoint of ``source`` (opened read-only: nothing is written there) as a fresh store under ``work``."""
    import pyoxigraph as ox

    target = work / "store"
    for old in (target, work / "store.asof", work / "store.snapshots"):
        shutil.rmtree(old, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    original = ox.Store.read_only(str(source))
    original.backup(str(target))
    del original
    print(f"checkpoint copy of {source}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return target


def head(store: Any) -> tuple[int, str]:
    row = store.select(
        f"SELECT ?seq ?time WHERE {{ GRAPH <{AUDIT_GRAPH}> {{ ?e <{TL}auditSequence> ?seq ; "
        f"<{TL}recordedAt> ?time }} }} ORDER BY DESC(?seq) LIMIT 1"
    ).rows[0]
    return int(row[0].value), row[1].value


def correct(store: Any, serial: str) -> None:
    """Three corrections of the unit, each one audited SPARQL Update in the graph holding the value: its status,
    its location, and one of its operations re-recorded as failed (which moves first-pass yield)."""
    from threadline.audit import writes

    unit = data_iri("unit", serial)
    operation = (
        store.select(
            f'SELECT ?op WHERE {{ ?op <{TL}onUnit> <{unit}> ; <{TL}operationResult> "pass" }} ORDER BY ?op LIMIT 1'
        )
        .rows[0][0]
        .value
    )
    for subject, predicate, value in (
        (unit, "unitStatus", "scrapped"),
        (unit, "location", "quarantine cage 2"),
        (operation, "operationResult", "fail"),
    ):
        rows = store.select(f"SELECT ?g ?v WHERE {{ GRAPH ?g {{ <{subject}> <{TL}{predicate}> ?v }} }}").rows
        graph, old = rows[0][0].value, rows[0][1]
        writes.audited_update(
            store,
            f"DELETE DATA {{ GRAPH <{graph}> {{ <{subject}> <{TL}{predicate}> {old} }} }} ; "
            f'INSERT DATA {{ GRAPH <{graph}> {{ <{subject}> <{TL}{predicate}> "{value}" }} }}',
            actor="bench",
            reason="as-of benchmark: a correction",
        )


def spread(series: list[float]) -> str:
    return f"{min(series):.1f} / {statistics.median(series):.1f} / {max(series):.1f}"


def timed(runs: list[Callable[[], Any]], reps: int) -> list[list[float]]:
    """Each run ``reps`` times, alternating which goes first; milliseconds."""
    samples: list[list[float]] = [[] for _ in runs]
    for rep in range(reps):
        order = list(range(len(runs)))
        if rep % 2:
            order.reverse()
        for index in order:
            started = time.perf_counter()
            runs[index]()
            samples[index].append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=Path("/work/bench-data/10000-42"))
    parser.add_argument("--work", type=Path, default=REPO / "var" / "bench-asof")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--kpi", default="fpy-by-revision")
    args = parser.parse_args()

    from threadline import graphql_api, queries
    from threadline.graphql_api.schema import build_schema
    from threadline.history import asof
    from threadline.store import EmbeddedStore, open_store

    path = copy_store(args.source / "store", args.work)
    store = open_store(str(path))  # a store of an older format is upgraded here (history starts at that change)
    assert isinstance(store, EmbeddedStore)
    manifest = json.loads((args.source / "exports" / "manifest.json").read_text())
    serial = manifest["groundTruth"]["exampleUnit"]["serial"]
    example = (REPO / "graphql" / "examples" / "1-as-built-record.graphql").read_text()
    as_of_example = example.replace("unit(serial: $serial)", "unit(serial: $serial, asOf: $at)").replace(
        "($serial: String!", "($at: String, $serial: String!"
    )
    assert as_of_example != example, "example 1 changed shape: update the benchmark's rewrite"
    kpi = queries.get(args.kpi)
    schema = build_schema()
    loop = asyncio.new_event_loop()

    def graphql(text: str, variables: dict[str, Any]) -> Any:
        result = loop.run_until_complete(graphql_api.execute_async(store, text, variables, schema=schema))
        assert not result.errors, result.errors
        return result.data

    def plain(on: Any) -> list[tuple[str, ...]]:
        return [tuple(str(t) for t in row) for row in on.select(kpi.text, kpi.bindings({})).rows]

    sequence, then = head(store)
    then_graphql, then_kpi = graphql(example, {"serial": serial}), plain(store)
    correct(store, serial)
    now_graphql, now_kpi = graphql(example, {"serial": serial}), plain(store)
    assert now_graphql != then_graphql and now_kpi != then_kpi, "the corrections change both answers"
    later = head(store)[0]
    print(f"as of change {sequence} ({then}); {later - sequence} changes since; store {path}", file=sys.stderr)

    def graphql_then() -> None:
        assert graphql(as_of_example, {"serial": serial, "at": then}) == then_graphql

    def kpi_then() -> None:
        with asof.at(store, then) as (_, state):
            assert plain(state) == then_kpi

    shutil.rmtree(asof.cache_root(path), ignore_errors=True)
    started = time.perf_counter()
    graphql_then()
    first_graphql = (time.perf_counter() - started) * 1000
    shutil.rmtree(asof.cache_root(path), ignore_errors=True)
    started = time.perf_counter()
    kpi_then()
    first_kpi = (time.perf_counter() - started) * 1000

    def graphql_now() -> None:
        assert graphql(example, {"serial": serial}) == now_graphql

    def kpi_now() -> None:
        assert plain(store) == now_kpi

    g_now, g_then = timed([graphql_now, graphql_then], args.reps)
    k_now, k_then = timed([kpi_now, kpi_then], args.reps)
    ratio = lambda a, b: statistics.median(a) / statistics.median(b)  # noqa: E731 - a table helper
    print("| measure (ms, min / median / max) | now | as of T0 | ratio (medians) |")
    print("|---|---|---|---|")
    print(f"| GraphQL example 1 | {spread(g_now)} | {spread(g_then)} | {ratio(g_then, g_now):.2f}x |")
    print(f"| KPI `{kpi.name}` (plain aggregate) | {spread(k_now)} | {spread(k_then)} | {ratio(k_then, k_now):.2f}x |")
    print(f"| first as-of request, GraphQL (builds the state) | | {first_graphql:.1f} | |")
    print(f"| first as-of request, KPI (builds the state) | | {first_kpi:.1f} | |")
    loop.close()
    store.close()


if __name__ == "__main__":
    main()
