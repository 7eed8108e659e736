"""KPI benchmark: each indicator as a plain aggregate vs read from the materialised summary, on disk.

    .venv/bin/python bench/kpi.py --units 100000 [--work var/bench-kpi] [--repeat 3]

Generates the demo thread (seed 42) once into ``--work`` and loads it through the mapping pack into an on-disk
store (reused on later runs), refreshes the KPI summary, then times every named KPI query both ways, and a
few point queries, median of ``--repeat`` runs, and prints a Markdown table for docs/performance.md.

A materialised read is only worth its speed if it answers the same: each one's rows are compared with the plain
aggregate's (as multisets of values, order aside) and the run stops at the first difference. The refresh that
buys the fast reads is timed too (median of ``--repeat``), and shown beside them: what a load pays when the
summary cannot be maintained incrementally. Each decomposed KPI's full recompute is then timed both ways: the
plain query, and the per-group partials plus the rows computed from them (what ``kpi.refresh`` runs now).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from threadline import kpi, queries  # noqa: E402
from threadline.store import EmbeddedStore, open_store  # noqa: E402


def prepare(work: Path, units: int) -> EmbeddedStore:
    from threadline.demo import generate
    from threadline.ingest import load_files

    exports, location, done = work / "exports", work / "store", work / "LOADED"
    if not done.exists():
        started = time.perf_counter()
        generate(exports, units=units, seed=42)
        print(f"generated {units:,} units in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        store = open_store(str(location))
        for system in ("plm", "erp", "mes", "qms"):
            started = time.perf_counter()
            load_files(store, system, [exports / system], ingest_dir=REPO / "ingest")
            print(f"loaded {system} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        started = time.perf_counter()
        store.optimize()  # type: ignore[attr-defined]
        print(f"optimize() in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        store.close()
        del store
        done.write_text(f"{units}\n")
    store = open_store(str(location))
    assert isinstance(store, EmbeddedStore)
    return store


def timed(work, repeat: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def same(name: str, plain: object, read: object) -> None:
    """Stop unless the materialised rows hold exactly the plain aggregate's (values compared, order aside)."""
    from collections import Counter

    def bag(result: object) -> Counter:
        variables = list(result.variables)  # type: ignore[attr-defined]
        return Counter(
            tuple(sorted((v, None if t is None else t.value) for v, t in zip(variables, row, strict=True)))
            for row in result.rows  # type: ignore[attr-defined]
        )

    if read is None:
        raise SystemExit(f"{name}: no materialised summary to read")
    if bag(plain) != bag(read):
        missing, extra = bag(plain) - bag(read), bag(read) - bag(plain)
        raise SystemExit(
            f"{name}: the summary differs from the plain query: missing {list(missing)[:5]}, extra {list(extra)[:5]}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=REPO / "var" / "bench-kpi")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = args.work / f"u{args.units}"
    store = prepare(work, args.units)
    triples = store.stats().triples
    refresh, counts = timed(lambda: kpi.refresh(store), args.repeat)
    print(f"\n{args.units:,} units, {triples:,} triples on disk; KPI summary refresh: {refresh:.1f} s ({counts})\n")
    print("| query | plain aggregate (s) | materialised (s) | speed-up | rows | same rows | refresh, all KPIs (s) |")
    print("|---|---:|---:|---:|---:|---|---:|")
    catalogue = queries.catalogue()
    for query in catalogue.values():
        if not query.kpi:
            continue
        bindings = query.bindings({"asOf": "2025-01-01T00:00:00Z"} if query.name == "capa-aging" else {})
        plain, result = timed(lambda q=query, b=bindings: store.select(q.text, b), args.repeat)
        if query.materialise:
            stored, read = timed(lambda q=query: kpi.read(store, q.name), args.repeat)
            same(query.name, result, read)
            print(
                f"| {query.name} | {plain:.3f} | {stored:.4f} | {plain / stored:,.0f}x | {len(result)} | yes | "  # type: ignore[arg-type]
                f"{refresh:.1f} |"
            )
        else:
            print(f"| {query.name} | {plain:.3f} | (not needed) | | {len(result)} | | |")  # type: ignore[arg-type]
    exports = work / "exports"
    manifest = __import__("json").loads((exports / "manifest.json").read_text())
    truth = manifest["groundTruth"]
    points = {
        "genealogy-backward": {"serial": truth["exampleUnit"]["serial"]},
        "genealogy-forward": {"lot": truth["sharedSupplierLot"]["lot"]},
        "where-used": {"part": truth["partAtSeveralBomLevels"]["part"]},
        "design-change-impact": {"eco": truth["eco"]["number"]},
        "open-ncr-units": {},
    }
    full_recompute(store, args.repeat)
    print("\n| point query | seconds | rows |\n|---|---:|---:|")
    for name, params in points.items():
        query = catalogue[name]
        seconds, result = timed(lambda q=query, p=params: store.select(q.text, q.bindings(p)), args.repeat)
        print(f"| {name} | {seconds:.4f} | {len(result)} |")  # type: ignore[arg-type]
    store.close()


def full_recompute(store: EmbeddedStore, repeat: int) -> None:
    """What a full recompute costs per KPI now that it also yields the per-group partials the incremental path
    keeps (``threadline.kpi.parts``): the plain query and the partials + rows path, alternating, ``repeat``
    times each, min / median / max; the rows must be the same."""
    from threadline.kpi import parts as kpi_parts

    print("\n| KPI, full recompute | plain query (s) | partials + rows (s) | groups |")
    print("|---|---:|---:|---:|")
    for query in kpi.materialised_queries():
        declared = kpi_parts.declared(query.path)
        if declared is None:
            continue
        plain_times, split_times = [], []
        for _ in range(repeat):
            started = time.perf_counter()
            plain = store.select(query.text, query.bindings({}))
            plain_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            partials = kpi_parts.full_partials(store, declared)
            rows = store.select(declared.rows_query(partials))
            split_times.append(time.perf_counter() - started)
            same(query.name, plain, rows)
        print(f"| {query.name} | {_spread(plain_times)} | {_spread(split_times)} | {len(partials)} |")


def _spread(values: list[float]) -> str:
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


if __name__ == "__main__":
    main()
