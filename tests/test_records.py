"""Device history records (issue #15) on a 25-unit demo in an on-disk store, over HTTP on the live app and from the
CLI: golden files (canonical JSON-LD and HTML, byte for byte) for a complete unit and one unit per seeded gap, the
PDF's text (``pdftotext``), review by exception, and release by signature (409 while exceptions remain).

Golden files are in ``tests/golden/records``. A load's batch graphs and activity carry the time and a random
suffix, so before comparing, each load activity id and load time is replaced by a placeholder numbered in order
of appearance (``scrub``); everything else is compared as served. After a deliberate change, rewrite them with
``GOLDEN_UPDATE=1 .venv/bin/python -m pytest tests/test_records.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from tests.shacl_demo import build_demo, store_from
from threadline import auth, features
from threadline.cli import main
from threadline.config import Settings
from threadline.store import Store, open_store
from threadline.web.app import create_app

GOLDEN = Path(__file__).resolve().parent / "golden" / "records"
TL = "https://w3id.org/threadline/ontology#"
ACTIVITY = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{8}")
STARTED = re.compile(r'"prov:startedAtTime":\s*\{\s*"@type":\s*"xsd:dateTime",\s*"@value":\s*"([^"]+)"')
# the seeded gaps a unit's record shows (released-revision-without-signature is a purchased part's revision:
# no unit's record holds it)
UNIT_GAPS = (
    "unit-missing-final-inspection",
    "unit-built-to-unreleased-revision",
    "operation-without-operator",
    "inspection-out-of-limits-passed",
    "ncr-without-disposition",
    "disposition-approved-by-non-mrb",
    "capa-closed-without-effectiveness-check",
    "lot-received-without-coc",
)
SERIAL_OF = f"""PREFIX tl: <{TL}>
SELECT ?serial WHERE {{
  {{ ?focus tl:onUnit|tl:inspectedItem|tl:concernsItem ?unit }}
  UNION {{ ?ncr tl:hasDisposition ?focus ; tl:concernsItem ?unit }}
  UNION {{ ?focus tl:addresses ?ncr . ?ncr tl:concernsItem ?unit }}
  UNION {{ ?ncr tl:capa ?focus ; tl:concernsItem ?unit }}
  UNION {{ ?lot tl:receivedIn ?focus . ?unit tl:consumed+ ?lot }}
  UNION {{ ?focus tl:serialNumber ?own . BIND(?focus AS ?unit) }}
  ?unit tl:serialNumber ?serial ; tl:ofPart <https://w3id.org/threadline/id/part/FC-1000> .
}} ORDER BY ?serial LIMIT 1"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    return build_demo(tmp_path_factory.mktemp("records-demo"), units=25)


@pytest.fixture(scope="module")
def complete(demo: tuple[Path, dict]) -> str:
    """The first finished unit whose record has no exception and no NCR (the example unit's sensor used the lot
    without CoC)."""
    from threadline.records import builder

    store = store_from(demo[0])
    serials = sorted(
        store.select(f"SELECT ?s WHERE {{ ?u <{TL}serialNumber> ?s FILTER(STRSTARTS(?s, 'FC-')) }}").values("s")
    )

    def clean(serial: str) -> bool:  # no exception, and no NCR (an NCR stands in for a final inspection)
        record = builder.dhr(store, serial)
        return not record.findings and not any(t.rows for t in record.tables if t.title == "Nonconformances")

    return next(s for s in serials if clean(s))


@dataclass
class Plant:
    http: httpx.Client
    store: Store
    manifest: dict
    secrets: dict[str, str]
    complete: str

    def bearer(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets[who]}"}

    def serial(self, gap: str) -> str:
        found = next(g for g in self.manifest["gaps"] if g["kind"] == gap)
        rows = self.store.select(SERIAL_OF, {"focus": _iri(found["focus"])}).values("serial")
        assert rows, gap
        return rows[0]

    def get(self, serial: str, fmt: str | None = None, accept: str | None = None) -> httpx.Response:
        headers = {**self.bearer("reader"), **({"Accept": accept} if accept else {})}
        return self.http.get(f"/records/dhr/{serial}", params={"format": fmt} if fmt else None, headers=headers)

    def release(self, serial: str, who: str = "quality", password: str | None = None) -> httpx.Response:
        body = {"reason": "batch release", "password": password if password is not None else self.secrets[who]}
        return self.http.post(f"/records/dhr/{serial}/release", json=body, headers=self.bearer(who))


