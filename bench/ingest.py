"""Ingest benchmark: ``threadline load`` as a user runs it, against pyoxigraph's bulk load of the same quads.

    .venv/bin/python bench/ingest.py [--units 10000 100000] [--repeat 3] [--seed 42] [--morph-kgc PYTHON]

For each size: generate the demo exports, then, ``--repeat`` times, alternating which side goes first:
  1. threadline: ``threadline load SYSTEM DIR/SYSTEM --store S`` for plm, erp, mes and qms, each a fresh CLI
     process, into a fresh on-disk store — mapping, staging, the validation gate, the commit with provenance and
     audit entry, and the after-commit KPI maintenance, exactly what an operator runs;
  2. limit: one process that ``bulk_load``s the final quads of step 1 (every graph: data, provenance, audit,
     KPI summaries — ``threadline dump`` of the first run, made outside the timing) into a fresh on-disk store;
     the first run is always Threadline's, so that dump exists before the limit's first run.
Both sides are timed as whole processes: wall time, CPU time (user + system, from ``wait4``) and peak RSS.
The two stores must hold the same number of quads (asserted). Reported: min / median / max per side, the
ratio of the medians, and each store's size on disk.

With ``--morph-kgc PYTHON`` (the interpreter of a separate environment holding morph-kgc, which cannot be
installed beside our stack), also map the QMS inspection-results CSV with the same YARRRML mapping through
both engines, as whole processes writing N-Quads, and check they produce the same quads.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SYSTEMS = ("plm", "erp", "mes", "qms")
BIN = Path(sys.executable).parent
BULK = """
import sys, pyoxigraph as ox
store = ox.Store(sys.argv[2])
store.bulk_load(path=sys.argv[1], format=ox.RdfFormat.N_QUADS)
store.flush()
print(len(store))
"""


def _run(command: list[str], env: dict[str, str] | None = None) -> dict[str, float | str]:
    """Run ``command`` to the end: its wall time, CPU time (user + system) and peak RSS, from ``wait4``."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=REPO)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: keep Popen from waiting again
        out.seek(0), err.seek(0)
        if process.returncode:
            raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{err.read().decode()[-2000:]}")
        return {
            "wall": wall,
            "cpu": usage.ru_utime + usage.ru_stime,
            "peak_mb": usage.ru_maxrss / 1024,
            "stdout": out.read().decode(),
        }


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _quads(store: Path) -> int:
    import pyoxigraph as ox

    return len(ox.Store.read_only(str(store)))


