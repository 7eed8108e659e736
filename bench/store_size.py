"""Where an on-disk store's size goes, against pyoxigraph ``bulk_load`` of the same quads (issue #13).

    .venv/bin/python bench/store_size.py --units 10000 [--seed 42] [--work DIR] [--store EXISTING]

1. Loads the demo's four systems with ``threadline load`` as an operator would (one process per system, KPI
   maintenance and audit included), sampling the staging folder and the store folder every 0.3 s for their
   peak sizes during each load (skipped with ``--store``, which analyses a store already loaded);
2. sorts the store's files by kind (table files, write-ahead log, info logs, the rest) and its table files by
   whether RocksDB wrote them LZ4-compressed or not (a 1 MB sample from each: LZ4 output hardly deflates
   further, plain tables shrink to under a fifth);
3. counts the quads per graph family (batch graphs per system, provenance, catalog, audit, KPI, archive, ...);
4. dumps the store as N-Quads and ``bulk_load``s them into a fresh store (the reference), then compacts copies
   of both (``optimize()``, what RocksDB's own compactions converge to) and reports all four sizes.

Prints a markdown table for docs/performance.md ("Store size on disk").
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SYSTEMS = ("plm", "erp", "mes", "qms")
GRAPH = "https://w3id.org/threadline/graph/"


def du(folder: Path) -> int:
    """Bytes the folder's files occupy on disk (allocated blocks, as ``du``)."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):  # deleted while walking (compaction, a staged file loaded)
                total += os.stat(os.path.join(root, name)).st_blocks * 512
    return total


class Peaks(threading.Thread):
    """Samples the sizes of some folders until stopped; keeps each one's peak."""

    def __init__(self, *folders: Path) -> None:
        super().__init__(daemon=True)
        self.folders = folders
        self.peak = dict.fromkeys(folders, 0)
        self.both = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            sizes = {folder: du(folder) for folder in self.folders}
            for folder, size in sizes.items():
                self.peak[folder] = max(self.peak[folder], size)
            self.both = max(self.both, sum(sizes.values()))
            time.sleep(0.3)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def load(exports: Path, store: Path) -> list[dict[str, int | str]]:
    """Load the four systems one CLI process each; per system: the store before, its peak and after, and the
    staging folder's peak."""
    staging = store.with_name(store.name + ".staging")
    rows: list[dict[str, int | str]] = []
    for system in SYSTEMS:
        before = du(store) if store.exists() else 0
        peaks = Peaks(staging, store)
        peaks.start()
        try:
            command = [str(REPO / ".venv/bin/threadline"), "load", system, str(exports / system), "--store", str(store)]
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        finally:
            peaks.stop()
        inputs = du(exports / system)
        row = {"system": system, "inputs": inputs, "staging peak": peaks.peak[staging], "store before": before}
        rows.append({**row, "store peak": peaks.peak[store], "store after": du(store), "together": peaks.both})
    return rows


def files_by_kind(store: Path) -> dict[str, int]:
    kinds: collections.Counter[str] = collections.Counter()
    for entry in store.iterdir():
        name, size = entry.name, entry.stat().st_blocks * 512
        if name.endswith(".sst"):
            kinds["tables, LZ4" if _compressed(entry) else "tables, not compressed"] += size
        elif name.endswith(".log"):
            kinds["write-ahead log"] += size
        elif name.startswith("LOG"):
            kinds["info logs"] += size
        else:
            kinds["MANIFEST, OPTIONS, CURRENT, ..."] += size
    return dict(kinds)


def _compressed(table: Path) -> bool:
    size = table.stat().st_size
    with table.open("rb") as handle:
        handle.seek(size // 2 if size > 2 << 20 else 0)
        sample = handle.read(1 << 20)
    return len(zlib.compress(sample, 1)) > 0.5 * len(sample)


def families(store: Path) -> dict[str, int]:
    import pyoxigraph as ox

    native = ox.Store.read_only(str(store))
    counts: collections.Counter[str] = collections.Counter()
    for quad in native.quads_for_pattern(None, None, None, None):
        graph = quad.graph_name
        name = "(default graph)" if isinstance(graph, ox.DefaultGraph) else graph.value
        match = re.match(re.escape(GRAPH) + r"(batch/[a-z]+|[a-z-]+)", name)
        counts[match.group(1) if match else name] += 1
    del native
    return dict(counts.most_common())


def reference(store: Path, work: Path) -> dict[str, int]:
    """Sizes of the bulk-loaded reference and of compacted copies of both stores."""
    import pyoxigraph as ox

    dump = work / "dump.nq"
    native = ox.Store.read_only(str(store))
    with dump.open("wb") as out:
        native.dump(out, ox.RdfFormat.N_QUADS)
    del native
    bulk = work / "bulk"
    shutil.rmtree(bulk, ignore_errors=True)
    fresh = ox.Store(str(bulk))
    fresh.bulk_load(path=str(dump), format=ox.RdfFormat.N_QUADS)
    fresh.flush()
    del fresh
    sizes = {"bulk_load, fresh": du(bulk)}
    dump.unlink()
    for name, source in (("bulk_load, compacted", bulk), ("threadline, compacted", store)):
        copy = work / "compacted"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(source, copy)
        native = ox.Store(str(copy))
        native.optimize()
        native.flush()
        del native
        sizes[name] = du(copy)
        shutil.rmtree(copy)
    shutil.rmtree(bulk)
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--work", type=Path, default=REPO / "var" / "bench-store-size")
    parser.add_argument("--store", type=Path, default=None, help="analyse this loaded store instead of loading")
    parser.add_argument("--no-reference", action="store_true", help="skip the bulk_load reference and compactions")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    store = args.store
    if store is None:
        from threadline.demo import generate

        exports, store = args.work / "exports", args.work / "store"
        shutil.rmtree(exports, ignore_errors=True)
        shutil.rmtree(store, ignore_errors=True)
        generate(exports, units=args.units, seed=args.seed)
        started = time.perf_counter()
        rows = load(exports, store)
        print(f"loaded in {time.perf_counter() - started:.0f} s\n")
        print("| system | " + " | ".join(str(key) for key in rows[0] if key != "system") + " |")
        print("|---" * len(rows[0]) + "|")
        for row in rows:
            print(" | ".join([f"| {row['system']}", *(f"{v:,}" for k, v in row.items() if k != "system")]) + " |")
    total = du(store)
    print("\n| part of the Threadline store | bytes | % |\n|---|---:|---:|")
    for kind, size in sorted(files_by_kind(store).items(), key=lambda item: -item[1]):
        print(f"| {kind} | {size:,} | {100 * size / total:.1f} |")
    print(f"| total | {total:,} | 100 |")
    counts = families(store)
    quads = sum(counts.values())
    print("\n| graph family | quads | % |\n|---|---:|---:|")
    for family, count in counts.items():
        print(f"| {family} | {count:,} | {100 * count / quads:.2f} |")
    if args.no_reference:
        return
    sizes = {"threadline": total, **reference(store, args.work)}
    print("\n| store of the same quads | bytes | ratio to bulk_load, fresh |\n|---|---:|---:|")
    for name, size in sizes.items():
        print(f"| {name} | {size:,} | {size / sizes['bulk_load, fresh']:.2f}x |")


if __name__ == "__main__":
    main()
