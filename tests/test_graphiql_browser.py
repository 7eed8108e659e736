"""The GraphiQL explorer at /graphql works offline: vendored assets only, examples preloaded, docs explorer.

Headless Debian Chromium with every non-loopback host unresolvable and every non-loopback request aborted
(``PageWatch``): the page loads, runs example 1 and shows its serial in the result.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import DemoThread, PageWatch
from threadline.config import Settings
from threadline.graphql_api import ide
from threadline.web.app import create_app

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


@pytest.fixture
def explorer(demo_thread: DemoThread, serve_app):  # type: ignore[no-untyped-def]
    if ide.missing_assets():
        pytest.skip(f"vendored GraphiQL files missing ({ide.missing_assets()}): run python -m threadline.web.vendor")
    settings = Settings(store="memory:")
    app = create_app(settings, store=demo_thread.store)
    return serve_app(app)


def test_graphiql_runs_example_1_offline(explorer, browser, demo_thread: DemoThread, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    serial = demo_thread.manifest["groundTruth"]["exampleUnit"]["serial"]
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    watch = PageWatch(page)
    response = page.goto(f"{explorer.url}/graphql", wait_until="networkidle")
    assert response is not None and response.status == 200
    page.wait_for_selector(".graphiql-container", timeout=20_000)
    # the five examples are open as tabs, example 1 first
    page.wait_for_selector("text=AsBuiltRecord", timeout=10_000)
    assert page.locator(".graphiql-tab").count() == 5
    with page.expect_response(lambda r: r.url.endswith("/graphql") and r.request.method == "POST") as answer:
        page.click(".graphiql-execute-button")
    assert answer.value.ok
    page.wait_for_function(
        "s => (document.querySelector('.result-window')?.innerText || '').includes(s)",
        arg=serial,
        timeout=20_000,
    )
    result = page.locator(".result-window").inner_text()
    assert f'"serialNumber": "{serial}"' in result
    # the documentation explorer lists the root fields from introspection
    page.click("button[aria-label='Show Documentation Explorer']")
    page.wait_for_selector(".graphiql-doc-explorer >> text=Query", timeout=10_000)
    page.screenshot(path=str(tmp_path / "graphiql.png"))
    assert (tmp_path / "graphiql.png").stat().st_size > 10_000
    assert watch.external == [], f"the explorer tried to reach the internet: {watch.external}"
    assert watch.console_errors == [], watch.console_errors
    assert watch.failed == [], watch.failed
