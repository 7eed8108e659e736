"""What taking turns through a shared remote store costs each write: the writer lease and the audit guard.

    .venv/bin/python bench/store_lease.py [--writes 40] [--repeat 3] [--virtuoso-url URL | --no-virtuoso]

Starts `oxigraph serve` and OpenLink Virtuoso on loopback as the test suite does (or uses a running Virtuoso
prepared with deploy/virtuoso-setup.sql). Per repetition, alternating the engines, it times ``--writes`` of each:

- **lease**: taking and giving back the writer lease alone (three requests to take it, one to give it back);
- **audited write, shared**: a small audited SPARQL Update (``INSERT DATA`` of one triple, its audit entry in the
  same request) as the service runs it — writer lease, audit guard and the check that one entry follows;
- **audited write, alone**: the same write on a store handle that says one process has the store (as the
  embedded store does): the cost before several processes could share a store.

Prints the per-write milliseconds (median of each repetition; min/median/max over the repetitions) as a Markdown
table for docs/stores.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import OxigraphServer  # noqa: E402
from tests.virtuoso import VirtuosoServer  # noqa: E402
from threadline import audit  # noqa: E402
from threadline.audit.writes import audited_update  # noqa: E402
from threadline.store import RemoteStore  # noqa: E402
from threadline.store.lease import Lease  # noqa: E402


class Alone(RemoteStore):
    """A remote store handle that takes no lease and no guard: one process writes (the former behaviour)."""

    def writer_lease(self) -> None:  # type: ignore[override]  # None: the embedded store's answer
        return None


def per_write(writes: int, step: Callable[[int], None]) -> float:
    """Median milliseconds of one ``step``."""
    times = []
    for n in range(writes):
        started = time.perf_counter()
        step(n)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def lease_only(store: RemoteStore) -> Callable[[int], None]:
    def step(_: int) -> None:
        lease = Lease(store, "writer", seconds=30, wait=30)
        lease.acquire()
        lease.release()

    return step


def audited(store: RemoteStore, tag: str) -> Callable[[int], None]:
    def step(n: int) -> None:
        text = f'INSERT DATA {{ GRAPH <urn:bench:{tag}> {{ <urn:bench:s{n}> <urn:bench:p> "{n}" }} }}'
        audited_update(store, text, actor="bench", reason="bench")

    return step


def round_on(url: str, writes: int) -> dict[str, float]:
    shared, alone = RemoteStore(url), Alone(url)
    try:
        for graph in shared.graphs():
            shared.drop_graph(graph)
        out = {
            "lease": per_write(writes, lease_only(shared)),
            "audited write, shared": per_write(writes, audited(shared, "shared")),
            "audited write, alone": per_write(writes, audited(alone, "alone")),
        }
        assert audit.verify(shared).intact
        return out
    finally:
        shared.close()
        alone.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writes", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--virtuoso-url", default=None)
    parser.add_argument("--no-virtuoso", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-lease-"))
    servers: list[OxigraphServer | VirtuosoServer] = []
    engines: dict[str, str] = {}
    oxigraph = OxigraphServer(work / "oxigraph")
    servers.append(oxigraph)
    engines["Oxigraph server"] = oxigraph.url
    if args.virtuoso_url:
        engines["Virtuoso 7.2"] = args.virtuoso_url
    elif not args.no_virtuoso:
        (work / "virtuoso").mkdir()
        virtuoso = VirtuosoServer(work / "virtuoso")
        servers.append(virtuoso)
        engines["Virtuoso 7.2"] = virtuoso.url
    results: dict[tuple[str, str], list[float]] = {}
    try:
        for repetition in range(args.repeat):
            for engine, url in engines.items():
                for step, ms in round_on(url, args.writes).items():
                    results.setdefault((engine, step), []).append(ms)
                    print(f"  round {repetition + 1} {engine}: {step} {ms:.1f} ms", flush=True)
    finally:
        for server in servers:
            server.stop()
    print(f"\n{args.writes} writes per repetition, {args.repeat} repetitions; ms per write, min / median / max\n")
    print("| engine | lease (take + give back) | audited write, shared | audited write, alone |")
    print("|---|---|---|---|")
    for engine in engines:
        cells = []
        for step in ("lease", "audited write, shared", "audited write, alone"):
            found = results[(engine, step)]
            cells.append(f"{min(found):.1f} / {statistics.median(found):.1f} / {max(found):.1f}")
        print(f"| {engine} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
