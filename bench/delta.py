"""Delta-load benchmark: 100 new units' MES records loaded into the demo thread as `threadline load` does it.

    .venv/bin/python bench/delta.py [--units 10000 100000] [--reps 5] [--gate core] [--work var/bench-delta]

What an integrator's nightly delta pays, end to end: for each size the demo thread (seed 42) is generated and
loaded once into an on-disk store under ``--work`` (reused by later runs); each repetition takes a fresh
checkpoint of it (hard links: every repetition starts from the same state) and runs
``threadline load mes DELTA --mode delta --store CHECKPOINT`` in a fresh process, with the SHACL gate on the
``--gate`` profile in ``accept-with-report`` mode (``THREADLINE_VALIDATION_GATE``: the gate does all its
work and the load commits with its report; ``--gate none`` turns it off) and KPI maintenance as
configured by default. Inside that process the loader's phases are timed by wrapping (never replacing) its
functions: mapping, staging, the gate (before-commit hooks), the KPI plan (the before-commit hook that finds the
contributions the load changes, ``threadline.kpi.delta``), the commit update, and the after-commit hooks (KPI
maintenance); whether the KPIs were maintained incrementally or recomputed is printed per repetition. Wall time
is measured from outside, so it includes the process start a script pays.

Each repetition must end with the same quad count (checked); min/median/max per phase are printed as a Markdown
table for docs/performance.md. The delta records are copies of the last units' MES records under new serial
numbers and operation ids (``bench/validate.py``'s ``_delta``); they lack final inspections, which the gate
reports (100 findings) without refusing the load.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PHASES = ("map", "stage", "gate", "KPI plan (before commit)", "commit", "after-commit (KPI)")


def _child(store: str, delta: str) -> None:
    """In the measured process: wrap the loader's phases, run the CLI's load, print the phase totals as JSON."""
    from threadline.cli import main as cli
    from threadline.ingest import hooks, loader
    from threadline.kpi import delta as kpi_delta

    spent = dict.fromkeys(PHASES, 0.0)

    def timing(module: Any, name: str, phase: str) -> None:
        original: Callable[..., Any] = getattr(module, name)

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[phase] += time.perf_counter() - started

        setattr(module, name, wrapper)

    timing(loader, "_map", "map")
    timing(loader, "_stage_all", "stage")
    timing(hooks, "run_before", "gate")
    timing(kpi_delta, "plan", "KPI plan (before commit)")  # inside run_before: subtracted from the gate
    timing(loader, "_commit", "commit")
    timing(hooks, "run_after", "after-commit (KPI)")
    try:
        cli(["load", "mes", delta, "--mode", "delta", "--store", store], standalone_mode=False)
    finally:
        spent["commit"] -= spent["gate"]  # the gate runs inside _commit: the commit is the rest
        spent["gate"] -= spent["KPI plan (before commit)"]
        print("PHASES " + json.dumps(spent), flush=True)
        print("KPI " + json.dumps({**kpi_delta.outcomes, "reason": kpi_delta.last_reason}), flush=True)


def _prepared(work: Path, units: int) -> tuple[Path, Path]:
    sys.path.insert(0, str(REPO / "bench"))
    from validate import _delta, _prepared  # the same demo store and delta the validation bench uses

    from threadline import kpi

    row: dict[str, Any] = {}
    store = _prepared(work, units, 42, row)
    if not kpi.fresh(store):  # the steady state: a store whose loads keep the summary current
        kpi.refresh(store)
    store.close()
    return work / "store", _delta(work / "exports", work)


def _quads(store: Path) -> int:
    from threadline.store import EmbeddedStore

    opened = EmbeddedStore(store, read_only=True)
    try:
        return len(opened.native)
    finally:
        opened.close()


def run(units: int, reps: int, gate: str, work: Path) -> dict[str, Any]:
    from threadline.store import EmbeddedStore

    base, delta = _prepared(work / f"u{units}-s42", units)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as users run it: compiled modules cached, not recompiled per process
    env["THREADLINE_VALIDATION_GATE"] = "{}" if gate == "none" else json.dumps({gate: "accept-with-report"})
    env.setdefault("THREADLINE_INGEST_DIR", str(REPO / "ingest"))
    runs: list[dict[str, float]] = []
    counts: set[int] = set()
    with tempfile.TemporaryDirectory(prefix="bench-delta-", dir=work) as tmp:
        for rep in range(reps):
            source = EmbeddedStore(base)
            checkpoint = source.backup(Path(tmp) / f"rep-{rep}")
            source.close()
            command = [sys.executable, __file__, "--child", str(checkpoint), str(delta)]
            started = time.perf_counter()
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            wall = time.perf_counter() - started
            if done.returncode != 0:
                raise SystemExit(f"the delta load failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
            line = next(x for x in done.stdout.splitlines() if x.startswith("PHASES "))
            runs.append({"wall": wall, **json.loads(line.removeprefix("PHASES "))})
            maintained = next(x for x in done.stdout.splitlines() if x.startswith("KPI "))
            print(f"  KPI maintenance: {maintained.removeprefix('KPI ')}", file=sys.stderr, flush=True)
            counts.add(_quads(checkpoint))
            shutil.rmtree(checkpoint, ignore_errors=True)
            print(f"  {units:,} units, repetition {rep + 1}: {wall:.2f} s", file=sys.stderr, flush=True)
    if len(counts) != 1:
        raise SystemExit(f"repetitions ended with different quad counts: {sorted(counts)}")
    return {"units": units, "quads": counts.pop(), "runs": runs}


def _cell(values: list[float]) -> str:
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def report(rows: list[dict[str, Any]], gate: str) -> None:
    print(f"\nGate profile: {gate}. Seconds, min / median / max over the repetitions.\n")
    print("| units | quads after | wall (CLI process) | " + " | ".join(PHASES) + " |")
    print("|---:|---:|---:|" + "---:|" * len(PHASES))
    for row in rows:
        cells = [_cell([r[p] for r in row["runs"]]) for p in ("wall", *PHASES)]
        print(f"| {row['units']:,} | {row['quads']:,} | " + " | ".join(cells) + " |")


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--gate", default="core", help="Gate profile, or 'none'.")
    parser.add_argument("--work", type=Path, default=REPO / "var" / "bench-delta")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rows = [run(units, args.reps, args.gate, args.work.resolve()) for units in args.units]
    report(rows, args.gate)


if __name__ == "__main__":
    main()
