"""A write the engine rolls back as a deadlock victim is sent again; any other refusal is not.

Virtuoso answers ``HTTP 500 … 40001 Error SR172: Transaction deadlocked`` when its lock manager picks a write as
the victim of a deadlock, and has undone all of it by then. Seen in CI (stop 24): one of four simultaneous loads
through two services on one Virtuoso was refused that way (tests/test_virtuoso.py). The engine here is a
loopback HTTP server that answers like one, so the exact sequence is reproducible.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from threadline.errors import StoreError
from threadline.store.remote import DEADLOCK_ATTEMPTS, RemoteStore

EMPTY = json.dumps({"head": {"vars": ["g"]}, "results": {"bindings": []}}).encode()
DEADLOCK = b"Virtuoso 40001 Error SR172: Transaction deadlocked"


@contextmanager
def engine(refusals: list[tuple[int, bytes]]) -> Iterator[tuple[str, list[bytes]]]:
    """An endpoint that answers queries with no rows and each update with the next refusal, then 204."""
    updates: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _reply(self, status: int, body: bytes, media: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", media)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._reply(200, EMPTY, "application/sparql-results+json")

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if not self.path.startswith("/update"):
                self._reply(200, EMPTY, "application/sparql-results+json")
                return
            updates.append(body)
            if len(updates) <= len(refusals):
                self._reply(*refusals[len(updates) - 1])
            else:
                self._reply(204, b"")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", updates
    finally:
        server.shutdown()
        server.server_close()


UPDATE = "INSERT DATA { GRAPH <http://e/g> { <http://e/a> <http://e/b> <http://e/c> } }"


def test_a_deadlock_victim_is_sent_again_until_it_commits() -> None:
    with engine([(500, DEADLOCK), (500, DEADLOCK)]) as (url, updates):
        store = RemoteStore(url, engine="oxigraph")
        store.update(UPDATE)
        assert updates == [UPDATE.encode()] * 3  # the same write, whole, three times: two victims, one commit


def test_a_write_that_stays_deadlocked_is_refused_with_the_engine_message() -> None:
    with engine([(500, DEADLOCK)] * (DEADLOCK_ATTEMPTS + 2)) as (url, updates):
        store = RemoteStore(url, engine="oxigraph")
        with pytest.raises(StoreError, match="SR172"):
            store.update(UPDATE)
        assert len(updates) == DEADLOCK_ATTEMPTS


@pytest.mark.parametrize("refusal", [(500, b"Virtuoso 22023 Error SR008: bad argument"), (503, b"overloaded")])
def test_other_refusals_are_not_sent_again(refusal: tuple[int, bytes]) -> None:
    with engine([refusal]) as (url, updates):
        store = RemoteStore(url, engine="oxigraph")
        with pytest.raises(StoreError, match=refusal[1].decode()[:10]):
            store.update(UPDATE)
        assert len(updates) == 1
