"""Crash recovery benchmark: how long and how much memory until a store killed mid-load serves again.

    .venv/bin/python bench/crash_recovery.py [--units 10000 100000] [--seed 42] [--repeat 3]

For each size, in fresh processes (so each peak RSS is its own):
  1. generate the demo exports; load the PLM export (the committed state before);
  2. ``threadline``'s loader maps and bulk-stages the MES export, then the process SIGKILLs itself on entering
     the commit: the worst case, every staged quad left uncommitted;
  3. a fresh process opens the store the way every verb does (``open_store``) and answers a query over the
     thread: *recovery* is the time and peak RSS until that first correct answer; then it watches the
     background cleanup for up to ``--cleanup-limit`` seconds and reports its removal rate and peak RSS, and
     the query's time while the leftovers were hidden and (if the cleanup ended) after. Step 3 runs
     ``--repeat`` times on copies of the killed store (min/median/max).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

COUNT = (
    "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } "
    'FILTER(STRSTARTS(STR(?g), "https://w3id.org/threadline/graph/batch/")) }'
)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _load_and_die(exports: str, store_dir: str) -> None:
    from threadline.ingest import load_files, loader
    from threadline.store import open_store

    def die(*_: object, **__: object) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    store = open_store(store_dir)
    load_files(store, "plm", [Path(exports) / "plm"], ingest_dir=REPO / "ingest")
    staged = time.perf_counter()
    loader._commit = die  # type: ignore[assignment]
    print(f"  loading MES until the commit (staging started at {staged:.0f})", flush=True)
    load_files(store, "mes", [Path(exports) / "mes"], ingest_dir=REPO / "ingest")


def _recover(store_dir: str, limit: float, queue: mp.Queue) -> None:
    from threadline.store import open_store

    baseline = _rss_mb()
    started = time.perf_counter()
    store = open_store(store_dir)
    opened = time.perf_counter()
    hidden = len(store.hidden)  # type: ignore[attr-defined]
    answer = int(store.select(COUNT).values("n")[0])
    first = time.perf_counter()
    query_hidden = min(_timed(store) for _ in range(3))
    rss_serving = _rss_mb()
    done = store.wait_recovered(timeout=limit)  # type: ignore[attr-defined]
    cleaned = time.perf_counter()
    removed = sum(c.removed_quads for c in store._cleaners)  # type: ignore[attr-defined]
    query_clean = min(_timed(store) for _ in range(3)) if done else float("nan")
    assert int(store.select(COUNT).values("n")[0]) == answer, "the answer changed when the cleanup ended"
    store.close()
    queue.put(
        {
            "open_s": opened - started,
            "first_answer_s": first - started,
            "cleanup_s": cleaned - started,
            "cleanup_done": done,
            "removed_quads": removed,
            "removal_rate": removed / (cleaned - first),
            "hidden_graphs": hidden,
            "baseline_mb": baseline,
            "serving_peak_mb": rss_serving,
            "cleanup_peak_mb": _rss_mb(),
            "query_hidden_s": query_hidden,
            "query_clean_s": query_clean,
        }
    )


def _timed(store: object) -> float:
    started = time.perf_counter()
    store.select(COUNT)  # type: ignore[attr-defined]
    return time.perf_counter() - started


def _leftover_quads(store_dir: str, queue: mp.Queue) -> None:
    import pyoxigraph as ox

    from threadline.store.recovery import uncommitted

    native = ox.Store.read_only(store_dir)
    graphs = uncommitted(native)
    queue.put(sum(sum(1 for _ in native.quads_for_pattern(None, None, None, ox.NamedNode(g))) for g in graphs))


def _in_process(target, *args):  # type: ignore[no-untyped-def]
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def run(units: int, seed: int, repeat: int, work: Path, limit: float) -> None:
    from threadline.demo import generate

    exports, killed = work / f"exports-{units}", work / f"killed-{units}"
    generate(exports, units=units, seed=seed)
    ctx = mp.get_context("spawn")
    process = ctx.Process(target=_load_and_die, args=(str(exports), str(killed)))
    started = time.perf_counter()
    process.start()
    process.join()
    print(
        f"{units} units: load killed at the commit after {time.perf_counter() - started:.0f} s "
        f"(exit {process.exitcode})"
    )
    leftovers = _in_process(_leftover_quads, str(killed))
    print(f"  {leftovers:,} uncommitted quads left behind")
    runs = []
    for attempt in range(repeat):
        copy = work / f"copy-{units}-{attempt}"
        shutil.copytree(killed, copy)
        runs.append(_in_process(_recover, str(copy), limit))
        shutil.rmtree(copy)
        print(
            f"  run {attempt + 1}: "
            + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in runs[-1].items()),
            flush=True,
        )
    for key in (
        "open_s",
        "first_answer_s",
        "cleanup_s",
        "removal_rate",
        "serving_peak_mb",
        "cleanup_peak_mb",
        "query_hidden_s",
        "query_clean_s",
    ):
        values = [r[key] for r in runs]
        print(f"  {key:16} min {min(values):9.3f}  median {statistics.median(values):9.3f}  max {max(values):9.3f}")
    rate = statistics.median(r["removal_rate"] for r in runs)
    print(
        f"  background removal {rate:,.0f} quads/s: all {leftovers:,} leftovers gone in about {leftovers / rate:,.0f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cleanup-limit", type=float, default=600.0, help="Seconds to watch the cleanup.")
    parser.add_argument("--work", type=Path, default=None, help="Folder for exports and stores (default: temp).")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="threadline-crash-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        for units in args.units:
            run(units, args.seed, args.repeat, work, args.cleanup_limit)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
