"""A built wheel carries the domain content and the fetched front-end assets, so an installed Threadline works,
and an air-gapped plant that installs the wheel alone (no network, no checkout) serves the explorers."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.xdist_group("wheel")


def _clean_checkout(target: Path) -> Path:
    """The checkout's files as a fresh clone has them: without the fetched (git-ignored) front-end assets."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    assert not (target / "threadline" / "static" / "vendor").exists()
    return target


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built from a clean checkout, as a release machine would: the build itself must fetch the assets."""
    if shutil.which("npm") is None or shutil.which("git") is None:
        pytest.skip("building a wheel from a clean checkout needs git and npm (to fetch the front-end assets)")
    source = _clean_checkout(tmp_path_factory.mktemp("checkout"))
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (built,) = out.glob("threadline-*.whl")
    return built


@pytest.mark.slow
def test_wheel_includes_content_and_vendored_assets(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "threadline/_data/ontology/threadline.ttl",
        "threadline/_data/ingest/plm/parts.yarrrml.yml",
        "threadline/_data/shapes/core.ttl",
        "threadline/_data/shapes/records.ttl",
        "threadline/records/templates/record.html.j2",  # the one template of records' HTML and PDF
        "threadline/vendor.json",
    ):
        assert required in names, f"{required} missing from {wheel.name}"
    for package in json.loads((REPO / "threadline" / "vendor.json").read_text())["packages"]:
        folder = package["name"].replace("/", "__")
        for file in package["files"]:
            assert f"threadline/static/vendor/{folder}/{file}" in names, f"{package['name']}: {file} not in the wheel"
    assert not any(name.startswith("graphql/") for name in names), "no top-level graphql package may ship"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_the_wheel_alone_serves_the_explorers_offline(wheel: Path, tmp_path: Path) -> None:
    """Installed with --no-index from the wheel file only, run away from the checkout: the GraphiQL and YASGUI
    files come from the installed package."""
    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}
    env["PYTHONPATH"] = str(target)  # ahead of the checkout's editable install
    env["THREADLINE_VAR_DIR"] = str(tmp_path / "var")
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import threadline, threadline.web.vendor as v; print(threadline.__file__); print(v.missing())",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    location, missing = probe.stdout.splitlines()
    assert Path(location).is_relative_to(target) and missing == "[]", probe.stdout + probe.stderr
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "threadline", "serve", "--store", "memory:", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the installed wheel's server did not start: {server.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
                time.sleep(0.3)
        vendored = target / "threadline" / "static" / "vendor"
        yasgui = httpx.get(f"{base}/sparql/assets/yasgui.min.js", timeout=30)
        assert yasgui.status_code == 200
        assert yasgui.content == (vendored / "@zazuko__yasgui" / "build" / "yasgui.min.js").read_bytes()
        graphiql = httpx.get(f"{base}/static/vendor/graphiql/graphiql.min.js", timeout=30)
        assert graphiql.status_code == 200
        assert graphiql.content == (vendored / "graphiql" / "graphiql.min.js").read_bytes()
        ide = httpx.get(f"{base}/graphql", headers={"Accept": "text/html"}, timeout=30)
        assert ide.status_code == 200 and "/static/vendor/graphiql/graphiql.min.js" in ide.text
    finally:
        server.terminate()
        server.wait(timeout=30)