def _iri(text: str) -> object:
    import pyoxigraph as ox

    return ox.NamedNode(text)


@pytest.fixture
def plant(demo: tuple[Path, dict], complete: str, tmp_path: Path, serve_app) -> Iterator[Plant]:  # type: ignore[no-untyped-def]
    path = tmp_path / "store"
    store = store_from(demo[0], open_store(str(path)))
    secrets = {}
    for who, role, description in (
        ("reader", "reader", "Rita Reader"),
        ("quality", "compliance", "Carol Quality"),
        ("engineer", "engineer", "Alice Engineer"),
    ):
        secrets[who] = auth.create_token(store, role, description=description, actor="root")[1]
    settings = Settings(store=str(path), var_dir=tmp_path / "var", write_token="bootstrap-secret", kpi_summaries=False)
    server = serve_app(create_app(settings, store=store))
    try:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            yield Plant(http, store, demo[1], secrets, complete)
    finally:
        features.uninstall()
        server.stop()
        store.close()


def scrub(*texts: str) -> list[str]:
    """Each load activity id and load time (from the JSON-LD, the first text) replaced by a numbered placeholder."""
    activities: dict[str, str] = {}
    for found in ACTIVITY.findall("\n".join(texts)):
        activities.setdefault(found, f"LOAD-{len(activities) + 1}")
    times: dict[str, str] = {}
    for found in STARTED.findall(texts[0]):
        times.setdefault(found, f"LOADED-AT-{len(times) + 1}")
    out = []
    for text in texts:
        for old, new in activities.items():
            text = text.replace(old, new)
        for old, new in times.items():
            text = text.replace(old, new).replace(old.replace("T", " "), new)
        out.append(text)
    return out


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("GOLDEN_UPDATE") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"no golden file {path}: run with GOLDEN_UPDATE=1 and review it"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


def _foci(doc: dict) -> list[str]:
    return sorted(n["rec:focus"]["@id"] for n in doc["@graph"] if "rec:Exception" in n.get("@type", []))


def test_golden_records_of_a_complete_unit_and_each_seeded_gap(plant: Plant) -> None:
    cases = [("complete", plant.complete, None)]
    cases += [(gap, plant.serial(gap), gap) for gap in UNIT_GAPS]
    for name, serial, gap in cases:
        jsonld = plant.get(serial, "jsonld")
        page = plant.get(serial, accept="text/html,application/xhtml+xml;q=0.9")
        assert jsonld.status_code == 200 and page.status_code == 200, (serial, jsonld.text[:300], page.text[:300])
        assert jsonld.headers["content-type"].startswith("application/ld+json")
        assert page.headers["content-type"].startswith("text/html")
        doc = jsonld.json()
        head = next(n for n in doc["@graph"] if n["@id"].endswith(f"/dhr/{serial}"))
        assert head["rec:contentHash"] in page.text and len(head["rec:contentHash"]) == 64
        if gap is None:
            assert _foci(doc) == [], f"the complete unit {serial} has exceptions: {_foci(doc)}"
            assert "No open exceptions" in page.text
        else:
            focus = next(g["focus"] for g in plant.manifest["gaps"] if g["kind"] == gap)
            assert focus in _foci(doc), (gap, serial, _foci(doc))
        text, html = scrub(jsonld.text, page.text)
        _golden(f"{name}.jsonld", text)
        _golden(f"{name}.html", html)


