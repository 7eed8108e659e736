"""Shared fixtures: real stores (on disk, in memory, and a real `oxigraph serve` process on 127.0.0.1)."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from threadline.store import RemoteStore, Store, open_store

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _no_log_handler_left_behind() -> Iterator[None]:
    """A CLI run inside a test installs Threadline's stderr log handler on the root logger (as it does for a user);
    take it away afterwards, so servers that later tests start in this process do not print every access line into
    the test output. Tests that read the logs install their own handlers (tests/test_observability.py)."""
    yield
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "threadline", False)]:
        root.removeHandler(handler)


def conformance_dir() -> Path:
    """The shared conformance material, read in place (never copied into the project)."""
    return Path(os.environ.get("THREADLINE_CONFORMANCE_DIR", REPO.parent / "shared" / "conformance"))


def require_conformance(name: str) -> Path:
    path = conformance_dir() / name
    if not path.is_dir():
        pytest.skip(f"conformance set {name!r} not found at {path} (set THREADLINE_CONFORMANCE_DIR)")
    return path


def _oxigraph_binary() -> str | None:
    candidate = Path(sys.executable).parent / "oxigraph"
    return str(candidate) if candidate.exists() else shutil.which("oxigraph")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OxigraphServer:
    """A real `oxigraph serve` process on loopback, with the union default graph Threadline expects."""

    def __init__(self, location: Path) -> None:
        binary = _oxigraph_binary()
        if binary is None:
            pytest.skip("the oxigraph server binary is missing (pip install oxigraph)")
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [binary, "serve", "--location", str(location), "--bind", f"127.0.0.1:{self.port}", "--union-default-graph"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/query", params={"query": "ASK {}"}, timeout=1)
                return
            except httpx.HTTPError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"oxigraph serve exited: {self.process.stderr.read().decode()}") from None  # type: ignore[union-attr]
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("oxigraph serve did not start within 30 s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture(scope="session")
def oxigraph_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OxigraphServer]:
    server = OxigraphServer(tmp_path_factory.mktemp("oxigraph-serve"))
    yield server
    server.stop()


def _make_store(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Store:
    if kind == "memory":
        return open_store("memory:")
    if kind == "disk":  # the bare backend, as CLEAR ALL leaves the remote one: without its version record
        return open_store(str(tmp_path / "store"), check_versions=False)
    server: OxigraphServer = request.getfixturevalue("oxigraph_server")
    store = open_store(server.url)
    assert isinstance(store, RemoteStore)
    store.update("CLEAR ALL")
    return store


@pytest.fixture(params=["disk", "memory", "remote"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Every backend in turn: the store suite must hold on all three."""
    store = _make_store(request.param, tmp_path, request)
    yield store
    store.close()


@pytest.fixture(scope="session")
def virtuoso_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A real OpenLink Virtuoso on loopback (tests/virtuoso.py); skipped where virtuoso-t is not installed."""
    from tests.virtuoso import RunningVirtuoso, VirtuosoServer

    if os.environ.get("THREADLINE_TEST_VIRTUOSO_URL"):  # one already running (its data is dropped per test)
        yield RunningVirtuoso(os.environ["THREADLINE_TEST_VIRTUOSO_URL"])
        return
    server = VirtuosoServer(tmp_path_factory.mktemp("virtuoso"))
    yield server
    server.stop()


@pytest.fixture
def e2e_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Store URL for end-to-end tests: on disk, or a real external engine with THREADLINE_TEST_STORE=remote
    (`oxigraph serve`) or THREADLINE_TEST_STORE=virtuoso (OpenLink Virtuoso); emptied for each test."""
    return e2e_url(request, tmp_path)


def e2e_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """``e2e_store_url`` for fixtures of any scope (``tmp_path``: where an on-disk store goes)."""
    kind = os.environ.get("THREADLINE_TEST_STORE")
    if kind == "remote":
        server: OxigraphServer = request.getfixturevalue("oxigraph_server")
        open_store(server.url).update("CLEAR ALL")
        return server.url
    if kind == "virtuoso":
        virtuoso = request.getfixturevalue("virtuoso_server")
        virtuoso.clear()
        return str(virtuoso.url)
    return str(tmp_path / "store")


class LiveServer:
    """The real ASGI app served by uvicorn on a loopback port, in a background thread."""

    def __init__(self, app: object) -> None:
        import threading

        import uvicorn

        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@pytest.fixture
def serve_app() -> Iterator[object]:
    """Call with an app; returns a running LiveServer, stopped after the test."""
    servers: list[LiveServer] = []

    def start(app: object) -> LiveServer:
        server = LiveServer(app)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("THREADLINE_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture
def browser() -> Iterator[object]:
    """Headless Debian Chromium driven by Playwright, every non-loopback host unresolvable."""
    path = chromium_path()
    if path is None:
        pytest.skip("headless Chromium not installed (Debian package chromium; .ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (test extra) is not installed")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


class PageWatch:
    """Records what a page asked for and what it complained about, to prove it works offline."""

    def __init__(self, page: object) -> None:
        self.external: list[str] = []
        self.console_errors: list[str] = []
        self.failed: list[str] = []
        page.on("console", lambda msg: msg.type == "error" and self.console_errors.append(msg.text))  # type: ignore[attr-defined]
        page.on("pageerror", lambda exc: self.console_errors.append(str(exc)))  # type: ignore[attr-defined]
        page.on("requestfailed", lambda req: self.failed.append(req.url))  # type: ignore[attr-defined]

        def route(route: object) -> None:
            url = route.request.url  # type: ignore[attr-defined]
            if url.startswith(("http://127.0.0.1", "data:", "about:", "blob:")):
                route.continue_()  # type: ignore[attr-defined]
            else:
                self.external.append(url)
                route.abort()  # type: ignore[attr-defined]

        page.route("**/*", route)  # type: ignore[attr-defined]


class DemoThread:
    """A demo plant's exports, loaded through the mapping pack, with the generator's manifest."""

    def __init__(self, exports: Path, store: Store, units: int, seed: int) -> None:
        import json

        self.exports = exports
        self.store = store
        self.units = units
        self.seed = seed
        self.manifest = json.loads((exports / "manifest.json").read_text())


DEMO_UNITS = 200
DEMO_SEED = 42


@pytest.fixture(scope="session")
def demo_exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo generator's exports (200 finished units, seed 42), written once per session."""
    from threadline.demo import generate

    out = tmp_path_factory.mktemp("demo") / "exports"
    generate(out, units=DEMO_UNITS, seed=DEMO_SEED)
    return out


def load_demo(store: Store, exports: Path) -> Store:
    """Load every system's exports through the mapping pack — the only way data reaches a store."""
    from threadline.ingest import load_files

    for system in ("plm", "erp", "mes", "qms"):
        load_files(store, system, [exports / system], ingest_dir=REPO / "ingest")
    return store


@pytest.fixture(scope="session")
def demo_thread(demo_exports: Path) -> DemoThread:
    """An in-memory store holding the demo thread; treat it as read-only (it is shared by the session)."""
    return DemoThread(demo_exports, load_demo(open_store("memory:"), demo_exports), DEMO_UNITS, DEMO_SEED)
