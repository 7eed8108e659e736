"""The exact error answers of the routes that refuse on their own account (credentials, roles, scopes, missing
parameters, unknown things): status, the whole ``{"error": ...}`` body and the ``WWW-Authenticate`` challenge.

These routes raise the classes of ``threadline.errors`` and the one handler (``threadline.web.errors``) answers;
the answers were pinned before the routes stopped building ``HTTPException`` themselves, so a client sees the
same bytes it saw then. ``test_errors.py`` checks the shape across every kind of failure; this checks each word.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer
from threadline import auth, features
from threadline.config import Settings
from threadline.namespaces import BATCH_GRAPH_PREFIX, SECURITY_GRAPH
from threadline.shacl.report import REPORT_GRAPH_PREFIX
from threadline.store import open_store
from threadline.web.app import create_app

BOOTSTRAP = "error-bodies-bootstrap"
REALM = 'Bearer realm="threadline"'
RECORD = "https://w3id.org/threadline/id/rev/NOPE/A"
TTL = ("shapes.ttl", b"@prefix sh: <http://www.w3.org/ns/shacl#> .\n", "text/turtle")
NT = ("a.nt", b"", "application/n-triples")
ERP = BATCH_GRAPH_PREFIX + "erp/"


@dataclass
class Served:
    url: str
    secrets: dict[str, str]  # by who holds the token
    ids: dict[str, str]  # token ids, which the messages name: ``<who>`` in an expected body stands for one

    def expected(self, body: dict[str, Any]) -> dict[str, Any]:
        error = body["error"]
        for who, token_id in self.ids.items():
            error = error.replace(f"<{who}>", token_id)
        return {**body, "error": error}


@contextlib.contextmanager
def plant(folder: Path) -> Iterator[Served]:
    """A real app on an on-disk store, with one token per role (and one scoped to the ERP's batches)."""
    store = open_store(str(folder / "store"))
    secrets, ids = {"bootstrap": BOOTSTRAP}, {}
    for who, role, scopes in (
        ("admin", "admin", []),
        ("reader", "reader", []),
        ("integrator", "integrator", []),
        ("engineer", "engineer", []),
        ("scoped", "integrator", [ERP]),
    ):
        ids[who], secrets[who] = auth.create_token(
            store, role, scopes=scopes, description=f"{who} person", actor="root"
        )
    settings = Settings(store=str(folder / "store"), var_dir=folder / "var", write_token=BOOTSTRAP, kpi_summaries=False)
    server = LiveServer(create_app(settings, store=store))
    try:
        yield Served(server.url, secrets, ids)
    finally:
        server.stop()
        features.uninstall()  # create_app installed the load hooks process-wide
        store.close()


# (name, method, path, request options ("as": whose token), status, body, WWW-Authenticate)
CASES: list[tuple[str, str, str, dict[str, Any], int, dict[str, Any], str | None]] = [
    # threadline.auth.guard: RFC 6750
    (
        "not bearer",
        "GET",
        "/stats",
        {"headers": {"Authorization": "Basic eDp5"}},
        401,
        {"error": "the Authorization header must be 'Bearer <token>'"},
        REALM + ', error="invalid_request"',
    ),
    (
        "unknown token",
        "GET",
        "/stats",
        {"headers": {"Authorization": "Bearer tl_nope"}},
        401,
        {"error": "the token is not valid (unknown, mistyped or revoked)"},
        REALM + ', error="invalid_token"',
    ),
    (
        "no token",
        "GET",
        "/admin/tokens",
        {},
        401,
        {"error": "this needs a token with role 'admin' (Authorization: Bearer <token>)"},
        REALM,
    ),
    (
        "role",
        "GET",
        "/admin/tokens",
        {"as": "reader"},
        403,
        {"error": "token <reader> has role 'reader', which does not grant 'admin'"},
        None,
    ),
    # threadline.auth.routes
    (
        "bad role",
        "POST",
        "/admin/tokens",
        {"as": "admin", "json": {"role": "boss"}},
        422,
        {"error": "unknown role 'boss'; roles are: reader, engineer, compliance, integrator, admin"},
        None,
    ),
    (
        "no reason",
        "DELETE",
        "/admin/tokens/0123456789ab",
        {"as": "admin"},
        422,
        {"error": "a reason is required to revoke a token: DELETE /admin/tokens/{id}?reason=..."},
        None,
    ),
    (
        "unknown token id",
        "DELETE",
        "/admin/tokens/0123456789ab",
        {"as": "admin", "params": {"reason": "gone"}},
        404,
        {"error": "no token with id '0123456789ab'"},
        None,
    ),
    # threadline.signatures.routes
    (
        "sign anonymous",
        "POST",
        "/signatures",
        {"json": {"record": RECORD, "meaning": "released"}},
        401,
        {"error": "this needs a token with role 'reader' (Authorization: Bearer <token>)"},
        REALM,
    ),
    (
        "sign shared token",
        "POST",
        "/signatures",
        {"as": "bootstrap", "json": {"record": RECORD, "meaning": "released", "password": BOOTSTRAP}},
        403,
        {
            "error": (
                "the bootstrap THREADLINE_WRITE_TOKEN is shared, not one person's: sign with a personal "
                "API token (21 CFR 11.100(a))"
            )
        },
        None,
    ),
    (
        "sign without password",
        "POST",
        "/signatures",
        {"as": "engineer", "json": {"record": RECORD, "meaning": "released"}},
        401,
        {"error": 'signing needs re-authentication: repeat your token\'s secret as "password" (21 CFR 11.200(a)(1))'},
        REALM,
    ),
    (
        "sign with another secret",
        "POST",
        "/signatures",
        {"as": "engineer", "json": {"record": RECORD, "meaning": "released", "password": "PASSWORD:reader"}},
        401,
        {"error": 're-authentication failed: "password" is not the secret of the token you sign with'},
        REALM,
    ),
    (
        "sign two records",
        "POST",
        "/signatures",
        {"as": "engineer", "json": {"record": RECORD, "capa": "C-1", "meaning": "x", "password": "PASSWORD:engineer"}},
        422,
        {"error": "name the record with exactly one of: record, revision, ncr, capa"},
        None,
    ),
    (
        "sign unknown record",
        "POST",
        "/signatures",
        {"as": "engineer", "json": {"record": RECORD, "meaning": "released", "password": "PASSWORD:engineer"}},
        404,
        {
            "error": (
                "the thread holds no record https://w3id.org/threadline/id/rev/NOPE/A within token <engineer>'s scopes"
            )
        },
        None,
    ),
    (
        "sign not an IRI",
        "POST",
        "/signatures",
        {"as": "engineer", "json": {"record": "not an IRI", "meaning": "released", "password": "PASSWORD:engineer"}},
        422,
        {"error": "record must be an IRI, not 'not an IRI'"},
        None,
    ),
    (
        "list not an IRI",
        "GET",
        "/signatures",
        {"as": "reader", "params": {"record": "not an IRI"}},
        422,
        {"error": "record must be an IRI, not 'not an IRI'"},
        None,
    ),
    # threadline.shacl.routes
    (
        "validate format",
        "POST",
        "/validate",
        {"as": "reader", "params": {"format": "pdf"}},
        422,
        {"error": "format must be one of ['csv', 'html', 'json', 'turtle', 'xlsx'] and engine native|pyshacl"},
        None,
    ),
    (
        "validate both",
        "POST",
        "/validate",
        {"as": "reader", "params": {"profile": "release"}, "files": {"shapes": TTL}},
        422,
        {"error": "give a profile or a shapes file, not both"},
        None,
    ),
    (
        "validate store",
        "POST",
        "/validate",
        {"as": "reader", "params": {"store_report": "true"}},
        403,
        {
            "error": (
                "storing a validation report needs role 'compliance'; token:<reader> (reader person) has "
                "'reader' (validate with store_report=false)"
            )
        },
        None,
    ),
    (
        "report not one",
        "GET",
        "/reports/view",
        {"as": "reader", "params": {"graph": "http://x/"}},
        404,
        {"error": "not a validation report graph"},
        None,
    ),
    (
        "report missing",
        "GET",
        "/reports/view",
        {"as": "admin", "params": {"graph": REPORT_GRAPH_PREFIX + "none"}},
        404,
        {"error": "no stored report in https://w3id.org/threadline/graph/validation/none"},
        None,
    ),
    # threadline.ingest.routes
    (
        "ingest scope",
        "POST",
        "/ingest/mes",
        {"as": "scoped", "files": {"files": NT}},
        403,
        {"error": "token <scoped> may not write mes batches (outside its scope)"},
        None,
    ),
    (
        "ingest mode",
        "POST",
        "/ingest/mes",
        {"as": "integrator", "params": {"mode": "all"}, "files": {"files": NT}},
        422,
        {"error": "mode must be snapshot|delta and on_error fail|skip"},
        None,
    ),
    (
        "ingest system",
        "POST",
        "/ingest/nosuch",
        {"as": "integrator", "files": {"files": NT}},
        404,
        {"error": "unknown source system 'nosuch': no mapping pack of that name"},
        None,
    ),
    (
        "ingest file name",
        "POST",
        "/ingest/mes",
        {"as": "integrator", "files": [("files", ("..", b"", "text/csv"))]},
        422,
        {"error": "uploaded file name '..' is not a file name"},
        None,
    ),
    (
        "ingest same name",
        "POST",
        "/ingest/mes",
        {"as": "integrator", "files": [("files", ("a.csv", b"", "text/csv")), ("files", ("a.csv", b"", "text/csv"))]},
        422,
        {"error": "two uploaded files are both named 'a.csv'"},
        None,
    ),
    # threadline.sparql: the Graph Store Protocol's access rules
    (
        "write without token",
        "PUT",
        "/store",
        {"params": {"graph": "http://example.org/g"}, "content": b"", "headers": {"Content-Type": "text/turtle"}},
        403,
        {
            "error": (
                "this endpoint is read-only without a token: writing needs a token with role 'integrator' "
                "(Authorization: Bearer <token>; THREADLINE_WRITE_TOKEN is an admin token)"
            )
        },
        REALM,
    ),
    (
        "write a system graph",
        "PUT",
        "/store",
        {
            "as": "admin",
            "params": {"graph": SECURITY_GRAPH},
            "content": b"",
            "headers": {"Content-Type": "text/turtle"},
        },
        403,
        {
            "error": (
                "<https://w3id.org/threadline/graph/security> is a system graph: it changes only through "
                "its own commands"
            )
        },
        None,
    ),
    (
        "write outside scope",
        "PUT",
        "/store",
        {
            "as": "scoped",
            "params": {"graph": "http://example.org/g"},
            "content": b"",
            "headers": {"Content-Type": "text/turtle"},
        },
        403,
        {"error": "token <scoped> may not write http://example.org/g (outside its scope)"},
        None,
    ),
]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with plant(tmp_path_factory.mktemp("error-bodies")) as served:
        yield served


def ask(live: Served, method: str, path: str, options: dict[str, Any]) -> httpx.Response:
    secrets = live.secrets
    options = dict(options)
    headers = dict(options.pop("headers", {}))
    who = options.pop("as", None)
    if who is not None:
        headers["Authorization"] = f"Bearer {secrets[who]}"
    if isinstance(options.get("json"), dict) and str(options["json"].get("password", "")).startswith("PASSWORD:"):
        options["json"] = {**options["json"], "password": secrets[options["json"]["password"].split(":", 1)[1]]}
    return httpx.request(method, live.url + path, headers=headers, timeout=60, **options)


@pytest.mark.parametrize(
    ("name", "method", "path", "options", "status", "body", "challenge"), CASES, ids=[c[0] for c in CASES]
)
def test_each_refusal_answers_its_status_body_and_challenge(
    live: Served,
    name: str,
    method: str,
    path: str,
    options: dict[str, Any],
    status: int,
    body: dict[str, Any],
    challenge: str | None,
) -> None:
    answer = ask(live, method, path, options)
    expected = (status, live.expected(body), challenge)
    assert (answer.status_code, answer.json(), answer.headers.get("www-authenticate")) == expected