def test_every_value_carries_its_source_and_load(plant: Plant) -> None:
    serial = plant.complete
    doc = plant.get(serial, "jsonld").json()
    sources = [n for n in doc["@graph"] if "@graph" in n]
    loads = {n["@id"]: n for n in doc["@graph"] if "prov:wasGeneratedBy" in n}
    assert sources and loads
    unit = f"https://w3id.org/threadline/id/unit/{serial}"
    stated = [s for s in sources for node in s["@graph"] if node["@id"] == unit]
    assert {s.get("tl:sourceSystem") for s in stated} >= {"mes"}
    for source in sources:
        for graph in source["rec:loadedInto"]:
            activity = loads[graph["@id"]]["prov:wasGeneratedBy"]
            assert activity["@id"].startswith("https://w3id.org/threadline/id/ingest/") and activity["tl:sourceSystem"]
    # the same thread gives the same bytes; the content hash ignores the loads' ids and times
    assert plant.get(serial, "jsonld").content == plant.get(serial, "jsonld").content


def test_unknown_identifier_and_formats(plant: Plant) -> None:
    missing = plant.get("NO-SUCH-SERIAL")
    assert missing.status_code == 404 and "NO-SUCH-SERIAL" in missing.json()["error"]
    serial = plant.manifest["groundTruth"]["exampleUnit"]["serial"]
    assert plant.get(serial, "xml").status_code == 400
    assert plant.get(serial, accept="image/png").status_code == 406
    assert plant.get(serial, accept="application/ld+json").headers["content-type"].startswith("application/ld+json")
    assert plant.get(serial, accept="application/pdf").content.startswith(b"%PDF")
    assert plant.get(serial).headers["content-type"].startswith("text/html")
    lot = plant.manifest["groundTruth"]["sharedSupplierLot"]["lot"]
    assert "Device history record of lot" in plant.get(lot).text


def test_pdf_text_has_header_footer_hash_and_unicode(plant: Plant, tmp_path: Path) -> None:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext is missing (Debian package poppler-utils; .ci/run installs it)")
    serial = plant.manifest["groundTruth"]["exampleUnit"]["serial"]
    person = plant.store.select(
        f"SELECT ?p WHERE {{ ?op <{TL}onUnit> ?unit ; <{TL}performedBy> ?p }} ORDER BY ?p LIMIT 1",
        {"unit": _iri(f"https://w3id.org/threadline/id/unit/{serial}")},
    ).values("p")[0]
    plant.store.update(
        f"DELETE {{ GRAPH ?g {{ ?p <{TL}name> ?n }} }} "
        f'INSERT {{ GRAPH ?g {{ ?p <{TL}name> "Łukasz Ørsted-Ñúñez" }} }} '
        f"WHERE {{ GRAPH ?g {{ ?p <{TL}name> ?n }} VALUES ?p {{ <{person}> }} }}"
    )
    answer = plant.get(serial, "pdf")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
    pdf = tmp_path / "dhr.pdf"
    pdf.write_bytes(answer.content)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    digest = plant.get(serial, "jsonld").json()
    digest = next(n for n in digest["@graph"] if "rec:contentHash" in n)["rec:contentHash"]
    pages = text.count("\f")
    assert pages >= 2, "a unit's record runs over more than one page"
    assert f"{serial} · page 1 of {pages}" in text and f"page {pages} of {pages}" in text
    assert text.count(f"content hash {digest}") >= pages
    assert "Łukasz Ørsted-Ñúñez" in text
    assert "Operations" in text and "Inspections and tests" in text and "Sources" in text
    if shutil.which("pdftoppm") is not None:  # the first page renders (poppler parses the whole layout)
        command = ["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")]
        subprocess.run(command, check=True)
        rendered = list(tmp_path.glob("page*.png"))
        assert len(rendered) == 1 and rendered[0].stat().st_size > 2000


