"""Validation benchmark: Threadline's native engine against pyshacl as users run it, plus the load gate.

    .venv/bin/python bench/validate.py [--units 10000 100000] [--seed 42] [--profile core]
                                       [--skip-pyshacl-above N] [--skip-memory-above N]
                                       [--optimize]

For each size, on the demo thread (generated, then loaded through the mapping pack into an on-disk store):
  1. native, on disk: the profile compiled to SPARQL, run in the on-disk store as loaded;
  2. native, in memory: the same, in an in-memory store holding the same quads;
  3. pyshacl as users run it, in a fresh process (so its peak RSS is its own): dump the store's union graph
     as N-Triples, parse it into rdflib, validate; parse and validate timed apart;
  4. incremental: a delta load of 100 new units' MES records (unit and operation records) into the on-disk
     thread; the gate's work (only what the load can affect, in the states after and before) is timed
     inside a before_commit hook, as the load gate runs it.
Results are compared as the tests compare them (focus, path, value, source shape, component); ratios printed.
pyshacl at 100k units needs about 9 GB and several minutes: ``--skip-pyshacl-above`` skips it above a size.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SYSTEMS = ("plm", "erp", "mes", "qms")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _digest(keys: Counter) -> str:
    sha = hashlib.sha256()
    for key, count in sorted(keys.items()):
        sha.update(repr((key, count)).encode())
    return sha.hexdigest()[:16]


def _pyshacl(ntriples: str, profile: str, queue: mp.Queue) -> None:
    import pyshacl
    from rdflib import Graph

    from threadline.shacl.engine import parse_report
    from threadline.shacl.model import Result
    from threadline.shacl.shapes import load_profile

    shapes = load_profile(REPO / "shapes", profile)
    started = time.perf_counter()
    data = Graph()
    data.parse(ntriples, format="nt")
    parsed = time.perf_counter()
    _, report, _ = pyshacl.validate(
        data, shacl_graph=shapes.graph, inference="none", advanced=False, allow_warnings=True, allow_infos=True
    )
    validated = time.perf_counter()
    results = parse_report(report, shapes)
    keys = Counter(Result.key(r) for r in results)
    queue.put(
        {
            "parse": parsed - started,
            "validate": validated - parsed,
            "results": len(results),
            "digest": _digest(keys),
            "peak_mb": _peak_mb(),
            "triples": len(data),
        }
    )


def _native(store, profile: str) -> dict:  # type: ignore[no-untyped-def]
    from threadline.shacl.engine import NativeEngine
    from threadline.shacl.shapes import load_profile

    engine = NativeEngine(store, load_profile(REPO / "shapes", profile))
    started = time.perf_counter()
    outcome = engine.validate()
    seconds = time.perf_counter() - started
    keys = Counter(r.key() for r in outcome.results)
    return {
        "seconds": seconds,
        "results": len(outcome.results),
        "digest": _digest(keys),
        "queries": engine.queries,
        "fallback": len(outcome.fallback),
    }


def _delta(exports: Path, out: Path, units: int = 100) -> Path:
    """MES records of ``units`` new units: copies of the last units' records under new serial numbers and
    operation ids (same parts, revisions, work orders and stations), loaded as a delta."""
    folder = out / "mes-delta"
    folder.mkdir(parents=True, exist_ok=True)
    with (exports / "mes" / "units.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[-units:]
    renamed = {r[0]: r[0].replace("-", "-N", 1) for r in body}
    for row in body:
        row[0] = renamed[row[0]]
    with (folder / "units.csv").open("w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows([header, *body])
    ops = []
    with (exports / "mes" / "operations.jsonl").open() as handle:
        for line in handle:
            record = json.loads(line)
            if record["serialNumber"] in renamed:
                record["serialNumber"] = renamed[record["serialNumber"]]
                record["executionId"] = "N" + record["executionId"]
                ops.append(json.dumps(record) + "\n")
    (folder / "operations.jsonl").write_text("".join(ops))
    return folder


def _incremental(store, exports: Path, tmp: Path, profile: str) -> dict:  # type: ignore[no-untyped-def]
    from threadline.ingest import LoadOptions, hooks, load_files
    from threadline.shacl.incremental import affected_results, introduced
    from threadline.shacl.shapes import load_profile

    shapes = load_profile(REPO / "shapes", profile)
    timing: dict = {}

    def gate(s, activity) -> None:  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        after, before = affected_results(s, shapes, activity.graphs_before(), activity.graphs_after())
        timing.update(
            gate=time.perf_counter() - started,
            affected_after=len(after.results),
            introduced=len(introduced(after, before)),
        )

    folder = _delta(exports, tmp)
    hooks.before_commit(gate)
    try:
        started = time.perf_counter()
        load_files(store, "mes", [folder], ingest_dir=REPO / "ingest", options=LoadOptions(mode="delta"))
        timing["load_total"] = time.perf_counter() - started
    finally:
        hooks.unregister(gate)
    return timing


def run(units: int, seed: int, profile: str, skip_pyshacl_above: int, skip_memory_above: int, optimize: bool) -> dict:
    import pyoxigraph as ox

    from threadline.demo import generate
    from threadline.ingest import load_files
    from threadline.store import EmbeddedStore

    row: dict = {"units": units}
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as tmp_name:
        tmp = Path(tmp_name)
        exports = tmp / "exports"
        generate(exports, units=units, seed=seed)
        disk = EmbeddedStore(tmp / "store")
        started = time.perf_counter()
        for system in SYSTEMS:
            load_files(disk, system, [exports / system], ingest_dir=REPO / "ingest")
        row["load_seconds"] = time.perf_counter() - started
        if optimize:
            started = time.perf_counter()
            disk.optimize()
            row["optimize_seconds"] = time.perf_counter() - started
        row["native_disk"] = _native(disk, profile)
        print(f"  {units:>7,} native on disk: {row['native_disk']['seconds']:.2f} s", flush=True)

        if units <= skip_memory_above:
            memory = EmbeddedStore(None)
            buffer = io.BytesIO()
            disk.dump(buffer, ox.RdfFormat.N_QUADS)
            memory.load(buffer.getvalue())
            del buffer
            row["native_memory"] = _native(memory, profile)
            print(f"  {units:>7,} native in memory: {row['native_memory']['seconds']:.2f} s", flush=True)
            row["incremental_memory"] = _incremental(memory, exports, tmp / "memory", profile)
            print(f"  {units:>7,} gate in memory: {row['incremental_memory']['gate']:.2f} s", flush=True)
            del memory

        if units <= skip_pyshacl_above:
            nt = tmp / "thread.nt"
            started = time.perf_counter()
            with nt.open("wb") as handle:
                for quad in disk.native.quads_for_pattern(None, None, None):
                    handle.write(f"{quad.subject} {quad.predicate} {quad.object} .\n".encode())
            row["dump_seconds"] = time.perf_counter() - started
            queue: mp.Queue = mp.get_context("spawn").Queue()
            process = mp.get_context("spawn").Process(target=_pyshacl, args=(str(nt), profile, queue))
            process.start()
            row["pyshacl"] = queue.get()
            process.join()
            nt.unlink()
            print(
                f"  {units:>7,} pyshacl: parse {row['pyshacl']['parse']:.1f} s, "
                f"validate {row['pyshacl']['validate']:.1f} s",
                flush=True,
            )
        row["incremental"] = _incremental(disk, exports, tmp / "disk", profile)
        print(f"  {units:>7,} gate on disk: {row['incremental']['gate']:.2f} s", flush=True)
        row["triples"] = sum(disk.stats().graphs.values())
        disk.close()
    return row


def report(rows: list[dict]) -> None:
    print()
    print(
        "| units | triples | native disk | native memory | pyshacl parse | pyshacl validate | pyshacl total "
        "| ratio end-to-end (disk) | ratio validate (disk) | same results | gate, 100-unit load: disk (memory) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")  # gate: on disk (in memory)
    for r in rows:
        d, p, i = r["native_disk"], r.get("pyshacl"), r["incremental"]
        m = r.get("native_memory", {"seconds": float("nan"), "digest": d["digest"]})
        if p:
            total = p["parse"] + p["validate"]
            cells = (
                f"{p['parse']:.1f} s | {p['validate']:.1f} s | {total:.1f} s ({p['peak_mb'] / 1024:.1f} GB) | "
                f"{total / d['seconds']:.0f}x | {p['validate'] / d['seconds']:.1f}x | "
                f"{'yes' if p['digest'] == d['digest'] == m['digest'] else 'NO'} ({d['results']})"
            )
        else:
            cells = f"skipped | skipped | skipped | – | – | {'yes' if d['digest'] == m['digest'] else 'NO'} (native)"
        print(
            f"| {r['units']:,} | {r['triples']:,} | {d['seconds']:.2f} s | {m['seconds']:.2f} s | {cells} | "
            f"{i['gate']:.2f} s ({r.get('incremental_memory', {}).get('gate', float('nan')):.2f} s) |"
        )
    print()
    print(json.dumps(rows, indent=1, default=str))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--profile", default="core")
    parser.add_argument("--skip-pyshacl-above", type=int, default=10**9)
    parser.add_argument(
        "--skip-memory-above",
        type=int,
        default=10**9,
        help="In-memory store needs about 400 B per triple: skip it above this many units.",
    )
    parser.add_argument("--optimize", action="store_true", help="Store.optimize() the on-disk store first.")
    args = parser.parse_args()
    rows = []
    for units in args.units:
        print(f"{units:,} units ...", flush=True)
        rows.append(run(units, args.seed, args.profile, args.skip_pyshacl_above, args.skip_memory_above, args.optimize))
    report(rows)


if __name__ == "__main__":
    main()
