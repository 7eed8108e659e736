"""What every verb shows of a store, read by a fresh process after a kill (tests/test_crash.py).

    python tests/crash_views.py STORE

Prints one JSON object. First the recovery, measured the way a user meets it — a new process opening the
killed store the one way every verb does (``open_store``) and answering a query over the thread:
``open_s`` (recognise and hide), ``first_answer_s`` (open plus that first answer), ``rss_mb`` (this process's
peak RSS by then: imports included, so it is an upper bound on what recovery costs) and ``hidden`` (the
uncommitted graphs found). Then ``views``: each verb's answer, run through the CLI, each verb opening the store
itself (so it recovers again, often while the leftovers of the previous open are still there); ``verbs_s`` and
``verb_s`` say how long they took (reported, never compared).

The views are compact so that a 10k-unit store costs neither memory nor time to compare: the dump is streamed
to a file and reduced to a count and an order-independent digest of the batch graphs' triples (a sum of
per-triple hashes: equal multisets of triples give equal digests, whatever the batch graph names and the dump
order), the validation report to a digest of its sorted results. One process for all the verbs pays the
import once per attempt.
"""

from __future__ import annotations

import hashlib
import json
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

from click.testing import CliRunner

from threadline.cli import main
from threadline.namespaces import BATCH_GRAPH_PREFIX
from threadline.store import open_store

BATCH_COUNT = (
    "SELECT (COUNT(*) AS ?n) (COUNT(DISTINCT ?g) AS ?graphs) WHERE { GRAPH ?g { ?s ?p ?o } "
    f'FILTER(STRSTARTS(STR(?g), "{BATCH_GRAPH_PREFIX}")) }}'
)
BATCH_GRAPH = f"<{BATCH_GRAPH_PREFIX}".encode()
MODULUS = 1 << 128
_STATS_ROW = re.compile(r"│ (\S+?)…? +│ +([\d,]+) │")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _digest(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()


TIMINGS: dict[str, float] = {}  # seconds per verb, for the summary (not compared)


def _verb(*args: str) -> tuple[int, str]:
    started = time.perf_counter()
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    name = " ".join(a for a in args[:2] if not a.startswith("-"))
    TIMINGS[name] = TIMINGS.get(name, 0.0) + time.perf_counter() - started
    if result.exit_code not in (0, 1):
        raise SystemExit(f"threadline {' '.join(args)} exited {result.exit_code}: {result.output}")
    return result.exit_code, result.stdout


def recovery(store: str) -> dict[str, object]:
    """The recovering open and the first answer after it, timed, in this fresh process."""
    started = time.perf_counter()
    opened = open_store(store)
    open_s = time.perf_counter() - started
    hidden = len(getattr(opened, "hidden", ()))
    opened.select(BATCH_COUNT)
    first_answer_s = time.perf_counter() - started
    rss = _rss_mb()
    opened.close()  # stops the cleanup midway: the verbs below reopen, hide and resume it
    return {"open_s": open_s, "first_answer_s": first_answer_s, "rss_mb": rss, "hidden": hidden}


def dump_view(store: str) -> list[object]:
    """Count and multiset digest of the triples in batch graphs, streamed from ``threadline dump -o``."""
    with tempfile.TemporaryDirectory(prefix="crash-dump-") as folder:
        path = Path(folder) / "dump.nq"
        code, _ = _verb("dump", "--store", store, "--output", str(path))
        count, total = 0, 0
        with path.open("rb") as handle:
            for line in handle:
                # N-Quads: "S P O G ." — an IRI holds no space, so the graph is the second field from the end
                triple, graph, _ = line.rsplit(b" ", 2)
                if graph.startswith(BATCH_GRAPH):
                    count += 1
                    total += int.from_bytes(hashlib.blake2b(triple, digest_size=16).digest(), "big")
    return [code, count, f"{total % MODULUS:032x}"]


def views(store: str) -> dict[str, object]:
    """What each verb shows of the thread (the batch graphs' data), read through the CLI."""
    found: dict[str, object] = {}
    code, out = _verb("query", "--sparql", BATCH_COUNT, "--format", "csv", "--store", store)
    found["query"] = [code, out.strip()]
    code, out = _verb("query", "oee-by-work-unit", "--format", "json", "--store", store)
    found["named query"] = [code, len(out), hashlib.sha256(out.strip().encode()).hexdigest()]
    code, out = _verb("stats", "--store", store)
    rows = [int(n.replace(",", "")) for g, n in _STATS_ROW.findall(out) if g.startswith(BATCH_GRAPH_PREFIX)]
    found["stats"] = [code, len(rows), sum(rows)]
    found["dump"] = dump_view(store)
    code, out = _verb("validate", "--format", "json", "--store", store)
    results = [f"{r['focus']}\t{r['message']}" for r in json.loads(out)["results"]]
    found["validate"] = [code, len(set(results)), _digest(list(set(results)))]
    code, _ = _verb("audit", "verify", "--store", store)
    found["audit verify"] = code
    code, out = _verb("kpi", "refresh", "--store", store)
    found["kpi"] = [code, out.strip()]
    return found


def main_(store: str) -> None:
    report = recovery(store)
    started = time.perf_counter()
    report["views"] = views(store)
    report["verbs_s"] = time.perf_counter() - started
    report["verb_s"] = {name: round(seconds, 2) for name, seconds in TIMINGS.items()}
    print(json.dumps(report))


if __name__ == "__main__":
    main_(sys.argv[1])
