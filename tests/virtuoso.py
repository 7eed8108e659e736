"""A real OpenLink Virtuoso (Debian ``virtuoso-opensource``) on loopback, for the e2e stage that proves the
product on a second external engine.

Virtuoso is configured only through its ini file, so each server gets its own in a temporary folder: both
ports on 127.0.0.1, the database files in that folder, and the SPARQL limits lifted that would otherwise cut
answers short (``ResultSetMaxRows`` silently truncates results at 10,000 rows in the packaged default; the
product refuses truncated answers, see ``threadline.store.engines``). Every wait has a deadline, so a server
that does not start fails the session instead of hanging it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

STARTUP_LIMIT = 120.0  # a fresh database takes 15-25 s to initialise on a busy 2-core machine
# what docs/stores.md asks of operators
SETUP = Path(__file__).resolve().parent.parent / "deploy" / "virtuoso-setup.sql"

INI = """\
[Database]
DatabaseFile = {dir}/virtuoso.db
ErrorLogFile = {dir}/virtuoso.log
LockFile = {dir}/virtuoso.lck
TransactionFile = {dir}/virtuoso.trx
xa_persistent_file = {dir}/virtuoso.pxa
[TempDatabase]
DatabaseFile = {dir}/virtuoso-temp.db
TransactionFile = {dir}/virtuoso-temp.trx
[Parameters]
ServerPort = 127.0.0.1:{sql_port}
DisableUnixSocket = 1
NumberOfBuffers = 20000
MaxDirtyBuffers = 15000
CheckpointInterval = 60
DirsAllowed = ., {dir}
[HTTPServer]
ServerPort = 127.0.0.1:{http_port}
ServerRoot = /var/lib/virtuoso-opensource-7/vsp
ServerThreads = 10
MaxClientConnections = 10
[SPARQL]
ResultSetMaxRows = {max_rows}
MaxQueryExecutionTime = 0
MaxQueryCostEstimationTime = 0
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def binaries() -> tuple[str, str] | None:
    server, isql = shutil.which("virtuoso-t"), shutil.which("isql-vt") or shutil.which("isql")
    return (server, isql) if server and isql else None


class RunningVirtuoso:
    """A Virtuoso started elsewhere (``THREADLINE_TEST_VIRTUOSO_URL``, updates granted): saves the start-up
    while working on the engine; the suite drops its graphs before each test as with its own server."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def clear(self) -> None:
        _clear(self.url)

    def clear_graph(self, graph: str) -> None:
        clear_graph(self.url, graph)

    def stop(self) -> None:
        """Not ours to stop."""


def clear_graph(url: str, graph: str) -> None:
    """Drop one graph over plain HTTP (a RemoteStore refuses to open while a system-named graph is visible)."""
    response = httpx.post(f"{url}/sparql", data={"update": f"DROP SILENT GRAPH <{graph}>"}, timeout=60)
    response.raise_for_status()


def _clear(url: str) -> None:
    from threadline.store import RemoteStore

    store = RemoteStore(url)
    try:
        for graph in store.graphs():
            store.update(f"DROP SILENT GRAPH <{graph}>")
    finally:
        store.close()


class VirtuosoServer:
    """``virtuoso-t +foreground`` on two free loopback ports, with anonymous updates granted."""

    def __init__(self, folder: Path, max_rows: int = 10_000_000) -> None:
        found = binaries()
        if found is None:
            pytest.skip("virtuoso-t or isql-vt is missing (Debian package virtuoso-opensource; .ci/run installs it)")
        self.binary, self.isql = found
        self.folder = folder
        self.sql_port, self.http_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        ini = folder / "virtuoso.ini"
        ini.write_text(INI.format(dir=folder, sql_port=self.sql_port, http_port=self.http_port, max_rows=max_rows))
        self.log = (folder / "stdout.log").open("wb")
        self.process = subprocess.Popen(
            [self.binary, "+configfile", str(ini), "+foreground"],
            cwd=folder,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            self._wait()
            self.sql_file(SETUP)
        except BaseException:
            self.stop()
            raise

    def _wait(self) -> None:
        deadline = time.monotonic() + STARTUP_LIMIT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"virtuoso-t exited ({self.process.returncode}): {self._tail()}")
            try:
                response = httpx.get(f"{self.url}/sparql", params={"query": "ASK {}"}, timeout=2)
                if response.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"virtuoso-t did not answer within {STARTUP_LIMIT:g} s: {self._tail()}")

    def _tail(self) -> str:
        return (self.folder / "stdout.log").read_text(errors="replace")[-2000:]

    def sql(self, statement: str) -> str:
        """Run SQL through isql (the only way to grant rights); fails loudly, never waits forever."""
        return self._isql(f"exec={statement}")

    def sql_file(self, path: Path) -> str:
        return self._isql(str(path))

    def _isql(self, what: str) -> str:
        done = subprocess.run(
            [self.isql, str(self.sql_port), "dba", "dba", what],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0 or "*** Error" in done.stdout + done.stderr:
            raise RuntimeError(f"isql {what!r} failed: {done.stdout} {done.stderr}")
        return done.stdout

    def clear(self) -> None:
        """Drop every graph but Virtuoso's own (a fresh dataset for the next test)."""
        _clear(self.url)

    def clear_graph(self, graph: str) -> None:
        clear_graph(self.url, graph)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()
