"""What reading a query's dataset clause costs at /sparql (``threadline.sparql.dataset.clause``).

    .venv/bin/python bench/dataset_clause.py [--repeat 7] [--rounds 200]

Every query is lexed once more (a bare ``FROM`` keyword?); only texts with one pay for rdflib's parse. Times,
side by side and alternating, per call: the shipped named queries as written (no FROM), the same with a
``FROM <g>`` added, rdflib's parse of the whole text (what the head parse avoids), and the safety check every
query already pays (``safety.check_query``) for scale.
Prints min / median / max of ``--repeat`` runs of ``--rounds`` calls over all the named queries.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from threadline import queries  # noqa: E402
from threadline.sparql import dataset  # noqa: E402
from threadline.store import safety  # noqa: E402


def with_from(text: str) -> str:
    """The query with ``FROM <g>`` before its first WHERE (the named queries all have one)."""
    return re.sub(r"\bWHERE\b", "FROM <https://example.org/graph/g> WHERE", text, count=1)


def per_call(work: Callable[[str], object], texts: list[str], rounds: int) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        for text in texts:
            work(text)
    return (time.perf_counter() - started) / (rounds * len(texts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    plain = [q.text for q in queries.catalogue().values()]
    froms = [with_from(text) for text in plain]
    assert all(dataset.clause(t) is None for t in plain) and all(dataset.clause(t) for t in froms)
    cases = {
        "safety.check_query (already paid)": (safety.check_query, plain),
        "clause(), no FROM (lexer only)": (dataset.clause, plain),
        "clause(), with FROM (rdflib parses the head)": (dataset.clause, froms),
        "rdflib parseQuery of the whole text (for scale)": (dataset._parse, froms),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.repeat):  # alternating: one run of each per round
        for name, (work, texts) in cases.items():
            rounds = args.rounds if "rdflib" not in name else max(1, args.rounds // (20 if "head" in name else 200))
            times[name].append(per_call(work, texts, rounds))
    sizes = [len(t) for t in plain]
    print(f"{len(plain)} named queries, {min(sizes)}–{max(sizes)} characters\n")
    print("| step | min (ms) | median (ms) | max (ms) |\n|---|---:|---:|---:|")
    for name, values in times.items():
        ms = [v * 1000 for v in values]
        print(f"| {name} | {min(ms):.3f} | {statistics.median(ms):.3f} | {max(ms):.3f} |")


if __name__ == "__main__":
    main()