def threadline_side(exports: Path, store: Path) -> dict[str, float]:
    env = {**os.environ, "THREADLINE_INGEST_DIR": str(REPO / "ingest")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as users run it: compiled modules cached, not recompiled per process
    wall = cpu = peak = 0.0
    for system in SYSTEMS:
        done = _run([str(BIN / "threadline"), "load", system, str(exports / system), "--store", str(store)], env)
        wall, cpu, peak = wall + float(done["wall"]), cpu + float(done["cpu"]), max(peak, float(done["peak_mb"]))
    return {"wall": wall, "cpu": cpu, "peak_mb": peak, "quads": _quads(store), "bytes": _size(store)}


def limit_side(nquads: Path, store: Path) -> dict[str, float]:
    done = _run([sys.executable, "-c", BULK, str(nquads), str(store)])
    quads = int(str(done["stdout"]).strip())
    return {"wall": done["wall"], "cpu": done["cpu"], "peak_mb": done["peak_mb"], "quads": quads, "bytes": _size(store)}


def run(units: int, seed: int, repeat: int, workdir: Path) -> dict:
    from threadline.demo import generate

    exports = workdir / f"exports-{units}"
    started = time.perf_counter()
    generate(exports, units=units, seed=seed)
    print(f"[{units:,} units] generated exports in {time.perf_counter() - started:.1f} s", flush=True)
    nquads = workdir / f"final-{units}.nq"
    sides: dict[str, list[dict[str, float]]] = {"threadline": [], "bulk_load": []}
    for attempt in range(repeat):
        order = ("threadline", "bulk_load") if attempt % 2 == 0 else ("bulk_load", "threadline")
        for side in order:
            store = workdir / f"{side}-{units}"
            shutil.rmtree(store, ignore_errors=True)
            if side == "threadline":
                result = threadline_side(exports, store)
                if not nquads.exists():  # the final quads the limit loads: the first run's, dumped untimed
                    dump = [str(BIN / "threadline"), "dump", "--store", str(store), "-o", str(nquads)]
                    subprocess.run(dump, check=True, cwd=REPO, capture_output=True)
            else:
                result = limit_side(nquads, store)
            sides[side].append(result)
            print(f"[{units:,} units] run {attempt + 1} {side}: {json.dumps(result)}", flush=True)
            shutil.rmtree(store)
    counts = {side: {r["quads"] for r in results} for side, results in sides.items()}
    assert counts["threadline"] == counts["bulk_load"] and len(counts["threadline"]) == 1, f"quad counts: {counts}"
    return {"units": units, **sides}


MORPH_MAPPING = REPO / "ingest" / "qms" / "inspection-results.yarrrml.yml"


def morph_vs_threadline(morph_python: str, exports: Path, workdir: Path) -> dict:
    """Same YARRRML mapping, same CSV, both engines as whole processes writing N-Quads (no store)."""
    config = workdir / "morph.ini"
    morph_out, ours_out = workdir / "morph.nq", workdir / "ours.nq"
    config.write_text(
        f"[CONFIGURATION]\noutput_file={morph_out}\noutput_format=N-QUADS\nnumber_of_processes=1\n\n"
        f"[DataSource1]\nmappings={MORPH_MAPPING}\n"
    )
    ours = [sys.executable, "-m", "threadline", "map", str(MORPH_MAPPING), "--base", str(exports / "qms")]
    timings = {}
    for name, command, cwd in (
        ("morph-kgc", [morph_python, "-m", "morph_kgc", str(config)], exports / "qms"),
        ("threadline", [*ours, "-o", str(ours_out)], REPO),
    ):
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=True, capture_output=True)
        timings[name] = time.perf_counter() - started
    import pyoxigraph as ox

    mine = {str(q) for q in ox.parse(path=str(ours_out), format=ox.RdfFormat.N_QUADS)}
    theirs = {str(q) for q in ox.parse(path=str(morph_out), format=ox.RdfFormat.N_QUADS)}
    return {"quads": len(mine), "same_output": mine == theirs, **timings}


def _spread(values: list[float], fmt: str = "{:.1f}") -> str:
    return " / ".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def report(results: list[dict]) -> str:
    lines = [
        "| units | side | quads | wall s (min / median / max) | CPU s (min / median / max) | peak MB | "
        "store MB | wall ratio | CPU ratio | size ratio |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if "threadline" not in r:
            continue
        limit = r["bulk_load"]
        base = {k: statistics.median(x[k] for x in limit) for k in ("wall", "cpu", "bytes")}
        for side, label in (("threadline", "`threadline load` ×4 systems"), ("bulk_load", "pyoxigraph bulk_load")):
            runs = r[side]
            median = {k: statistics.median(x[k] for x in runs) for k in ("wall", "cpu", "bytes")}
            lines.append(
                f"| {r['units']:,} | {label} | {runs[0]['quads']:,} | {_spread([x['wall'] for x in runs])} | "
                f"{_spread([x['cpu'] for x in runs])} | {max(x['peak_mb'] for x in runs):,.0f} | "
                f"{median['bytes'] / 2**20:,.0f} | {median['wall'] / base['wall']:.2f}x | "
                f"{median['cpu'] / base['cpu']:.2f}x | {median['bytes'] / base['bytes']:.2f}x |"
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
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", type=Path, default=None, help="Where stores go (default: a temporary folder).")
    parser.add_argument("--json", type=Path, default=None, help="Also write raw results here.")
    parser.add_argument("--morph-kgc", dest="morph", default=None, help="Python of an environment with morph-kgc.")
    parser.add_argument("--skip-load", action="store_true", help="Only the morph-kgc comparison.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="threadline-bench-", dir=args.workdir) as tmp:
        results = []
        for units in args.units:
            if args.skip_load:
                from threadline.demo import generate

                generate(Path(tmp) / f"exports-{units}", units=units, seed=args.seed)
                result: dict = {"units": units}
            else:
                result = run(units, args.seed, args.repeat, Path(tmp))
            if args.morph:
                result["morph"] = morph_vs_threadline(args.morph, Path(tmp) / f"exports-{units}", Path(tmp))
                print(f"[{units:,} units] morph-kgc vs threadline: {result['morph']}", flush=True)
            results.append(result)
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
