"""Ingest benchmark: Threadline's end-to-end load against pyoxigraph's bulk load of the same triples.

    .venv/bin/python bench/ingest.py [--units 10000 100000] [--seed 42]

For each size: generate the demo exports, then in fresh processes (so each peak RSS is its own)
  1. threadline: map every export through the mapping pack and commit it (`load_files`) into an on-disk
     store — the path `threadline load` takes;
  2. limit: pyoxigraph `bulk_load` of exactly the quads step 1 produced (same batch graphs), pre-serialised
     as N-Quads, into a fresh on-disk store;
and print records/s, triples/s, peak memory and the ratio threadline/limit side by side.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SYSTEMS = ("plm", "erp", "mes", "qms")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _threadline(exports: str, store_dir: str, dump_to: str, queue: mp.Queue) -> None:
    from threadline.ingest import load_files
    from threadline.store import EmbeddedStore

    store = EmbeddedStore(Path(store_dir))
    started = time.perf_counter()
    records = triples = 0
    for system in SYSTEMS:
        activity = load_files(store, system, [Path(exports) / system], ingest_dir=REPO / "ingest")
        records += sum(b.records for b in activity.batches)
        triples += sum(b.triples for b in activity.batches)
    store.native.flush()
    seconds = time.perf_counter() - started
    # The limit's input: the same quads (batch graphs included: named-graph quads cost six indexes where
    # default-graph triples cost three), pre-serialised as N-Quads, written outside the timing.
    with open(dump_to, "wb") as out:
        for quad in store.native.quads_for_pattern(None, None, None):
            if quad.graph_name.value.startswith("https://w3id.org/threadline/graph/batch/"):
                out.write(f"{quad} .\n".encode())
    store.close()
    queue.put({"seconds": seconds, "records": records, "triples": triples, "peak_mb": _peak_mb()})


def _bulk_load(ntriples: str, store_dir: str, queue: mp.Queue) -> None:
    import pyoxigraph as ox

    store = ox.Store(store_dir)
    started = time.perf_counter()
    store.bulk_load(path=ntriples, format=ox.RdfFormat.N_QUADS)
    store.flush()
    seconds = time.perf_counter() - started
    queue.put({"seconds": seconds, "triples": len(store), "peak_mb": _peak_mb()})


def _in_process(target, *args):  # type: ignore[no-untyped-def]
    queue: mp.Queue = mp.Queue()
    process = mp.get_context("fork").Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def run(units: int, seed: int, workdir: Path) -> dict:
    from threadline.demo import generate

    exports = workdir / f"exports-{units}"
    started = time.perf_counter()
    generate(exports, units=units, seed=seed)
    print(f"[{units:,} units] generated exports in {time.perf_counter() - started:.1f} s", flush=True)
    nt = workdir / f"limit-{units}.nq"
    ours = _in_process(_threadline, str(exports), str(workdir / f"store-{units}"), str(nt))
    print(f"[{units:,} units] threadline load: {ours['seconds']:.1f} s", flush=True)
    limit = _in_process(_bulk_load, str(nt), str(workdir / f"limit-store-{units}"))
    print(f"[{units:,} units] pyoxigraph bulk_load: {limit['seconds']:.1f} s", flush=True)
    return {"units": units, "threadline": ours, "bulk_load": limit}


def report(results: list[dict]) -> str:
    lines = [
        "| units | path | seconds | records/s | triples/s | peak MB | ratio to limit |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        ours, limit = r["threadline"], r["bulk_load"]
        ratio = (ours["triples"] / ours["seconds"]) / (limit["triples"] / limit["seconds"])
        lines.append(
            f"| {r['units']:,} | threadline load (map + commit, on disk) | {ours['seconds']:.1f} | "
            f"{ours['records'] / ours['seconds']:,.0f} | {ours['triples'] / ours['seconds']:,.0f} | "
            f"{ours['peak_mb']:,.0f} | {ratio:.2f}x |"
        )
        lines.append(
            f"| {r['units']:,} | pyoxigraph bulk_load of the same N-Quads (limit) | {limit['seconds']:.1f} | – | "
            f"{limit['triples'] / limit['seconds']:,.0f} | {limit['peak_mb']:,.0f} | 1.00x |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", type=Path, default=None, help="Also write raw results here.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="threadline-bench-") as tmp:
        results = [run(units, args.seed, Path(tmp)) for units in args.units]
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
