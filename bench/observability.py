"""What the request layer (request id, access line, request metrics) and a /metrics scrape cost.

    .venv/bin/python bench/observability.py [--requests 300] [--rounds 5]

Two apps over one in-memory store, served by uvicorn on loopback: one as Threadline builds it, one with the
request layer left out (``request_context.install`` skipped). Rounds alternate between them; each round sends
``--requests`` sequential ``GET /version`` (no store access: the layer's share is largest there) over one
keep-alive connection, with the access log written (JSON, to a discarded stream) as in production. Reported:
per-request latency min/median/max over the rounds' medians, and the time of a ``/metrics`` scrape.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
# bench/graphql.py would shadow the graphql package the app imports: run from the repository root instead
sys.path[:] = [str(REPO)] + [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]

from tests.conftest import LiveServer  # noqa: E402
from threadline.config import Settings  # noqa: E402
from threadline.observability import logs, request_context  # noqa: E402
from threadline.store import open_store  # noqa: E402
from threadline.web.app import create_app  # noqa: E402


def app_without_layer(settings: Settings, store: object) -> object:
    original = request_context.install
    request_context.install = lambda app: None  # type: ignore[assignment]
    try:
        return create_app(settings, store=store)  # type: ignore[arg-type]
    finally:
        request_context.install = original


def round_ms(url: str, requests: int) -> float:
    with httpx.Client(base_url=url, timeout=30) as client:
        client.get("/version")
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            client.get("/version")
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    logs.configure(Settings(log_format="json", log_level="info"), stream=io.StringIO())
    settings = Settings(store="memory:", write_token="bench")
    store = open_store("memory:")
    servers = {
        "with layer": LiveServer(create_app(settings, store=store)),
        "without layer": LiveServer(app_without_layer(settings, store)),
    }
    medians: dict[str, list[float]] = {name: [] for name in servers}
    try:
        for _ in range(args.rounds):
            for name, server in servers.items():
                medians[name].append(round_ms(server.url, args.requests))
        scrapes = []
        with httpx.Client(base_url=servers["with layer"].url, timeout=30) as client:
            for _ in range(args.rounds * 5):
                started = time.perf_counter()
                assert client.get("/metrics", headers={"Authorization": "Bearer bench"}).status_code == 200
                scrapes.append((time.perf_counter() - started) * 1000)
    finally:
        for server in servers.values():
            server.stop()
    for name, values in medians.items():
        print(
            f"GET /version {name:14s} min {min(values):.3f}  median {statistics.median(values):.3f}  "
            f"max {max(values):.3f} ms per request ({args.rounds} rounds x {args.requests})"
        )
    print(
        f"GET /metrics (memory store) min {min(scrapes):.2f}  median {statistics.median(scrapes):.2f}  "
        f"max {max(scrapes):.2f} ms ({len(scrapes)} scrapes)"
    )


if __name__ == "__main__":
    main()
