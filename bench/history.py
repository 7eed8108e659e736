"""What change sets cost a load (issue #14): wall time and store size, with and without them, side by side.

    .venv/bin/python bench/history.py [--units 1000] [--runs 3] [--seed 42] [--work DIR]

Each run builds a fresh on-disk store twice, alternating "with" and "without" change sets (without: the
recording step of ``audit.commit`` replaced by the identity, so the write and its audit entry are unchanged):
the demo's four systems loaded as snapshots, then the MES export reloaded with corrections as a snapshot
(supersedes the MES batch graphs: removed whole, by reference to their archive), then a delta export of 20
corrected unit records (retractions recorded statement by statement). Times are wall seconds per phase; quads
are counted after the last load, and the store's folder measured on disk after it is closed; then, with change
sets, the whole stream is exported as RDF Patch (time, bytes). Prints a markdown table (min / median / max
over the runs) for docs/history.md.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SYSTEMS = ("plm", "erp", "mes", "qms")
CHANGES_PREFIX = "https://w3id.org/threadline/graph/changes/"


def du(folder: Path) -> int:
    return sum(os.stat(os.path.join(r, n)).st_blocks * 512 for r, _, files in os.walk(folder) for n in files)


def edit_units(folder: Path, column: str, value: str, rows: int, *, only_edited: bool = False) -> None:
    """Correct ``column`` in the first ``rows`` unit records; ``only_edited`` keeps just those (a delta export)."""
    path = folder / "units.csv"
    with path.open(newline="") as handle:
        table = list(csv.DictReader(handle))
    for record in table[:rows]:
        record[column] = value
    table = table[:rows] if only_edited else table
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(table)


def one(exports: Path, work: Path, with_changes: bool) -> dict[str, float]:
    from threadline.audit import guard
    from threadline.history import export
    from threadline.history.changeset import record
    from threadline.ingest import load_files
    from threadline.ingest.loader import LoadOptions
    from threadline.store import open_store

    guard.record = record if with_changes else (lambda text, sequence, changes, **_: text)  # type: ignore[assignment]
    copy = work / "exports"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(exports, copy)
    path = work / "store"
    shutil.rmtree(path, ignore_errors=True)
    store = open_store(f"oxigraph:{path}")
    out: dict[str, float] = {}
    started = time.perf_counter()
    for system in SYSTEMS:
        load_files(store, system, [copy / system], ingest_dir=REPO / "ingest")
    out["load 4 systems (s)"] = time.perf_counter() - started
    edit_units(copy / "mes", "status", "scrapped", rows=10)
    started = time.perf_counter()
    load_files(store, "mes", [copy / "mes"], ingest_dir=REPO / "ingest")
    out["MES snapshot reload (s)"] = time.perf_counter() - started
    delta = work / "delta"
    shutil.rmtree(delta, ignore_errors=True)
    delta.mkdir()
    shutil.copy(copy / "mes" / "units.csv", delta / "units.csv")
    edit_units(delta, "status", "shipped", rows=20, only_edited=True)
    started = time.perf_counter()
    load_files(store, "mes", [delta], ingest_dir=REPO / "ingest", options=LoadOptions(mode="delta"))
    out["MES delta load, 20 units (s)"] = time.perf_counter() - started
    counts = store.stats().graphs
    out["quads in the store (k)"] = sum(counts.values()) / 1e3
    out["of which change sets (k)"] = sum(n for g, n in counts.items() if g.startswith(CHANGES_PREFIX)) / 1e3
    store.close()
    out["store on disk (MB)"] = du(path) / 1e6
    if with_changes:
        store = open_store(f"oxigraph:{path}")
        started = time.perf_counter()
        page = export.page(store, None, None, None)
        out["export all patches (s)"] = time.perf_counter() - started
        page.body.seek(0, 2)
        out["patch stream (MB)"] = page.body.tell() / 1e6
        page.body.close()
        store.close()
    guard.record = record
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    from threadline.demo import generate

    work = args.work or Path(tempfile.mkdtemp(prefix="bench-history-"))
    exports = work / "demo"
    if not exports.exists():
        generate(exports, units=args.units, seed=args.seed)
    results: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    for run in range(args.runs):
        for with_changes in (run % 2 == 0, run % 2 != 0):  # alternate which goes first
            found = one(exports, work / ("with" if with_changes else "without"), with_changes)
            results[with_changes].append(found)
            print(f"run {run + 1} {'with' if with_changes else 'without'}: {found}", file=sys.stderr, flush=True)
    print(f"\n{args.units:,} units, {args.runs} runs, min / median / max\n")
    print("| measure | without change sets | with change sets | ratio (medians) |\n|---|---|---|---|")
    for key in results[True][0]:
        with_ = [r[key] for r in results[True]]
        without = [r[key] for r in results[False] if key in r]
        cell = lambda v: f"{min(v):.2f} / {statistics.median(v):.2f} / {max(v):.2f}"  # noqa: E731
        base = statistics.median(without) if without else 0
        ratio = f"{statistics.median(with_) / base:.2f}x" if base else ""
        print(f"| {key} | {cell(without) if without else '-'} | {cell(with_)} | {ratio} |")


if __name__ == "__main__":
    main()