def test_release_refused_while_exceptions_remain_then_signed_and_flagged_when_data_change(plant: Plant) -> None:
    gap_serial = plant.serial("unit-missing-final-inspection")
    refused = plant.release(gap_serial)
    assert refused.status_code == 409, refused.text
    listed = refused.json()["exceptions"]
    unit = f"https://w3id.org/threadline/id/unit/{gap_serial}"
    assert [(e["kind"], e["about"]) for e in listed if e["focus"] == unit] == [("incomplete", gap_serial)]
    assert all(e["clause"] and e["message"] for e in listed)

    serial = plant.complete
    assert plant.release(serial, who="reader").status_code == 403
    assert plant.release(serial, password="").status_code == 401
    signed = plant.release(serial)
    assert signed.status_code == 201, signed.text
    body = signed.json()
    assert body["signerName"] == "Carol Quality" and body["meaning"] == "released"
    doc = plant.get(serial, "jsonld").json()
    head = next(n for n in doc["@graph"] if "rec:contentHash" in n)
    assert head["rec:contentHash"] == body["recordHash"]
    release = next(n for n in doc["@graph"] if n["@id"] == body["id"])
    assert release["rec:releaseState"] == "current" and release["tl:signerName"] == "Carol Quality"
    assert "Carol Quality" in plant.get(serial).text

    # an operator's name is corrected after release: the record shows the release no longer holds
    plant.store.update(
        f"DELETE {{ GRAPH ?g {{ ?op <{TL}endedAt> ?t }} }} INSERT {{ GRAPH ?g {{ ?op <{TL}endedAt> "
        f'"2030-01-01T00:00:00Z"^^<http://www.w3.org/2001/XMLSchema#dateTime> }} }} '
        f"WHERE {{ GRAPH ?g {{ ?op <{TL}onUnit> <https://w3id.org/threadline/id/unit/{serial}> ; <{TL}endedAt> ?t }} }}"
    )
    doc = plant.get(serial, "jsonld").json()
    release = next(n for n in doc["@graph"] if n["@id"] == body["id"])
    assert release["rec:releaseState"] == "data changed since release"
    assert "data changed since release" in plant.get(serial).text


def test_deleting_one_acceptance_record_makes_release_409_with_exactly_that_gap(plant: Plant) -> None:
    serial = plant.complete
    unit = f"https://w3id.org/threadline/id/unit/{serial}"
    finals = plant.store.select(
        f"SELECT ?r WHERE {{ ?r <{TL}inspectedItem> ?unit ; <{TL}isFinalInspection> true }}", {"unit": _iri(unit)}
    ).values("r")
    assert finals
    for result in finals:
        plant.store.update(f"DELETE WHERE {{ GRAPH ?g {{ <{result}> ?p ?o }} }}")
    refused = plant.release(serial)
    assert refused.status_code == 409, refused.text
    assert [(e["kind"], e["focus"]) for e in refused.json()["exceptions"]] == [("incomplete", unit)]


def test_cli_writes_the_same_record_and_releases(demo: tuple[Path, dict], complete: str, tmp_path: Path) -> None:
    path = tmp_path / "store"
    with store_from(demo[0], open_store(str(path))) as store:
        secret = auth.create_token(store, "compliance", description="Carol Quality", actor="root")[1]
    serial = complete
    runner = CliRunner()
    out = tmp_path / "dhr.jsonld"
    done = runner.invoke(main, ["record", "dhr", serial, "--format", "jsonld", "-o", str(out), "--store", str(path)])
    assert done.exit_code == 0, done.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert any(n.get("rec:identifier") == serial for n in doc["@graph"])
    gap = next(g for g in demo[1]["gaps"] if g["kind"] == "unit-missing-final-inspection")["id"]
    flagged = runner.invoke(main, ["record", "dhr", gap, "--store", str(path)])
    assert flagged.exit_code == 1 and "<h1>Device history record" in flagged.output
    missing = runner.invoke(main, ["record", "dhr", "NOPE-1", "--store", str(path)])
    assert missing.exit_code == 2 and "NOPE-1" in missing.output
    blocked = runner.invoke(main, ["record", "release", gap, "--store", str(path)], input=secret + "\n")
    assert blocked.exit_code == 2 and "incomplete" in blocked.output
    released = runner.invoke(main, ["record", "release", serial, "--store", str(path)], input=secret + "\n")
    assert released.exit_code == 0 and "Carol Quality" in released.output, released.output


