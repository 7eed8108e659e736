"""The KPI summary refreshes in the background in the server: a write returns at once, readers get the previous
summary labelled outdated until the refresh lands, then the new numbers — on a real on-disk store over HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import load_demo
from threadline import kpi
from threadline.config import Settings
from threadline.store import EmbeddedStore
from threadline.web.app import create_app

TOKEN = "kpi-refresh-admin"
NCR = "https://w3id.org/threadline/id/ncr/NCR-TEST-9"
SCRAP_NCR = f"""<{NCR}> a <https://w3id.org/threadline/ontology#Nonconformance> ;
  <https://w3id.org/threadline/ontology#ncrNumber> "NCR-TEST-9" ."""


def _get(url: str, name: str) -> httpx.Response:
    response = httpx.get(f"{url}/queries/{name}", timeout=60)
    assert response.status_code == 200, response.text
    return response


def test_a_write_refreshes_the_summary_in_the_background(demo_exports: Path, tmp_path: Path, serve_app) -> None:  # type: ignore[no-untyped-def]
    store = EmbeddedStore(tmp_path / "store")
    kpi.install()  # the initial loads refresh before they return
    try:
        load_demo(store, demo_exports)
    finally:
        kpi.uninstall()
    assert kpi.fresh(store)
    settings = Settings(store=f"oxigraph:{tmp_path / 'store'}", write_token=TOKEN)
    server = serve_app(create_app(settings, store=store))
    assert kpi.refresher.background, "the server refreshes in the background"
    first = _get(server.url, "fpy-by-revision")
    assert first.headers["x-threadline-source"] == "materialised"

    with store.staging():  # a load staging beside the refresh holds it at its consistent-view step
        response = httpx.post(
            f"{server.url}/store",
            params={"graph": "https://w3id.org/threadline/graph/test/extra"},
            content=SCRAP_NCR,
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "text/turtle"},
        )
        assert response.status_code == 201, response.text
        assert kpi.refresher.busy() and not kpi.fresh(store)
        outdated = _get(server.url, "fpy-by-revision")
        assert outdated.headers["x-threadline-source"] == "materialised-outdated"
        assert outdated.json()["rows"] == first.json()["rows"], "the previous summary, not a half-computed one"
    assert kpi.refresher.wait(120), "the refresh finishes once the staged write is done"
    assert kpi.fresh(store) and not kpi.refresher.errors
    after = _get(server.url, "fpy-by-revision")
    assert after.headers["x-threadline-source"] == "materialised"
    assert after.json()["rows"] == first.json()["rows"], "the write changed no unit, so neither did the yield"
    assert not list(tmp_path.glob(".kpi-view-*")), "the refresh's checkpoint is removed"
