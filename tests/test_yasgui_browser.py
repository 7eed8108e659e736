"""The YASGUI editor at /sparql in headless Chromium, every non-loopback host blocked: it runs a query against
our endpoint and shows the result, loading nothing from the internet and logging no errors."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest

from tests.conftest import PageWatch
from threadline.config import Settings
from threadline.sparql import editor
from threadline.store import open_store
from threadline.web.app import create_app

UNIT = "<https://w3id.org/threadline/id/unit/FC-0000042>"
TL = "https://w3id.org/threadline/ontology#"
DATA = f"""{UNIT} <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{TL}SerializedUnit> .
{UNIT} <{TL}serialNumber> "FC-0000042" .
{UNIT} <{TL}unitStatus> "shipped" .
""".encode()


@pytest.mark.browser
def test_yasgui_runs_a_query_offline(browser: object, serve_app: object, tmp_path: Path) -> None:
    if not (editor.ASSET_DIR / "yasgui.min.js").is_file():
        pytest.skip("YASGUI is not vendored: run `python -m threadline.web.vendor`")
    store = open_store(str(tmp_path / "store"))
    store.load(DATA, "https://w3id.org/threadline/graph/test", ox.RdfFormat.N_TRIPLES)
    settings = Settings(store=store.url)
    app = create_app(settings, store=store)
    server = serve_app(app)  # type: ignore[operator]
    page = browser.new_page()  # type: ignore[attr-defined]
    watch = PageWatch(page)
    page.goto(f"{server.url}/sparql", wait_until="networkidle")
    page.wait_for_selector(".yasqe .CodeMirror")
    # the editor's default query lists units; run it as a user would (Ctrl-Enter runs YASGUI's query)
    page.evaluate("window.yasgui.getTab().getYasqe().query()")
    cell = page.wait_for_selector(".yasr td:has-text('FC-0000042')", timeout=20_000)
    assert cell is not None and "FC-0000042" in cell.inner_text()
    assert page.locator(".yasr td:has-text('shipped')").count() >= 1
    # completion from our own ontology, served locally
    vocabulary = page.evaluate("fetch('/sparql/assets/vocabulary.json').then(r => r.json())")
    assert "https://w3id.org/threadline/ontology#SerializedUnit" in vocabulary["classes"]
    assert page.evaluate("Yasgui.Yasqe.defaults.autocompleters") == ["variables", "prefixes", "tl-class", "tl-property"]
    # class and property completion from our own ontology, with the internet unreachable
    for typed, expected in (("?s a tl:Seri", "tl:SerializedUnit"), ("?s tl:serial", "tl:serialNumber")):
        line = f"SELECT * WHERE {{ {typed}"
        page.evaluate(
            """([line]) => { const y = window.yasgui.getTab().getYasqe();
                 y.setValue('PREFIX tl: <https://w3id.org/threadline/ontology#>\\n' + line);
                 y.focus(); y.getDoc().setCursor({line: 1, ch: line.length}); }""",
            [line],
        )
        page.keyboard.press("Control+Space")
        hint = page.wait_for_selector(f".CodeMirror-hints li:has-text('{expected}')", timeout=10_000)
        assert hint is not None and hint.inner_text() == expected
    page.screenshot(path=str(tmp_path / "yasgui.png"), full_page=True)
    assert watch.external == [], f"the page tried to reach the internet: {watch.external}"
    assert watch.console_errors == [], watch.console_errors
    assert watch.failed == []