def test_first_article_inspection_reports(plant: Plant) -> None:
    headers = plant.bearer("reader")
    answer = plant.http.get("/records/fai/FC-1000/C", params={"format": "jsonld"}, headers=headers)
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    head = next(n for n in doc["@graph"] if "rec:contentHash" in n)
    # revision C adds the gasket: a partial FAI of the one characteristic the change affects, with the ECO's reason
    assert head["rec:scope"].startswith("partial: revision change from B (ECO-")
    assert [c["@id"].rsplit("/", 1)[-1] for c in head["rec:characteristic"]] == ["CH-FC-1000-C-GASK"]
    assert head["rec:firstArticle"]["@id"].endswith(plant.manifest["groundTruth"]["eco"]["unitBuiltBeforeRelease"])
    page = plant.http.get("/records/fai/FC-1000/C", headers=headers)
    assert "Form 3: characteristic accountability" in page.text and "Gasket compression" in page.text
    text, html = scrub(answer.text, page.text)
    _golden("fai-FC-1000-C.jsonld", text)
    _golden("fai-FC-1000-C.html", html)

    full = plant.http.get("/records/fai/SM-2100/A", params={"format": "jsonld"}, headers=headers).json()
    head = next(n for n in full["@graph"] if "rec:contentHash" in n)
    assert head["rec:scope"] == "full" and len(head["rec:characteristic"]) == 1
    params = {"serial": "SM-0000002", "format": "jsonld"}
    named = plant.http.get("/records/fai/SM-2100/A", params=params, headers=headers)
    assert named.status_code == 200 and "SM-0000002" in named.text
    assert plant.http.get("/records/fai/FC-1000/Z", headers=headers).status_code == 404
    assert plant.http.get("/records/fai/SM-2100/A", params={"serial": "FC-0000001"}, headers=headers).status_code == 404


def test_a_consumed_lot_with_an_open_ncr_is_an_exception(plant: Plant) -> None:
    serial = plant.complete
    lot = plant.store.select(
        f"SELECT ?lot WHERE {{ ?unit <{TL}consumed> ?lot . ?lot a <{TL}MaterialLot> }} ORDER BY ?lot LIMIT 1",
        {"unit": _iri(f"https://w3id.org/threadline/id/unit/{serial}")},
    ).values("lot")[0]
    ncr = "https://w3id.org/threadline/id/ncr/NCR-TEST-1"
    plant.store.update(
        f'INSERT DATA {{ GRAPH <urn:test:qms> {{ <{ncr}> a <{TL}Nonconformance> ; <{TL}ncrNumber> "NCR-TEST-1" ; '
        f'<{TL}ncrStatus> "open" ; <{TL}concernsItem> <{lot}> }} }}'
    )
    doc = plant.get(serial, "jsonld").json()
    found = [n for n in doc["@graph"] if "rec:Exception" in n.get("@type", [])]
    assert [(n["rec:kind"], n["rec:focus"]["@id"]) for n in found] == [("consumed-item-with-open-ncr", lot)]
    assert "NCR-TEST-1" in found[0]["rec:message"]
    # the NCR's statements come from the graph they were written into: their source is that graph
    assert any(n["@id"] == "urn:test:qms" and n["@graph"] for n in doc["@graph"])
    assert plant.release(serial).status_code == 409


def test_a_scoped_token_gets_the_record_of_what_it_may_read(plant: Plant) -> None:
    _, secret = auth.create_token(
        plant.store,
        "reader",
        scopes=["https://w3id.org/threadline/graph/batch/mes/*"],
        description="Mo MES",
        actor="root",
    )
    answer = plant.http.get(
        f"/records/dhr/{plant.complete}", params={"format": "jsonld"}, headers={"Authorization": f"Bearer {secret}"}
    )
    assert answer.status_code == 200, answer.text
    systems = {n.get("tl:sourceSystem") for n in answer.json()["@graph"] if "@graph" in n}
    assert systems == {"mes"}, systems
    refused = plant.http.post(
        f"/records/dhr/{plant.complete}/release",
        json={"password": secret},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert refused.status_code == 403
