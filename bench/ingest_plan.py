"""What loud ingest costs before any record is mapped: choosing mappings by content, the ontology check and a
QIF report's identity, against the name-only plan it replaced.

    .venv/bin/python bench/ingest_plan.py [--units 25000] [--reps 7] [--work var/bench-ingest-plan]

Generates the demo exports once (kept under ``--work``), then, alternating, repeated: ``plan()`` over each
system's export folder (sniffs every file's first element or row, checks every mapping's terms), the same plan
with the name-only matching of main (``git show main:threadline/ingest/plan.py`` is not importable beside
this one, so the baseline here is the plan's own name-only core: load + pair by name), and reading the
identity (``QPId``) of the largest real QIF report when the conformance folder is present. Prints
min / median / max in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from threadline.ingest.content import sniff  # noqa: E402
from threadline.ingest.plan import document_identity, mapping_files, plan  # noqa: E402
from threadline.mapping import load_mapping  # noqa: E402

SYSTEMS = ("plm", "erp", "mes", "qms")


def _name_only(system: str, folder: Path) -> None:
    names = {p.name for p in folder.iterdir()}
    for mapping_path in mapping_files(REPO / "ingest", system):
        loaded = load_mapping(mapping_path)
        all(Path(s).name in names for s in loaded.sources)


def _by_content(system: str, folder: Path) -> None:
    plan(system, [folder], ingest_dir=REPO / "ingest")


def _timed(fn: object, *args: object) -> float:
    started = time.perf_counter()
    fn(*args)  # type: ignore[operator]
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=25_000)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--work", type=Path, default=REPO / "var" / "bench-ingest-plan")
    args = parser.parse_args()
    exports = args.work / f"exports-{args.units}"
    if not exports.exists():
        from threadline.demo import generate

        generate(exports, units=args.units, seed=42)
    _by_content("plm", exports / "plm")  # warm: the ontology is parsed once per process
    results: dict[str, list[float]] = {"name-only": [], "by content + terms": []}
    for _ in range(args.reps):
        results["name-only"].append(sum(_timed(_name_only, s, exports / s) for s in SYSTEMS))
        results["by content + terms"].append(sum(_timed(_by_content, s, exports / s) for s in SYSTEMS))
    sizes = sum(p.stat().st_size for s in SYSTEMS for p in (exports / s).iterdir()) / 1e6
    print(f"{args.units:,} units, {sizes:.0f} MB of exports, {args.reps} alternating reps, ms for all four systems")
    for label, values in results.items():
        print(f"  {label:22} min {min(values):8.1f}  median {statistics.median(values):8.1f}  max {max(values):8.1f}")
    qif = REPO.parent / "shared" / "conformance" / "qif3-samples" / "samples" / "Results"
    if qif.is_dir():
        report = max(qif.rglob("*.QIF"), key=lambda p: p.stat().st_size)
        run = load_mapping(REPO / "ingest" / "qif" / "qif3-results.rml.ttl")
        spec = run.document.triples_maps[0].source
        times = [_timed(document_identity, spec, report) for _ in range(args.reps)]
        print(
            f"  QPId of {report.name} ({report.stat().st_size / 1e3:.0f} kB): "
            f"min {min(times):.1f}  median {statistics.median(times):.1f}  max {max(times):.1f} ms"
        )
    times = [_timed(sniff, exports / "mes" / "production-performance.xml") for _ in range(args.reps)]
    print(f"  sniff production-performance.xml: median {statistics.median(times):.2f} ms")


if __name__ == "__main__":
    main()
