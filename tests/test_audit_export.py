"""The audit trail as inspectors read it: a PDF table in an embedded Unicode font naming the responsible person
(CLI: ``--actor``, ``THREADLINE_ACTOR`` or the operating-system user; HTTP: the token's holder), checked with
poppler's ``pdftotext`` and ``pdfinfo``."""

from __future__ import annotations

import getpass
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from tests.test_loader import GOOD, MAPPING
from threadline import audit, auth
from threadline.audit.commands import audit_group
from threadline.audit.verify import read_entries
from threadline.cli import main
from threadline.config import Settings
from threadline.store import Store, open_store
from threadline.web.app import create_app

pytestmark = pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils (pdftotext) not installed")
PERSON = "Łukasz Żółć"
DIGEST = "9f" * 32  # a 64-digit sha256, as load entries carry per batch


def _text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, check=True).stdout.decode()


def _pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, check=True).stdout.decode()
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def _entries(store: Store, action: str) -> list[dict[str, str]]:
    rows = [found[0] for found in read_entries(store).values() if found[0]["action"] == action]
    return sorted(rows, key=lambda row: int(row["sequence"]))


def test_pdf_is_a_unicode_table_of_entries(tmp_path: Path) -> None:
    store = open_store("memory:")
    what = {
        "graphs": [f"https://w3id.org/threadline/graph/batch/erp/{n}" for n in range(6)],
        "batches": {f"erp/{n}": DIGEST for n in range(6)},
        "archives": {"https://w3id.org/threadline/graph/batch/erp/0": "urn:archive:0"},
        "records": 1200,
        "source": DIGEST,
    }
    for n, actor in enumerate((PERSON, "Ørsted Ådne", "Σοφία Παπαδοπούλου", "Дмитрий Иванов")):
        with audit.writer_lock(store):
            entry = audit.entry_update(store, action="load", actor=actor, what=what, why=f"nightly ERP load {n}")
            store.update(entry)
    audit.export(store, "pdf", tmp_path / "trail.pdf")
    text = _text(tmp_path / "trail.pdf")
    for name in (PERSON, "Ørsted Ådne", "Σοφία Παπαδοπούλου", "Дмитрий Иванов", "Responsible person"):
        assert name in text, name
    assert "\\u" not in text  # no escaped characters
    assert DIGEST not in text and DIGEST[:12] in text  # what's hashes shortened (the CSV keeps them whole)
    assert "(+3 more)" in text and "6 entries" in text  # long lists and maps counted, not printed
    assert _pages(tmp_path / "trail.pdf") == 1  # four entries, one table: not a page of JSON each


def test_cli_load_records_the_person(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pack = tmp_path / "ingest" / "mes"
    pack.mkdir(parents=True)
    (pack / "units.rml.ttl").write_text(MAPPING)
    source = tmp_path / "units.csv"
    url = str(tmp_path / "store")
    monkeypatch.setenv("THREADLINE_INGEST_DIR", str(tmp_path / "ingest"))
    monkeypatch.setenv("THREADLINE_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("THREADLINE_ACTOR", raising=False)
    runner = CliRunner()
    for n, (extra, env) in enumerate((([], {}), (["--actor", PERSON], {}), ([], {"THREADLINE_ACTOR": "Ørsted Ådne"}))):
        source.write_text(GOOD.replace("SN-2", f"SN-2{n}"))  # changed content: a load, not a skip
        run = runner.invoke(main, ["load", "mes", str(source), "--store", url, *extra], env=env)
        assert run.exit_code == 0, run.output
    store = open_store(url)
    try:
        actors = [row["actor"] for row in _entries(store, "load")]
        agents = store.select(
            "SELECT ?name WHERE { ?a a <http://www.w3.org/ns/prov#Activity> ; "
            "<http://www.w3.org/ns/prov#wasAssociatedWith> ?agent . "
            "?agent <https://w3id.org/threadline/ontology#name> ?name }"
        ).values("name")
    finally:
        store.close()
    assert actors == [getpass.getuser(), PERSON, "Ørsted Ådne"]
    assert set(agents) == set(actors)  # the provenance names the same person as the audit trail
    out = tmp_path / "trail.pdf"
    exported = runner.invoke(audit_group, ["export", "--format", "pdf", "-o", str(out), "--store", url])
    assert exported.exit_code == 0, exported.output
    text = _text(out)
    assert PERSON in text and "Ørsted Ådne" in text and "threadline-cli" not in text


def test_http_load_records_the_token_holder(tmp_path: Path, serve_app) -> None:  # type: ignore[no-untyped-def]
    pack = tmp_path / "ingest" / "mes"
    pack.mkdir(parents=True)
    (pack / "units.rml.ttl").write_text(MAPPING)
    store = open_store("memory:")
    token_id, secret = auth.create_token(store, "integrator", description=PERSON, actor="root")
    settings = Settings(store="memory:", ingest_dir=tmp_path / "ingest", var_dir=tmp_path / "var")
    server = serve_app(create_app(settings, store=store))
    response = httpx.post(
        f"{server.url}/ingest/mes",
        files={"files": ("units.csv", GOOD.encode(), "text/csv")},
        headers={"Authorization": f"Bearer {secret}"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert [row["actor"] for row in _entries(store, "load")] == [f"token:{token_id} ({PERSON})"]
    audit.export(store, "pdf", tmp_path / "trail.pdf")
    assert PERSON in _text(tmp_path / "trail.pdf")
