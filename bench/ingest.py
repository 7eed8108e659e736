"""Ingest benchmark: Threadline's end-to-end load against pyoxigraph's bulk load of the same triples.

    .venv/bin/python bench/ingest.py [--units 10000 100000] [--seed 42] [--morph-kgc PYTHON]

For each size: generate the demo exports, then in fresh processes (so each peak RSS is its own)
  1. threadline: map every export through the mapping pack and commit it (`load_files`) into an on-disk
     store — the path `threadline load` takes;
  2. limit: pyoxigraph `bulk_load` of exactly the quads step 1 produced (same batch graphs), pre-serialised
     as N-Quads, into a fresh on-disk store;
and print records/s, triples/s, peak memory and the ratio threadline/limit side by side. With
``--morph-kgc PYTHON`` (the interpreter of a separate environment holding morph-kgc, which cannot be installed
beside our stack), also map the QMS inspection-results CSV with the same YARRRML mapping through both engines,
as whole processes writing N-Quads, and check they produce the same quads.
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


MORPH_MAPPING = REPO / "ingest" / "qms" / "inspection-results.yarrrml.yml"


def morph_vs_threadline(morph_python: str, exports: Path, workdir: Path) -> dict:
    """Same YARRRML mapping, same CSV, both engines as whole processes writing N-Quads (no store)."""
    import subprocess

    config = workdir / "morph.ini"
    morph_out, ours_out = workdir / "morph.nq", workdir / "ours.nq"
    config.write_text(
        f"[CONFIGURATION]\noutput_file={morph_out}\noutput_format=N-QUADS\nnumber_of_processes=1\n\n"
        f"[DataSource1]\nmappings={MORPH_MAPPING}\n"
    )
    timings = {}
    for name, command, cwd in (
        ("morph-kgc", [morph_python, "-m", "morph_kgc", str(config)], exports / "qms"),
        (
            "threadline",
            [
                sys.executable,
                "-m",
                "threadline",
                "map",
                str(MORPH_MAPPING),
                "--base",
                str(exports / "qms"),
                "-o",
                str(ours_out),
            ],
            REPO,
        ),
    ):
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=True, capture_output=True)
        timings[name] = time.perf_counter() - started
    import pyoxigraph as ox

    ours = {str(q) for q in ox.parse(path=str(ours_out), format=ox.RdfFormat.N_QUADS)}
    theirs = {str(q) for q in ox.parse(path=str(morph_out), format=ox.RdfFormat.N_QUADS)}
    return {"quads": len(ours), "same_output": ours == theirs, **timings}


def report(results: list[dict]) -> str:
    lines = [
        "| units | path | seconds | records/s | triples/s | peak MB | ratio to limit |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if "threadline" not in r:
            continue
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
    morph = [r for r in results if "morph" in r]
    if morph:
        lines += [
            "",
            "| units | quads | morph-kgc s | threadline s | speed-up | same quads |",
            "|---:|---:|---:|---:|---:|---|",
        ]
        for r in morph:
            m = r["morph"]
            lines.append(
                f"| {r['units']:,} | {m['quads']:,} | {m['morph-kgc']:.2f} | {m['threadline']:.2f} | "
                f"{m['morph-kgc'] / m['threadline']:.1f}x | {m['same_output']} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", type=Path, default=None, help="Also write raw results here.")
    parser.add_argument("--morph-kgc", dest="morph", default=None, help="Python of an environment with morph-kgc.")
    parser.add_argument("--skip-load", action="store_true", help="Only the morph-kgc comparison.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="threadline-bench-") as tmp:
        results = []
        for units in args.units:
            if args.skip_load:
                from threadline.demo import generate

                generate(Path(tmp) / f"exports-{units}", units=units, seed=args.seed)
                result: dict = {"units": units}
            else:
                result = run(units, args.seed, Path(tmp))
            if args.morph:
                result["morph"] = morph_vs_threadline(args.morph, Path(tmp) / f"exports-{units}", Path(tmp))
                print(f"[{units:,} units] morph-kgc vs threadline: {result['morph']}", flush=True)
            results.append(result)
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
