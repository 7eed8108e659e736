"""Every page Threadline serves renders in headless Chromium with no request leaving 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import PageWatch
from threadline.config import Settings
from threadline.web.app import create_app

pytestmark = pytest.mark.browser

PAGES = {
    "home": ("/", "text=Threadline"),
    "api-docs": ("/docs", "text=/healthz"),
    "ontology": ("/ontology?format=html", "text=SerializedUnit"),
}


@pytest.fixture(scope="module")
def server():  # type: ignore[no-untyped-def]
    from tests.conftest import LiveServer

    live = LiveServer(create_app(Settings(store="memory:")))
    yield live
    live.stop()


@pytest.mark.parametrize("name", sorted(PAGES))
def test_page_renders_offline(name: str, server, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path, expected = PAGES[name]
    page = browser.new_page()
    watch = PageWatch(page)
    response = page.goto(server.url + path, wait_until="networkidle")
    assert response is not None and response.status == 200
    page.wait_for_selector(expected, timeout=15_000)
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
    assert watch.external == [], f"{name} tried to reach the internet: {watch.external}"
    assert watch.console_errors == [], f"{name} logged errors: {watch.console_errors}"
    assert watch.failed == []
