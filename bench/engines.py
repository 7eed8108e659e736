"""The same workload on each store engine: embedded on disk, `oxigraph serve`, OpenLink Virtuoso.

    .venv/bin/python bench/engines.py --units 10000 [--repeat 3] [--work var/bench-engines]

Generates the demo thread (seed 42) once; then, per repetition and alternating the engines (embedded, Oxigraph
server, Virtuoso, embedded, …), loads it into a fresh store through the mapping pack (with the gate, audit and
KPI refresh, as `threadline load` does) and runs every named query with its documented example, timing each.
Every engine's rows must equal the embedded store's (a query an engine refuses for a known limit is reported as
refused, never timed). Prints min/median/max per step as a Markdown table for docs/stores.md. The servers are
started on loopback exactly as the test suite starts them (tests/conftest.py, tests/virtuoso.py).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import OxigraphServer, load_demo  # noqa: E402
from tests.virtuoso import VirtuosoServer  # noqa: E402
from threadline import kpi, queries  # noqa: E402
from threadline.errors import EngineLimit  # noqa: E402
from threadline.store import Store, open_store  # noqa: E402


def rows(store: Store, name: str) -> list[tuple[str, ...]]:
    query = queries.get(name)
    store.require(*query.needs)
    params = {p.name: p.example for p in query.parameters if p.example is not None}
    result = store.select(query.text, query.bindings({k: str(v) for k, v in params.items()}))
    return sorted(tuple("" if t is None else _value(t) for t in row) for row in result.rows)


def _value(term: Any) -> str:
    try:
        return f"{float(term.value):.6g}"
    except ValueError:
        return str(term.value)


def run(engine: str, url: str, exports: Path, times: dict[str, list[float]], answers: dict[str, Any]) -> None:
    store = open_store(url)
    if engine != "embedded":
        for graph in store.graphs():
            store.drop_graph(graph)
    started = time.perf_counter()
    load_demo(store, exports)
    kpi.refresh(store)
    times["load + KPI refresh"].append(time.perf_counter() - started)
    for name in sorted(queries.catalogue()):
        started = time.perf_counter()
        try:
            got = rows(store, name)
        except EngineLimit:
            times[name].append(float("nan"))
            continue
        times[name].append(time.perf_counter() - started)
        reference = answers.setdefault(name, got)
        if got != reference:
            raise SystemExit(f"{engine}: {name} answers differently from the embedded store")
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-engines-"))
    exports = work / "exports"
    if not exports.exists():
        from threadline.demo import generate

        generate(exports, units=args.units, seed=42)
    oxigraph = OxigraphServer(work / "oxigraph")
    virtuoso = VirtuosoServer(_fresh(work / "virtuoso"))
    timings: dict[str, dict[str, list[float]]] = {e: defaultdict(list) for e in ("embedded", "oxigraph", "virtuoso")}
    answers: dict[str, Any] = {}
    try:
        for rep in range(args.repeat):
            for engine, url in (
                ("embedded", str(work / f"embedded-{rep}")),
                ("oxigraph", oxigraph.url),
                ("virtuoso", virtuoso.url),
            ):
                run(engine, url, exports, timings[engine], answers)
                print(f"rep {rep + 1}: {engine} done", file=sys.stderr)
    finally:
        oxigraph.stop()
        virtuoso.stop()
    head = f"step ({args.units:,} units, s: min / median / max of {args.repeat})"
    print(f"| {head} | embedded | Oxigraph server | Virtuoso |")
    print("|---|---|---|---|")
    for step in timings["embedded"]:
        cells = [_cell(timings[e][step]) for e in ("embedded", "oxigraph", "virtuoso")]
        print(f"| {step} | " + " | ".join(cells) + " |")


def _cell(values: list[float]) -> str:
    if any(v != v for v in values):
        return "refused (engine limit)"
    return f"{min(values):.3f} / {statistics.median(values):.3f} / {max(values):.3f}"


def _fresh(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


if __name__ == "__main__":
    main()
