"""Load test: concurrent readers mixing GraphQL traces, SPARQL and named queries while loads commit.

    .venv/bin/python bench/load_test.py [--units 1000] [--users 20] [--duration 60] [--max-requests 20000]

Generates a demo plant (seed 42), loads it through the mapping pack into an on-disk store, starts
``threadline serve`` on a free 127.0.0.1 port in its own process (loopback only, nothing else is contacted),
then runs ``--users`` virtual users for ``--duration`` seconds or ``--max-requests`` requests, whichever comes
first. Each user picks, at random (seeded), one of
  * ``graphql``: a committed example operation (graphql/examples/*.graphql, default variables);
  * ``sparql``:  a hand-written SELECT through the SPARQL Protocol (GET /sparql);
  * ``named``:   a named query (/queries/NAME) with its catalogue example parameters;
while one more task keeps POSTing the MES units export (units.csv) to /ingest/mes with the bootstrap admin
token, alternating LF and CRLF line endings so that every post is a real load (mapping, gate, commit), not a
no-op; the run ends when the time or request bound is reached and the load in flight has committed.
A failure is any non-2xx answer, a GraphQL ``errors`` entry, or a transport error or timeout. It prints
requests, failures (must be 0) and p50/p95/p99 latency per kind, and exits 1 on any failure.

Hand-written on asyncio + httpx rather than locust: httpx is already a dependency, the scenario is four
request kinds with no ramp-up or web UI needed, and a plain coroutine per user is easy to bound by time and
request count and to reuse from a pytest (``tests/test_load_smoke.py``); locust would add gevent and its own
runner for no gain here. The server runs in a separate process so the client's event loop does not share a
GIL with it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
TOKEN = "load-test-bootstrap-admin-token"
READ_TIMEOUT = 60.0  # a reader waiting longer than this counts as a failure
LOAD_TIMEOUT = 180.0  # a load is a batch job: it may take longer under 20 readers, but must finish
SPARQL = [
    "SELECT (COUNT(DISTINCT ?u) AS ?n) WHERE { ?u a <https://w3id.org/threadline/ontology#SerializedUnit> }",
    "SELECT DISTINCT ?u ?s WHERE { ?u <https://w3id.org/threadline/ontology#serialNumber> ?s } ORDER BY ?s LIMIT 50",
    "SELECT DISTINCT ?u ?lot WHERE { ?u <https://w3id.org/threadline/ontology#consumed> ?lot } LIMIT 200",
    "ASK { ?s ?p ?o }",
]


@dataclass
class Report:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def record(self, kind: str, seconds: float, failure: str | None) -> None:
        self.latencies.setdefault(kind, []).append(seconds)
        if failure:
            self.failures.append(f"{kind}: {failure}")

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    def table(self) -> str:
        lines = [f"{'kind':<8} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"]
        for kind, values in sorted(self.latencies.items()):
            ms = sorted(v * 1000 for v in values)
            q = statistics.quantiles(ms, n=100, method="inclusive") if len(ms) > 1 else ms * 99
            lines.append(f"{kind:<8} {len(ms):>8} {q[49]:>8.1f} {q[94]:>8.1f} {q[98]:>8.1f}")
        return "\n".join(lines)


# -- the server ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare_store(exports: Path, store_path: Path) -> None:
    """The demo thread in an on-disk store, loaded only through the mapping pack."""
    from threadline.ingest import load_files
    from threadline.store import open_store

    store = open_store(str(store_path))
    try:
        for system in ("plm", "erp", "mes", "qms"):
            load_files(store, system, [exports / system], ingest_dir=REPO / "ingest")
    finally:
        store.close()


class Server:
    """``threadline serve`` on a free loopback port, in its own process."""

    def __init__(self, store_path: Path, var_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "THREADLINE_WRITE_TOKEN": TOKEN,
            "THREADLINE_VAR_DIR": str(var_dir),
            "THREADLINE_LOG_LEVEL": "warning",
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "threadline",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--store",
                str(store_path),
            ],
            env=env,
            cwd=REPO,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"threadline serve exited with status {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("threadline serve did not become healthy within 60 s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# -- the load -----------------------------------------------------------------------------------------------


def _check(kind: str, response: httpx.Response) -> str | None:
    if not 200 <= response.status_code < 300:
        return f"{response.request.url.path} HTTP {response.status_code}: {response.text[:200]}"
    if kind == "graphql" and response.json().get("errors"):
        return f"GraphQL errors: {json.dumps(response.json()['errors'])[:200]}"
    return None


async def _timed(report: Report, kind: str, request: Any) -> None:
    started = time.perf_counter()
    try:
        failure = _check(kind, await request)  # the coroutine sends nothing until awaited
    except (httpx.HTTPError, ValueError) as exc:
        failure = f"{type(exc).__name__}: {exc}"
    report.record(kind, time.perf_counter() - started, failure)


async def generate_load(
    url: str, exports: Path, *, users: int = 20, duration: float = 60.0, max_requests: int = 20_000, seed: int = 42
) -> Report:
    """Run the mixed scenario against ``url`` (a loopback server holding ``exports``' thread)."""
    if not url.startswith(("http://127.0.0.1:", "http://localhost:")):
        raise ValueError("the load test only targets loopback servers")
    report = Report()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    graphql = [p.read_text() for p in sorted((REPO / "graphql" / "examples").glob("*.graphql"))]
    limits = httpx.Limits(max_connections=users + 2, max_keepalive_connections=users + 2)
    async with httpx.AsyncClient(base_url=url, headers=auth, timeout=READ_TIMEOUT, limits=limits) as client:
        catalogue = (await client.get("/queries")).json()["queries"]
        named = [
            (q["name"], {p["name"]: p["example"] for p in q.get("parameters", []) if p.get("example")})
            for q in catalogue
        ]
        deadline = time.monotonic() + duration
        mes = {"units.csv": (exports / "mes" / "units.csv").read_bytes()}

        def running() -> bool:
            return time.monotonic() < deadline and report.requests < max_requests

        async def user(number: int) -> None:
            rng = random.Random(seed * 1000 + number)
            while running():
                kind = rng.choice(["graphql", "graphql", "sparql", "named"])
                if kind == "graphql":
                    body = {"query": rng.choice(graphql)}
                    await _timed(report, kind, client.post("/graphql", json=body))
                elif kind == "sparql":
                    params = {"query": rng.choice(SPARQL)}
                    await _timed(report, kind, client.get("/sparql", params=params))
                else:
                    name, args = rng.choice(named)
                    await _timed(report, kind, client.get(f"/queries/{name}", params=args))

        async def loader() -> None:
            crlf = False
            while running():
                crlf = not crlf
                files = [("files", (n, b.replace(b"\n", b"\r\n") if crlf else b)) for n, b in mes.items()]
                await _timed(report, "ingest", client.post("/ingest/mes", files=files, timeout=LOAD_TIMEOUT))

        await asyncio.gather(loader(), *(user(i) for i in range(users)))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--max-requests", type=int, default=20_000)
    args = parser.parse_args(argv)

    from threadline.demo import generate

    with tempfile.TemporaryDirectory(prefix="threadline-load-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        generate(work / "exports", units=args.units, seed=args.seed)
        prepare_store(work / "exports", work / "store")
        took = time.perf_counter() - started
        print(f"demo of {args.units:,} units (seed {args.seed}) generated and loaded in {took:.1f} s")
        server = Server(work / "store", work / "var")
        try:
            started = time.perf_counter()
            report = asyncio.run(
                generate_load(
                    server.url,
                    work / "exports",
                    users=args.users,
                    duration=args.duration,
                    max_requests=args.max_requests,
                    seed=args.seed,
                )
            )
            elapsed = time.perf_counter() - started
        finally:
            server.stop()
    print(
        f"{args.users} users for {elapsed:.1f} s: {report.requests} requests "
        f"({report.requests / elapsed:.1f}/s), {len(report.failures)} failures"
    )
    print(report.table())
    for failure in report.failures[:20]:
        print("FAILURE", failure)
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
