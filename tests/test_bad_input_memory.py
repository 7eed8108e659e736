"""Oversized input is refused while it streams in, in bounded server memory.

The server runs as its own process (uvicorn on 127.0.0.1), so its peak resident set (``VmHWM`` in
``/proc/PID/status``) measures only the request under test. Uploads are generated on the fly: nothing
large is written by the test itself, and the server writes at most ``THREADLINE_MAX_REQUEST_BYTES``.
Regressions these catch: a single-line CSV was read whole by ``csv.reader`` before its field limit
tripped (memory grew by twice the file), and request bodies had no size limit at all.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import _free_port
from tests.test_loader import GOOD, MAPPING

TOKEN = "memory-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MiB = 1 << 20
LIMIT = 32 * MiB
BOUND = 16 * MiB  # allowed peak growth: well under one copy of any upload below
BOUNDARY = "threadline-test-boundary"
SERVER = (
    "import sys, uvicorn\n"
    "from threadline.web.app import create_app\n"
    "uvicorn.run(create_app(), host='127.0.0.1', port=int(sys.argv[1]), log_level='warning')\n"
)


class ServerProcess:
    def __init__(self, folder: Path) -> None:
        pack = folder / "ingest" / "mes"
        pack.mkdir(parents=True)
        (pack / "units.rml.ttl").write_text(MAPPING)
        env = dict(
            os.environ,
            THREADLINE_STORE="memory:",
            THREADLINE_WRITE_TOKEN=TOKEN,
            THREADLINE_INGEST_DIR=str(folder / "ingest"),
            THREADLINE_VAR_DIR=str(folder / "var"),
            THREADLINE_KPI_SUMMARIES="false",
            THREADLINE_MAX_REQUEST_BYTES=str(LIMIT),
            THREADLINE_INGEST_MAX_RECORD_CHARS=str(MiB),
        )
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen([sys.executable, "-c", SERVER, str(self.port)], env=env, cwd=folder)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/version", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError("server did not start")
            time.sleep(0.1)

    def peak_rss(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
        return int(line.split()[1]) * 1024

    def written(self) -> int:
        """Bytes the server passed to write() so far (files and sockets): what it spooled of an upload."""
        io_stats = Path(f"/proc/{self.process.pid}/io").read_text()
        return int(next(line for line in io_stats.splitlines() if line.startswith("wchar:")).split()[1])

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc to read the server's peak memory")
    process = ServerProcess(tmp_path_factory.mktemp("memory-server"))
    # warm up: the first load imports the mapping engine and the loader
    warm = httpx.post(f"{process.url}/ingest/mes", files={"files": ("units.csv", GOOD.encode())}, headers=AUTH)
    assert warm.status_code == 200, warm.text
    yield process
    process.stop()


def multipart(name: str, head: bytes, filler: bytes, total: int) -> Iterator[bytes]:
    """A multipart body with one file: ``head``, then ``filler`` repeated to ``total`` bytes, on one line."""
    yield f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'.encode()
    yield b"Content-Type: text/csv\r\n\r\n" + head
    sent = 0
    while sent < total:
        yield filler
        sent += len(filler)
    yield f"\n\r\n--{BOUNDARY}--\r\n".encode()


def upload(server: ServerProcess, body: Iterator[bytes]) -> httpx.Response:
    headers = {**AUTH, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    return httpx.post(f"{server.url}/ingest/mes", content=body, headers=headers, timeout=300)


def test_single_line_csv_is_refused_at_the_record_limit_in_bounded_memory(server: ServerProcess) -> None:
    before = server.peak_rss()
    head = b"serial,status,completed,drawing\nSN-1,"
    response = upload(server, multipart("units.csv", head, b"x" * 65536, 24 * MiB))
    grown = server.peak_rss() - before
    assert grown < BOUND, f"server peak memory grew by {grown / MiB:.1f} MiB for a 24 MiB line"
    assert response.status_code == 422, response.text[:500]
    body = response.json()
    assert (body["file"], body["locator"], body["field"]) == ("units.csv", "row 2", "status"), body
    assert "record is longer than the limit" in body["error"]


def test_request_body_over_the_limit_is_refused_while_streaming(server: ServerProcess) -> None:
    """A chunked (undeclared-length) 256 MiB upload: refused once 32 MiB arrived, the rest never stored."""
    before, written = server.peak_rss(), server.written()
    body = multipart("units.csv", b"serial,status,completed,drawing\n", b"y" * 65536, 256 * MiB)
    response = upload(server, body)
    assert response.status_code == 413, response.text[:500]
    assert "THREADLINE_MAX_REQUEST_BYTES" in response.text
    spooled = server.written() - written
    assert spooled < LIMIT + MiB, f"the server stored {spooled / MiB:.0f} MiB of a body over the limit"
    grown = server.peak_rss() - before
    assert grown < BOUND, f"server peak memory grew by {grown / MiB:.1f} MiB"
    # a declared Content-Length over the limit is refused before any of the body is read
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as raw:
        raw.sendall(
            f"POST /ingest/mes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {LIMIT + 1}\r\n\r\n".encode()
        )
        answer = b""
        while b"THREADLINE_MAX_REQUEST_BYTES" not in answer and (chunk := raw.recv(65536)):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413") and b"THREADLINE_MAX_REQUEST_BYTES" in answer, answer
    # and the server still loads good data afterwards
    good = httpx.post(f"{server.url}/ingest/mes", files={"files": ("units.csv", GOOD.encode())}, headers=AUTH)
    assert good.status_code == 200, good.text
