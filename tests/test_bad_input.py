"""Bad input gets a clear 4xx (exit 2 on the CLI) naming file, locator and field, never a 500 or a traceback.

Issue #11 part 3: deeply nested JSON, huge numbers, upload names like ``..``, server paths in error bodies,
and limits (record, field, depth, document) that hold while the input is read. Memory-bound behaviour is
checked in ``test_bad_input_memory.py`` (a server process whose peak RSS is read from ``/proc``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from tests.test_loader import GOOD, MAPPING
from threadline.cli import main
from threadline.config import Settings
from threadline.store import open_store
from threadline.web.app import create_app

TOKEN = "bad-input-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON_MAPPING = """\
prefixes:
  tl: https://w3id.org/threadline/ontology#
  id: https://w3id.org/threadline/id/
mappings:
  thing:
    sources:
      - [things.json~jsonpath, "$.items[*]"]
    s: id:equipment/$(id)
    po:
      - [a, tl:Equipment]
      - [tl:name, $(name)]
"""
JSONL_MAPPING = JSON_MAPPING.replace('things.json~jsonpath, "$.items[*]"', 'events.jsonl~jsonpath, "$"')
DEEP = '{"items": [{"id": "e1", "name": ' + "[" * 100_000 + "]" * 100_000 + "}]}"
HUGE_NUMBER = '{"items": [{"id": ' + "9" * 100_000 + ', "name": "x"}]}'


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    folder = tmp_path / "ingest" / "mes"
    folder.mkdir(parents=True)
    (folder / "units.rml.ttl").write_text(MAPPING)
    (folder / "things.yarrrml.yml").write_text(JSON_MAPPING)
    (folder / "events.yarrrml.yml").write_text(JSONL_MAPPING)
    return tmp_path / "ingest"


@pytest.fixture
def live(tmp_path: Path, pack: Path, serve_app):  # type: ignore[no-untyped-def]
    settings = Settings(
        store="memory:",
        ingest_dir=pack,
        write_token=TOKEN,
        var_dir=tmp_path / "var",
        ingest_max_depth=20,
        ingest_max_field_chars=1000,
        ingest_max_record_chars=5000,
    )
    store = open_store("memory:", settings)
    server = serve_app(create_app(settings, store=store))
    server.store = store
    return server


def post(live, *files: tuple[str, bytes]) -> httpx.Response:  # type: ignore[no-untyped-def]
    return httpx.post(
        f"{live.url}/ingest/mes",
        files=[("files", (name, content, "application/octet-stream")) for name, content in files],
        headers=AUTH,
        timeout=60,
    )


def assert_refused(response: httpx.Response, file: str, locator: str, field: str | None, words: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert (body["file"], body["locator"], body["field"]) == (file, locator, field), body
    assert words in body["error"], body


def test_deeply_nested_json_is_a_422_naming_where(live) -> None:  # type: ignore[no-untyped-def]
    response = post(live, ("things.json", DEEP.encode()))
    assert_refused(response, "things.json", "line 1 column 50", None, "nested deeper than the limit of 20")
    assert live.store.stats().triples == 0


def test_json_nested_past_the_setting_but_parseable_is_refused_with_its_path(live) -> None:  # type: ignore[no-untyped-def]
    nested = '{"items": [{"id": "e1", "name": ' + "[" * 30 + "]" * 30 + "}]}"
    response = post(live, ("things.json", nested.encode()))
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["file"] == "things.json" and body["field"] == "name", body
    assert body["locator"].startswith("$.items[0].name[0]") and "limit of 20" in body["error"]


def test_huge_json_number_is_a_422_naming_the_field(live) -> None:  # type: ignore[no-untyped-def]
    response = post(live, ("things.json", HUGE_NUMBER.encode()))
    assert_refused(response, "things.json", "line 1 column 19", "id", "100000 digits")


def test_long_json_string_and_long_json_line(live) -> None:  # type: ignore[no-untyped-def]
    long_value = '{"items": [{"id": "e1", "name": "' + "x" * 2000 + '"}]}'
    assert_refused(
        post(live, ("things.json", long_value.encode())), "things.json", "$.items[0].name", "name", "field limit"
    )
    long_line = b'{"id": "e1", "name": "a"}\n{"id": "e2", "pad": "' + b"y" * 10_000 + b'"}\n'
    assert_refused(post(live, ("events.jsonl", long_line)), "events.jsonl", "line 2", None, "record limit of 5000")


def test_csv_field_and_record_limits_name_row_and_column(live) -> None:  # type: ignore[no-untyped-def]
    field = GOOD + "SN-3,shipped,2026-01-04," + "d" * 1500 + "\n"
    assert_refused(post(live, ("units.csv", field.encode())), "units.csv", "row 4", "drawing", "longer than the limit")
    record = GOOD + "SN-3," + "s" * 6000 + ",2026-01-04,urn:d\n"
    assert_refused(post(live, ("units.csv", record.encode())), "units.csv", "row 4", "status", "record is longer")
    quoted = GOOD + 'SN-3,"' + "line\n" * 1200 + '",2026-01-04,urn:d\n'  # one record over many lines
    assert_refused(post(live, ("units.csv", quoted.encode())), "units.csv", "row 4", "status", "record is longer")
    assert live.store.stats().triples == 0


@pytest.mark.parametrize("name", ["..", ".", "../..", "a/.."])
def test_upload_names_that_are_not_file_names_are_422(live, name: str) -> None:  # type: ignore[no-untyped-def]
    response = post(live, (name, GOOD.encode()))
    assert response.status_code == 422, response.text
    assert "file name" in response.text


def test_two_uploads_of_one_name_are_refused_not_overwritten(live) -> None:  # type: ignore[no-untyped-def]
    response = post(live, ("units.csv", GOOD.encode()), ("units.csv", b"serial,status,completed,drawing\n"))
    assert response.status_code == 422 and "both named 'units.csv'" in response.json()["error"]
    assert live.store.stats().triples == 0


def test_error_bodies_name_no_server_paths(live, pack: Path) -> None:  # type: ignore[no-untyped-def]
    unread = post(live, ("parts.csv", b"a,b\n1,2\n"))
    assert unread.status_code == 422
    message = unread.json()["error"]
    assert "no mapping in ingest/mes reads parts.csv" in message, message
    unknown = httpx.post(f"{live.url}/ingest/plm", files={"files": ("x.csv", b"a\n")}, headers=AUTH, timeout=30)
    assert unknown.status_code == 404 and "unknown source system" in unknown.json()["error"]
    for response in (unread, unknown):
        for secret in (str(pack), str(pack.parent), tempfile.gettempdir(), "threadline-upload-"):
            assert secret not in response.text, response.text


def test_broken_mapping_error_names_the_pack_relative_path(live, pack: Path) -> None:  # type: ignore[no-untyped-def]
    (pack / "mes" / "units.rml.ttl").write_text("@prefix broken")
    response = post(live, ("units.csv", GOOD.encode()))
    assert response.status_code == 422
    assert "ingest/mes/units.rml.ttl" in response.json()["error"] and str(pack) not in response.text


@pytest.mark.parametrize(("content", "words"), [(DEEP, "nested deeper"), (HUGE_NUMBER, "100000 digits")])
def test_cli_exits_2_with_one_line_naming_the_file(
    tmp_path: Path, pack: Path, monkeypatch: pytest.MonkeyPatch, content: str, words: str
) -> None:
    export = tmp_path / "things.json"
    export.write_text(content)
    monkeypatch.setenv("THREADLINE_STORE", "memory:")
    monkeypatch.setenv("THREADLINE_INGEST_DIR", str(pack))
    result = CliRunner().invoke(main, ["load", "mes", str(export)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "things.json" in result.output and words in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    "body",
    [
        b'"AAA"',
        b"7",
        b"null",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"query": "{ __typename }", "x": 1' + b"0" * 5000 + b"}",
    ],
)
def test_graphql_json_bodies_that_are_not_requests_are_400(live, body: bytes) -> None:  # type: ignore[no-untyped-def]
    """Regression (schemathesis): a JSON body that is not an object made strawberry raise: 500."""
    response = httpx.post(
        f"{live.url}/graphql", content=body, headers={**AUTH, "Content-Type": "application/json"}, timeout=30
    )
    assert response.status_code == 400, response.text[:300]
    assert response.text.strip()


def test_sparql_post_without_an_operation_is_400(live) -> None:  # type: ignore[no-untyped-def]
    """Regression (schemathesis): a form POST without query/update answered 200 with the service description."""
    response = httpx.post(f"{live.url}/sparql", data={"x": "1"}, headers=AUTH, timeout=30)
    assert response.status_code == 400 and "needs a query or an update" in response.json()["error"]
    description = httpx.get(f"{live.url}/sparql", headers={"Accept": "text/turtle"}, timeout=30)
    assert description.status_code == 200 and "sparql-service-description" in description.text
