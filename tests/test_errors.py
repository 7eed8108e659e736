"""One error boundary: every class states its HTTP status and exit code, every route answers one body shape.

The drawing in ``threadline.errors`` is the table people read, so it is checked against the classes (and every
``ThreadlineError`` subclass in the package must be in it). Over HTTP, the real app is served by uvicorn on a
loopback port and each kind of failure — Threadline's errors, FastAPI's HTTPException and request validation,
Starlette's 404/405, the body limit, strawberry's unreadable requests, an unexpected exception — must answer
``application/json`` with a string ``error``.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

import threadline
from tests.conftest import LiveServer
from threadline import errors
from threadline.cli import main
from threadline.config import Settings
from threadline.errors import QueryError, StoreUnavailable, ThreadlineError
from threadline.store import open_store
from threadline.web.app import create_app
from threadline.web.errors import body_of

TOKEN = "errors-test-admin-token"
ROW = re.compile(r"^\s{4}[│├└─\s]*(\w+)\s+.*?\s(\d{3})(\*?)\s+(\d)$")


def _all_classes() -> dict[str, type[ThreadlineError]]:
    for module in pkgutil.walk_packages(threadline.__path__, "threadline."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    found: dict[str, type[ThreadlineError]] = {}
    pending: list[type[ThreadlineError]] = [ThreadlineError]
    while pending:
        cls = pending.pop()
        found[cls.__name__] = cls
        pending.extend(cls.__subclasses__())
    return found


def test_the_drawing_states_every_class_status_and_exit_code() -> None:
    rows = {m.group(1): m.groups()[1:] for line in (errors.__doc__ or "").splitlines() if (m := ROW.match(line))}
    classes = _all_classes()
    assert set(rows) == set(classes), "the drawing in threadline/errors.py lists exactly the ThreadlineError classes"
    for name, (status, hidden, exit_code) in rows.items():
        cls = classes[name]
        assert (cls.status, cls.exit_code, not cls.public) == (int(status), int(exit_code), hidden == "*"), name


def test_a_hidden_message_shows_only_in_debug_and_never_a_password_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    exc = StoreUnavailable("store at http://ops:s3cret@db:7878/query did not answer")
    assert body_of(exc, Settings()) == {"error": "the store could not complete the request"}
    assert "s3cret" in body_of(exc, Settings(debug=True))["error"]  # debug is for a developer's own machine
    server, _ = _serve(Settings(write_token=TOKEN), raising=exc)
    try:
        with caplog.at_level(logging.WARNING, logger="threadline.errors"):
            answer = httpx.get(f"{server.url}/raise", timeout=30)
    finally:
        server.stop()
    assert (answer.status_code, answer.json()) == (503, {"error": "the store could not complete the request"})
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "did not answer" in logged and "s3cret" not in logged


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("errors")
    settings = Settings(write_token=TOKEN, var_dir=folder / "var", max_request_bytes=4096)
    server, _ = _serve(settings, raising=RuntimeError("a bug"), store_path=folder / "store")
    yield server.url
    server.stop()


def _serve(settings: Settings, raising: Exception, store_path: Path | None = None) -> tuple[LiveServer, Any]:
    store = open_store(str(store_path) if store_path else "memory:")
    app = create_app(settings, store=store)

    async def fail() -> None:
        raise raising

    app.add_api_route("/raise", fail, include_in_schema=False)  # a route that fails as a future bug would
    return LiveServer(app), app


AUTH = {"Authorization": f"Bearer {TOKEN}"}
CASES: list[tuple[str, str, dict[str, Any], int, dict[str, Any]]] = [
    ("GET", "/no/such/route", {}, 404, {}),
    ("DELETE", "/version", {}, 405, {}),
    ("GET", "/stats", {"headers": {"Authorization": "Basic x"}}, 401, {}),
    ("POST", "/admin/tokens", {"json": {"role": "reader"}, "headers": {"Authorization": "Bearer nope"}}, 401, {}),
    ("POST", "/admin/tokens", {"json": {"role": 5}, "headers": AUTH}, 422, {"invalid": list}),
    ("GET", "/signatures", {"headers": AUTH}, 422, {"invalid": list}),
    ("GET", "/sparql", {"params": {"query": "SELEC ?x"}}, 400, {"position": str}),
    ("GET", "/queries/no-such-query", {}, 404, {}),
    ("GET", "/queries/genealogy-backward", {"params": {"format": "pdf"}}, 400, {}),
    ("GET", "/queries/genealogy-backward", {"headers": {"Accept": "image/png"}}, 406, {}),
    ("GET", "/store", {"params": {"graph": "http://example.org/none"}}, 404, {}),
    ("POST", "/graphql", {"content": b"[1", "headers": {"Content-Type": "application/json"}}, 400, {}),
    ("POST", "/graphql", {"content": b"5", "headers": {"Content-Type": "application/json"}}, 400, {}),
    ("POST", "/ingest/mes", {"content": b"x" * 5000, "headers": AUTH}, 413, {}),
    ("GET", "/raise", {}, 500, {}),
]


@pytest.mark.parametrize(
    ("method", "path", "options", "status", "fields"), CASES, ids=[f"{c[3]} {c[1]}" for c in CASES]
)
def test_every_error_answers_one_json_shape(
    live: str, method: str, path: str, options: dict[str, Any], status: int, fields: dict[str, type]
) -> None:
    answer = httpx.request(method, live + path, timeout=60, **options)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json"), answer.text
    body = answer.json()
    assert isinstance(body.get("error"), str) and body["error"], body
    assert "detail" not in body
    for name, kind in fields.items():
        assert isinstance(body.get(name), kind), body
    if status == 500:
        assert body == {"error": "internal error"}  # nothing about the bug: it is in the log


def test_openapi_describes_every_error_with_the_one_body(live: str) -> None:
    document = httpx.get(f"{live}/openapi.json", timeout=60).json()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "error" in schemas["ErrorBody"]["required"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert response["content"] == {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
                    }, (method, path, status)


def test_the_cli_exits_with_the_class_exit_code() -> None:
    result = CliRunner().invoke(main, ["query", "[red]x[/]", "--store", "memory:"])
    assert result.exit_code == QueryError.exit_code == 2, result.output
    assert result.output.startswith("error: no named query '[red]x[/]'")  # printed as text, never as markup
