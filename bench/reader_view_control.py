"""Is a reader view slower or faster than the base snapshot it was cut from? A control experiment.

    .venv/bin/python bench/reader_view_control.py STORE [--reps 15] [--queries genealogy-backward open-ncr-units]
                                                       [--explain]

Three checkpoints of the on-disk store at ``STORE`` (a folder no process holds open, e.g. one that
``bench/reader_speed.py`` built under ``--work``): ``base`` (as published for admin queries), ``copy`` (a second,
identical checkpoint: the control) and ``view`` (pruned of the system graphs exactly as a reader view is). In one
process, each named query (parameters at their examples) runs on the three with the union default graph,
alternating and rotating the order every repetition. Printed per store: the first run (a freshly opened store's
block cache is cold), min, median and max in ms, and whether the three answers are the same. If ``copy`` differs
from ``base`` as much as ``view`` does, the difference is the machine or the cache, not the view.

``--explain`` also prints, per query, whether pyoxigraph's plan (``oxigraph query --explain``, timings and
generated variable names masked) is the same on ``base`` and ``view``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def cases(only: list[str]) -> list[tuple[str, str]]:
    from threadline import queries
    from threadline.store.params import bind

    found = []
    for name, query in sorted(queries.catalogue(REPO / "queries").items()):
        if not only or name in only:
            given = {p.name: p.example for p in query.parameters if p.required}
            found.append((name, bind(query.text, query.bindings(given))))
    return found


def checkpoints(store_dir: Path, work: Path) -> dict[str, Path]:
    from threadline.store import EmbeddedStore
    from threadline.store.reader_view import View, prune

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    folders = {name: work / name for name in ("base", "copy", "view")}
    live = EmbeddedStore(store_dir)
    for folder in folders.values():
        live.native.backup(str(folder))
    live.close()
    dropped = prune(folders["view"], View(frozenset({"admin", "compliance"})))
    print(f"view: dropped {len(dropped)} system graphs")
    return folders


def plan(folder: Path, text: str) -> str:
    """pyoxigraph's plan for ``text`` on ``folder``, with timings, counts and generated names masked."""
    query = folder.with_name("query.rq")
    query.write_text(text)
    explained = folder.with_name("explain.txt")
    subprocess.run(
        [str(Path(sys.executable).with_name("oxigraph")), "query", "-l", str(folder), "--query-file", str(query),
         "--union-default-graph", "--explain-file", str(explained), "--results-format", "csv"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600,
    )  # fmt: skip
    return re.sub(r"[0-9.e-]+", "#", re.sub(r"\?[0-9a-f]{8,}\b", "?_", explained.read_text()))


def main() -> None:
    import pyoxigraph as ox

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("store", type=Path)
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--queries", nargs="*", default=[])
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--work", type=Path, default=REPO / "var" / "bench-view-control")
    args = parser.parse_args()
    folders = checkpoints(args.store, args.work)
    found = cases(args.queries)
    if args.explain:
        for name, text in found:
            same = plan(folders["base"], text) == plan(folders["view"], text)
            print(f"{name:<22} plan on base and view: {'same' if same else 'DIFFERENT'}", flush=True)
    stores = {name: ox.Store.read_only(str(folder)) for name, folder in folders.items()}
    names = list(stores)
    print(f"{'query':<22} " + " ".join(f"{n + ': first / min / median / max':>38}" for n in names))
    for label, text in found:
        samples: dict[str, list[float]] = {n: [] for n in names}
        answers: dict[str, list[tuple[str, ...]]] = {}
        for rep in range(args.reps):
            for name in names[rep % len(names) :] + names[: rep % len(names)]:
                started = time.perf_counter()
                rows = [tuple(str(t) for t in row) for row in stores[name].query(text, use_default_graph_as_union=True)]
                samples[name].append((time.perf_counter() - started) * 1000)
                answers[name] = rows
        same = "same" if answers["base"] == answers["copy"] == answers["view"] else "ANSWERS DIFFER"
        cells = (f"{s[0]:8.1f} {min(s):8.1f} {statistics.median(s):8.1f} {max(s):9.1f}" for s in samples.values())
        print(f"{label:<22} " + " ".join(f"{c:>38}" for c in cells) + f"  {same}", flush=True)
    del stores
    shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    main()
