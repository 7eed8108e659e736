"""The worked pandas example of docs/data-science.md, executed as written against the live app and demo data."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.genealogy_oracle import units_containing
from tests.sparql_demo import REPO, DemoThread, demo_thread
from threadline.config import Settings
from threadline.web.app import create_app

STAR = """PREFIX tl: <https://w3id.org/threadline/ontology#>
SELECT DISTINCT ?serial ?part ?revision ?status WHERE {
  ?unit a tl:SerializedUnit ; tl:serialNumber ?serial ; tl:unitStatus ?status ;
        tl:ofPart/tl:partNumber ?part ; tl:builtTo/tl:revisionLabel ?revision .
}"""


@pytest.fixture(scope="module")
def endpoint() -> Iterator[tuple[str, DemoThread]]:
    thread = demo_thread()
    settings = Settings(store=thread.store.url)
    app = create_app(settings, store=thread.store)
    live = LiveServer(app)
    yield live.url + "/sparql", thread
    live.stop()


def test_worked_pandas_example_runs(endpoint: tuple[str, DemoThread], capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("pandas")
    pytest.importorskip("sparql_dataframe")
    url, thread = endpoint
    doc = (REPO / "docs" / "data-science.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", doc, flags=re.S)
    assert blocks, "docs/data-science.md has no python example"
    code = blocks[0].replace('"http://localhost:8000/sparql"', repr(url))
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/data-science.md", "exec"), namespace)

    units = namespace["units"]
    assert len(units) == thread.manifest["entities"]["serializedUnits"]
    # the sub-select shape (fast at scale, see the page) gives exactly the rows of the plain star it stands for
    star = thread.store.select(STAR).rows
    expected = {tuple(term.value for term in row) for row in star}  # type: ignore[union-attr]  # all bound
    assert {tuple(str(v) for v in row) for row in units[["serial", "part", "revision", "status"]].values} == expected
    fpy = namespace["fpy"]
    finished = fpy[fpy["part"] == "FC-1000"]
    assert finished["firstPassUnits"].sum() == thread.manifest["groundTruth"]["kpi"]["firstPassUnits"]
    assert namespace["worst"]["firstPassYield"].iloc[0] == fpy["firstPassYield"].min()
    assert set(namespace["by_centre"]["workCentre"]) >= {"WC-FIN", "WC-TST"}
    recall = namespace["recall"]
    finished_recall = recall[recall["part"] == "FC-1000"]
    lot = re.search(r"genealogy-forward\?lot=([A-Z0-9-]+)", code)
    assert lot is not None
    assert set(finished_recall["serial"]) == units_containing(thread.exports, lot.group(1)) != set()
    assert "firstPassYield" in capsys.readouterr().out
