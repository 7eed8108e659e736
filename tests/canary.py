"""A loopback HTTP canary for the outbound-path tests: it records every request that reaches it.

It answers like a SPARQL endpoint with one row (``answer=True``), so that a SERVICE that leaked would bring data
back into a result or an INSERT and the test would see it there too; or with an empty 200.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager

ROW = json.dumps(
    {
        "head": {"vars": ["a", "b", "c"]},
        "results": {"bindings": [{v: {"type": "uri", "value": f"http://canary/{v}"} for v in "abc"}]},
    }
).encode()


@contextmanager
def canary(*, answer: bool = True) -> Iterator[tuple[str, list[str]]]:
    """``(base URL on 127.0.0.1, the request paths received so far)`` while the canary listens."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            body = ROW if answer else b""
            self.send_response(200)
            if answer:
                self.send_header("Content-Type", "application/sparql-results+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()
