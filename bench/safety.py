"""What the SERVICE/LOAD check and the sandbox cost per request.

    .venv/bin/python bench/safety.py [--reps 7] [--n 200]

Side by side, alternating, repeated ``--reps`` times (min/median/max of the per-call mean over ``--n`` calls):
  1. gate: ``check_query`` on a query that does not contain the word ``service`` (no parse);
  2. parse: ``check_query`` on the same query with ``ex:service`` in it (rdflib parse; the verdict cache is
     cleared before each call, as for a text seen for the first time);
  3. cached: the same text again (the verdict cache);
  4. thread: running a trivial pyoxigraph query on a fresh plain thread;
  5. confined: the same on a fresh thread confined by ``threadline.store.sandbox`` (seccomp filter load included).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pyoxigraph as ox

from threadline.store import safety, sandbox

QUERY = (
    "PREFIX ex: <http://x/>\nSELECT ?unit ?lot WHERE {{ ?unit ex:consumed ?lot . ?lot a ex:Lot ; ex:{word} ?v . "
    "OPTIONAL {{ ?lot ex:supplier ?s }} FILTER(?v > 3) }} ORDER BY ?unit LIMIT 100"
)


def _plain(fn: Callable[[], object]) -> None:
    thread = threading.Thread(target=fn)
    thread.start()
    thread.join()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    store = ox.Store()
    store.update('INSERT DATA { <http://x/a> <http://x/b> "c" }')

    def engine() -> object:
        return list(store.query("SELECT * { ?s ?p ?o }"))

    def fresh_parse() -> None:
        safety._verdict.cache_clear()
        safety.check_query(QUERY.format(word="service"))

    cases: dict[str, Callable[[], object]] = {
        "gate (no word)": lambda: safety.check_query(QUERY.format(word="status")),
        "parse (rdflib)": fresh_parse,
        "cached verdict": lambda: safety.check_query(QUERY.format(word="service")),
        "plain thread": lambda: _plain(engine),
        "confined thread": lambda: sandbox.confined(engine),
    }
    print(f"sandbox: {sandbox.status()}")
    figures: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.reps):
        for name, case in cases.items():  # alternating: each rep runs every case once
            started = time.perf_counter()
            for _ in range(args.n):
                case()
            figures[name].append((time.perf_counter() - started) / args.n * 1000)
    for name, values in figures.items():
        low, middle, high = min(values), statistics.median(values), max(values)
        print(f"{name:16} min {low:8.3f} ms  median {middle:8.3f} ms  max {high:8.3f} ms")


if __name__ == "__main__":
    main()
