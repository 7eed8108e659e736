"""The HTML validation report of the demo thread in headless Chromium: offline, no console errors, summary
counts, sorting and filtering work; saves a screenshot (and docs/validation-report.png when
THREADLINE_UPDATE_DOCS=1)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pytest

from tests.conftest import PageWatch
from tests.shacl_demo import REPO, build_demo, store_from
from threadline.config import Settings
from threadline.web.app import create_app

pytestmark = pytest.mark.browser
TOKEN = "report-browser-token"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    return build_demo(tmp_path_factory.mktemp("report-demo"), units=40)


def test_report_page(browser, serve_app, demo: tuple[Path, dict], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dump, manifest = demo
    settings = Settings(store="memory:", var_dir=tmp_path / "var", write_token=TOKEN)
    server = serve_app(create_app(settings, store=store_from(dump)))
    stored = httpx.post(
        f"{server.url}/validate", params={"profile": "core"}, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120
    )
    assert stored.status_code == 200, stored.text
    gaps = manifest["gaps"]
    view = httpx.get(f"{server.url}/reports").json()["reports"][0]["view"]

    page = browser.new_page(viewport={"width": 1400, "height": 900})
    watch = PageWatch(page)
    response = page.goto(server.url + view, wait_until="networkidle")
    assert response is not None and response.status == 200
    rows = page.locator("#results tbody tr")
    assert rows.count() == len(gaps)
    assert page.locator("#shown").inner_text() == str(len(gaps))

    # Summary counts by clause, severity and shape.
    severity = page.locator("table[data-summary=severity]")
    assert severity.locator("tr", has_text="Violation").locator("td").nth(1).inner_text() == str(len(gaps))
    clause = page.locator("table[data-summary=clause]")
    assert clause.locator("tr", has_text="AS9100D 8.5.1(e)").count() >= 1
    shape = page.locator("table[data-summary=shape]")
    assert shape.locator("tbody tr").count() == len({g["kind"] for g in gaps})

    # Human identifiers, message, fix hint and clause per result.
    unit_gap = next(g for g in gaps if g["kind"] == "unit-missing-final-inspection")
    serial = unit_gap["focus"].rsplit("/", 1)[1]
    row = rows.filter(has_text=serial)
    assert row.count() == 1
    text = row.inner_text()
    assert "neither a passed final inspection" in text and "AS9100D 8.6" in text and "final inspection" in text
    assert row.locator("a").first.get_attribute("href").startswith("/graphql?query=")

    # Sorting: a click on "Object" sorts ascending, a second click descending (the page's own collation).
    def idents() -> list[str]:
        return rows.locator("td:nth-child(2) .ident").all_inner_texts()

    collate = "([a, d]) => a.slice().sort((x, y) => d * x.localeCompare(y, undefined, {numeric: true}))"
    header = page.locator("#results thead th", has_text="Object")
    header.click()
    ascending = idents()
    assert len(set(ascending)) > 1 and ascending == page.evaluate(collate, [ascending, 1])
    header.click()
    assert idents() == page.evaluate(collate, [ascending, -1])
    page.locator("#results thead th", has_text="Severity").click()

    # Filtering by text, then by a summary entry.
    page.fill("#filter", serial)
    assert page.locator("#shown").inner_text() == "1"
    assert page.locator("#results tbody tr:not([hidden])").count() == 1
    page.fill("#filter", "")
    assert page.locator("#shown").inner_text() == str(len(gaps))
    shape.locator("tbody tr", has_text="Operation record is complete").locator("button").click()
    operator_gaps = sum(g["kind"] == "operation-without-operator" for g in gaps)
    assert page.locator("#shown").inner_text() == str(operator_gaps)
    page.locator("#facet button").click()
    assert page.locator("#shown").inner_text() == str(len(gaps))
    assert "core" in page.locator("h1").inner_text() and "native" in page.locator("dl.meta").inner_text()

    page.screenshot(path=str(tmp_path / "validation-report.png"), full_page=True)
    if os.environ.get("THREADLINE_UPDATE_DOCS"):  # refresh the picture in docs/ only when asked to
        shutil.copy(tmp_path / "validation-report.png", REPO / "docs" / "validation-report.png")
    page.emulate_media(media="print")
    assert page.locator(".controls").is_hidden()
    assert watch.external == [], f"the report tried to reach the internet: {watch.external}"
    assert watch.console_errors == [], f"the report logged errors: {watch.console_errors}"
    assert watch.failed == []
