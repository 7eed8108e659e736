"""A load whose commit the store refuses is the server's failure (5xx), not the request's (422), and leaves the
store exactly as it was.

The store is a real ``oxigraph serve`` behind a loopback proxy that refuses the load's commit (the one update
that opens an audit guard graph) the way an engine refuses a write it cannot take, with HTTP 500. Everything
else reaches the engine as sent.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import OxigraphServer
from tests.test_loader import MAPPING
from threadline.config import Settings
from threadline.namespaces import LEASE_GRAPH
from threadline.store import open_store
from threadline.web.app import create_app

pytestmark = pytest.mark.e2e

TOKEN = "w"
COMMIT_MARK = b"CREATE GRAPH <https://w3id.org/threadline/graph/audit-guard/"  # only a write's commit opens one
HOP = {"host", "content-length", "transfer-encoding", "connection", "content-encoding"}


class RefusingProxy:
    """Forwards every request to ``target``, except updates holding ``COMMIT_MARK``: answered 500 while ``refuse``."""

    def __init__(self, target: str) -> None:
        self.refuse = True
        self.refused = 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if proxy.refuse and self.path.startswith("/update") and COMMIT_MARK in body:
                    proxy.refused += 1
                    self._reply(500, {"Content-Type": "text/plain"}, b"engine: transaction refused (test)")
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
                answer = httpx.request(self.command, target + self.path, content=body, headers=headers, timeout=60)
                kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP}
                self._reply(answer.status_code, kept, answer.content)

            def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[RefusingProxy]:
    engine = OxigraphServer(tmp_path / "engine")
    refusing = RefusingProxy(engine.url)
    yield refusing
    refusing.stop()
    engine.stop()


def _state(url: str) -> set[str]:
    """Every quad of the store outside the lease graph (leases come and go with every write, by design)."""
    answer = httpx.post(
        f"{url}/query",
        data={"query": f"SELECT ?s ?p ?o ?g WHERE {{ GRAPH ?g {{ ?s ?p ?o }} FILTER(?g != <{LEASE_GRAPH}>) }}"},
        headers={"Accept": "text/tab-separated-values"},
        timeout=60,
    )
    answer.raise_for_status()
    return set(answer.text.splitlines()[1:])


def test_a_refused_commit_is_a_503_and_the_store_is_left_as_before(
    proxy: RefusingProxy, tmp_path: Path, serve_app
) -> None:  # type: ignore[no-untyped-def]
    pack = tmp_path / "ingest" / "mes"
    pack.mkdir(parents=True)
    (pack / "units.rml.ttl").write_text(MAPPING)
    settings = Settings(store=proxy.url, ingest_dir=pack.parent, write_token=TOKEN, var_dir=tmp_path / "var")
    server = serve_app(create_app(settings, store=open_store(proxy.url, settings)))
    csv = b"serial,status,completed,drawing\nS1,built,2026-01-02,urn:d:S1\n"

    def load() -> httpx.Response:
        files = {"files": ("units.csv", csv, "text/csv")}
        return httpx.post(
            f"{server.url}/ingest/mes", files=files, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120
        )

    before = _state(proxy.url)
    refused = load()
    assert proxy.refused == 1
    assert refused.status_code == 503, refused.text  # the store failed, not the request: a 422 says "fix your file"
    assert "nothing was written" in refused.json()["error"]
    assert _state(proxy.url) == before

    proxy.refuse = False  # the same request, once the store takes writes again, loads
    assert load().status_code == 200
    assert any("urn:d:S1" in row for row in _state(proxy.url))
