"""Validation benchmark: Threadline's native engine against pyshacl as users run it, plus the load gate.

    .venv/bin/python bench/validate.py [--units 10000 100000] [--seed 42] [--profile core] [--repeat 3]
                                       [--skip-pyshacl-above N] [--skip-memory-above N]
                                       [--work var/bench-validate] [--optimize]

For each size, on the demo thread (generated, then loaded through the mapping pack into an on-disk store,
which the loader compacts after large loads):
  1. native, on disk: the profile compiled to SPARQL, run in the on-disk store: cold (the first run on the
     freshly reopened store) and warm (median of ``--repeat`` more);
  2. native, in memory: the same, in an in-memory store holding the same quads (loaded from the store's dump);
  3. pyshacl as users run it, in a fresh process (so its peak RSS is its own): the store's union graph
     serialised as N-Triples by pyoxigraph's own writer (the dump a user would take), parsed into rdflib and
     validated, cold (first run) and warm (second run on the same rdflib graph), each step timed apart;
  4. the load gate: a delta load of 100 new units' MES records (unit and operation records) into the
     thread; the gate's work (``incremental.load_results``: what the load can affect, in the states after
     and before) is timed inside a before_commit hook, as the load gate runs it (median of ``--repeat``).
Results are compared as the tests compare them (focus, path, value, source shape, component); ratios printed.
pyshacl at 100k units needs about 60 GB: ``--skip-pyshacl-above`` skips it above a size. ``--work`` keeps the
generated exports and loaded store per size and reuses them (the delta load then goes into a checkpoint).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import multiprocessing as mp
import resource
import shutil
import statistics
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
    runs = []
    for _ in range(2):  # cold, then warm on the same graph (rdflib's indexes and pyshacl's caches built)
        began = time.perf_counter()
        _, report, _ = pyshacl.validate(
            data, shacl_graph=shapes.graph, inference="none", advanced=False, allow_warnings=True, allow_infos=True
        )
        runs.append(time.perf_counter() - began)
    results = parse_report(report, shapes)
    keys = Counter(Result.key(r) for r in results)
    queue.put(
        {
            "parse": parsed - started,
            "validate": runs[0],
            "validate_warm": runs[1],
            "results": len(results),
            "digest": _digest(keys),
            "peak_mb": _peak_mb(),
            "triples": len(data),
        }
    )


def _native(store, profile: str, repeat: int) -> dict:  # type: ignore[no-untyped-def]
    """Cold (the first run: on disk, the caller has just reopened the store) and warm (median of ``repeat``)."""
    from threadline.shacl.engine import NativeEngine
    from threadline.shacl.shapes import load_profile

    shapes = load_profile(REPO / "shapes", profile)
    times = []
    for _ in range(1 + repeat):
        engine = NativeEngine(store, shapes)
        started = time.perf_counter()
        outcome = engine.validate()
        times.append(time.perf_counter() - started)
    keys = Counter(r.key() for r in outcome.results)
    return {
        "cold": times[0],
        "seconds": statistics.median(times[1:]),
        "runs": times,
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


def _incremental(store, exports: Path, tmp: Path, profile: str, repeat: int) -> dict:  # type: ignore[no-untyped-def]
    from threadline.ingest import LoadOptions, hooks, load_files
    from threadline.shacl.incremental import introduced, load_results
    from threadline.shacl.shapes import load_profile

    shapes = load_profile(REPO / "shapes", profile)
    timing: dict = {}

    def gate(s, activity) -> None:  # type: ignore[no-untyped-def]
        times = []
        for _ in range(repeat):  # the gate only reads: each run sees the same staged load
            started = time.perf_counter()
            after, before = load_results(s, shapes, activity)
            times.append(time.perf_counter() - started)
        timing.update(
            gate=statistics.median(times),
            gate_runs=times,
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


def _prepared(work: Path, units: int, seed: int, row: dict):  # type: ignore[no-untyped-def]
    """The demo thread of ``units`` loaded into ``work/store`` (generated and loaded once per ``work``)."""
    from threadline.demo import generate
    from threadline.ingest import load_files
    from threadline.store import EmbeddedStore

    exports, location, done = work / "exports", work / "store", work / "LOADED"
    if not done.exists() or done.read_text().split() != [str(units), str(seed)]:
        if location.exists():
            shutil.rmtree(location)
        generate(exports, units=units, seed=seed)
        disk = EmbeddedStore(location)
        started = time.perf_counter()
        for system in SYSTEMS:
            load_files(disk, system, [exports / system], ingest_dir=REPO / "ingest")
        row["load_seconds"] = time.perf_counter() - started
        disk.close()
        done.write_text(f"{units} {seed}\n")
    return EmbeddedStore(location)


def run(units: int, seed: int, profile: str, args: argparse.Namespace) -> dict:
    import pyoxigraph as ox

    from threadline.store import EmbeddedStore

    row: dict = {"units": units}
    keep = args.work is not None
    with tempfile.TemporaryDirectory(prefix="bench-validate-", dir=args.work) as tmp_name:
        tmp = Path(tmp_name)
        work = args.work / f"u{units}-s{seed}" if keep else tmp
        work.mkdir(parents=True, exist_ok=True)
        exports = work / "exports"
        disk = _prepared(work, units, seed, row)
        if args.optimize:
            started = time.perf_counter()
            disk.optimize()
            row["optimize_seconds"] = time.perf_counter() - started
        disk.close()  # reopened: the first run is a cold one
        disk = EmbeddedStore(work / "store")
        row["native_disk"] = _native(disk, profile, args.repeat)
        print(
            f"  {units:>7,} native on disk: cold {row['native_disk']['cold']:.2f} s, "
            f"warm {row['native_disk']['seconds']:.2f} s",
            flush=True,
        )

        if units <= args.skip_memory_above:
            memory = EmbeddedStore(None)
            buffer = io.BytesIO()
            disk.dump(buffer, ox.RdfFormat.N_QUADS)
            memory.load(buffer.getvalue())
            del buffer
            row["native_memory"] = _native(memory, profile, args.repeat)
            print(f"  {units:>7,} native in memory: {row['native_memory']['seconds']:.2f} s", flush=True)
            row["incremental_memory"] = _incremental(memory, exports, tmp / "memory", profile, args.repeat)
            print(f"  {units:>7,} gate in memory: {row['incremental_memory']['gate']:.2f} s", flush=True)
            del memory

        if units <= args.skip_pyshacl_above:
            nt = tmp / "thread.nt"
            started = time.perf_counter()
            with nt.open("wb") as handle:  # the union graph, by pyoxigraph's own N-Triples writer
                triples = (quad.triple for quad in disk.native.quads_for_pattern(None, None, None))
                ox.serialize(triples, handle, ox.RdfFormat.N_TRIPLES)
            row["dump_seconds"] = time.perf_counter() - started
            queue: mp.Queue = mp.get_context("spawn").Queue()
            process = mp.get_context("spawn").Process(target=_pyshacl, args=(str(nt), profile, queue))
            process.start()
            row["pyshacl"] = queue.get()
            process.join()
            nt.unlink()
            print(
                f"  {units:>7,} pyshacl: parse {row['pyshacl']['parse']:.1f} s, "
                f"validate cold {row['pyshacl']['validate']:.1f} s, warm {row['pyshacl']['validate_warm']:.1f} s",
                flush=True,
            )
        row["triples"] = sum(disk.stats().graphs.values())
        if keep:  # the delta load goes into a checkpoint (hard links), so the kept store stays as generated
            checkpoint = disk.backup(tmp / "checkpoint")
            disk.close()
            disk = EmbeddedStore(checkpoint)
        row["incremental"] = _incremental(disk, exports, tmp / "disk", profile, args.repeat)
        print(f"  {units:>7,} gate on disk: {row['incremental']['gate']:.2f} s", flush=True)
        disk.close()
    return row


def report(rows: list[dict]) -> None:
    """A Markdown table for docs/performance.md: each side cold (first run) and warm (native: median; pyshacl:
    its second run), and the ratios pyshacl / native, end to end (dump + parse + validate, cold) and for the
    validation step alone (warm against warm), against the on-disk (in-memory) store."""
    nan = float("nan")
    print()
    print(
        "| units | quads | native, disk: cold / warm | native, memory: cold / warm | pyshacl dump + parse | "
        "pyshacl validate: cold / warm (peak RSS) | end-to-end cold vs disk (memory) | validate warm vs disk "
        "(memory) | same results | gate, 100-unit load: disk (memory) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    for r in rows:
        d, p, i = r["native_disk"], r.get("pyshacl"), r["incremental"]
        m = r.get("native_memory", {"cold": nan, "seconds": nan, "digest": d["digest"]})
        if p:
            front = r["dump_seconds"] + p["parse"]
            total = front + p["validate"]
            cells = (
                f"{front:.1f} s | {p['validate']:.1f} / {p['validate_warm']:.1f} s ({p['peak_mb'] / 1024:.1f} GB) | "
                f"{total / d['cold']:.0f}x ({total / m['cold']:.0f}x) | "
                f"{p['validate_warm'] / d['seconds']:.1f}x ({p['validate_warm'] / m['seconds']:.1f}x) | "
                f"{'yes' if p['digest'] == d['digest'] == m['digest'] else 'NO'} ({d['results']} results)"
            )
        else:
            cells = f"– | – | – | – | {'yes' if d['digest'] == m['digest'] else 'NO'} ({d['results']} results)"
        gate_memory = r.get("incremental_memory", {}).get("gate", nan)
        print(
            f"| {r['units']:,} | {r['triples']:,} | {d['cold']:.2f} / {d['seconds']:.2f} s | "
            f"{m['cold']:.2f} / {m['seconds']:.2f} s | {cells} | {i['gate']:.2f} s ({gate_memory:.2f} s) |"
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
    parser.add_argument("--repeat", type=int, default=3, help="Native runs and gate runs per size (median).")
    parser.add_argument("--work", type=Path, default=None, help="Keep and reuse exports and stores here.")
    parser.add_argument("--optimize", action="store_true", help="Store.optimize() the on-disk store first.")
    args = parser.parse_args()
    if args.work is not None:
        args.work = args.work.resolve()
        args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for units in args.units:
        print(f"{units:,} units ...", flush=True)
        rows.append(run(units, args.seed, args.profile, args))
    report(rows)


if __name__ == "__main__":
    main()
