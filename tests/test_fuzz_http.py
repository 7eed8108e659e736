"""Fuzz the live HTTP API: whatever a client sends, Threadline answers 2xx/3xx/4xx — never a server error.

Schemathesis drives every operation in ``/openapi.json`` (positive and negative cases) and every root field of
``/graphql`` (via its GraphQL support, from introspection). Neither sees what the OpenAPI document does not
describe, and schemathesis' GraphQL generator only writes *valid* documents, so hand-written hypothesis
strategies add what they miss: malformed GraphQL documents and bodies, mutated SPARQL sent through all three
protocol forms, named queries with hostile parameters, and the Graph Store Protocol with odd graph IRIs.

For GraphQL a server error can hide inside a 200: our schema masks unexpected exceptions as
``"internal error"``, so that message counts as a 5xx. Everything runs with the bootstrap admin token, so the
authorised paths (loads, token admin, validation evidence) are exercised, not just the 401s.

Bounded for CI: few examples per operation, ``derandomize=True`` (reproducible), no example database, no
deadline (the first request of a kind pays for warm-up).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig

from tests.conftest import REPO, DemoThread, LiveServer
from threadline.config import Settings
from threadline.store import Store, open_store
from threadline.web.app import create_app

TOKEN = "fuzz-bootstrap-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MASKED = "internal error"  # what MaskErrors puts in place of an unexpected exception's message

FUZZ = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)

CONFIG = SchemathesisConfig.from_dict(
    {
        "headers": AUTH,
        "generation": {"mode": "all", "max-examples": 12, "deterministic": True, "database": "none"},
    }
)


class FuzzServer:
    """The full app on its own on-disk copy of the demo thread: the fuzzer writes (tokens, loads, evidence)."""

    def __init__(self, demo: DemoThread, folder: Path) -> None:
        buffer = io.BytesIO()
        demo.store.dump(buffer)
        self.store: Store = open_store(str(folder / "store"))
        self.store.load(buffer.getvalue())
        self.settings = Settings(write_token=TOKEN, var_dir=folder / "var")
        self.live = LiveServer(create_app(self.settings, store=self.store))
        self.url = self.live.url
        self.client = httpx.Client(base_url=self.url, headers=AUTH, timeout=60)

    def stop(self) -> None:
        self.client.close()
        self.live.stop()
        self.store.close()


@pytest.fixture(scope="module")
def fuzz_server(demo_thread: DemoThread) -> Iterator[FuzzServer]:
    with tempfile.TemporaryDirectory(prefix="threadline-fuzz-") as tmp:
        server = FuzzServer(demo_thread, Path(tmp))
        yield server
        server.stop()


@pytest.fixture(scope="module")
def graphql_schema(fuzz_server: FuzzServer) -> Any:
    return schemathesis.graphql.from_url(f"{fuzz_server.url}/graphql", config=CONFIG, headers=AUTH)


def assert_no_server_error(response: httpx.Response | Any, what: str) -> None:
    """A 5xx, or a GraphQL error our schema had to mask, is a bug: bad input must get a 4xx with a message."""
    status = response.status_code
    assert status < 500, f"{what}: HTTP {status}: {response.text[:500]}"
    if status >= 400 and response.request.method != "HEAD":
        assert response.text.strip(), f"{what}: HTTP {status} without a message"
    if "json" in response.headers.get("content-type", ""):
        try:
            body = response.json()
        except ValueError:
            return
        errors = body.get("errors") if isinstance(body, dict) else None
        for error in errors or []:
            assert error.get("message") != MASKED, f"{what}: GraphQL hid a server error: {body}"


def fuzz_operations(schema: Any, modes: list[GenerationMode]) -> list[str]:
    """Run a bounded hypothesis search per operation and mode; return one line per operation that failed.

    (Not ``schemathesis.pytest.from_fixture``: its lazy loader reads a private pytest attribute that pytest 9
    removed, so we drive the operations' strategies ourselves.)
    """
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in modes:
            try:
                _fuzz_one(operation, mode)
            except Unsatisfiable:
                continue  # nothing in this operation can be made invalid (no parameters, no body)
            except Exception as exc:  # collect every operation's failure, report them together
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    return failures


def _fuzz_one(operation: Any, mode: GenerationMode) -> None:
    openapi = operation.schema.__class__.__name__.startswith("OpenApi")

    @FUZZ
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(headers=AUTH, timeout=60)
        if openapi:
            case.validate_response(response, checks=[not_a_server_error])
        assert_no_server_error(response, f"{operation.label} {case.method} {case.formatted_path} {case.body!r}")

    run()


def test_whole_api_passes_every_schemathesis_check(fuzz_server: FuzzServer, tmp_path: Path) -> None:
    """``st run --checks all`` over ``/openapi.json``: every phase (examples, coverage, fuzzing, stateful).

    This checks the document as much as the server: undocumented statuses and content types, bodies that do
    not match their schema, schema-valid requests refused, schema-invalid ones accepted, and ``Allow`` on 405.
    Formats JSON Schema cannot express (SPARQL, GraphQL, IRIs) get generators from ``schemathesis_hooks``;
    ``schemathesis.toml`` says which routes refuse content with a documented 4xx (see there).
    """
    command = [
        str(Path(sys.executable).with_name("st")),
        "--config-file",
        str(REPO / "tests" / "schemathesis.toml"),
        "run",
        f"{fuzz_server.url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        "5",
        "--request-timeout",
        "300",
        # `--checks all` includes a 10 s response-time check: a timing assertion, which fails on a loaded machine
        # (a backup under load took 14 s); time is measured in bench/, not asserted here
        "--max-response-time",
        "3600",
        "--generation-deterministic",
        "--no-color",
        "-H",
        f"Authorization: Bearer {TOKEN}",
        "-H",
        "X-Threadline-Reason: schemathesis",
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.schemathesis_hooks", "PYTHONPATH": str(REPO)}
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
    assert "No issues found" in result.stdout or " passed" in result.stdout, result.stdout[-3000:]


def test_graphql_fields_never_answer_server_errors(graphql_schema: Any) -> None:
    # schemathesis generates valid GraphQL documents only; malformed ones come from the strategy further down
    failures = fuzz_operations(graphql_schema, [GenerationMode.POSITIVE])
    assert not failures, "\n\n".join(failures)


# ---- hand-written strategies: what schemathesis does not generate -------------------------------------------

EXAMPLES = sorted((REPO / "graphql" / "examples").glob("*.graphql"))
SPARQL = sorted((REPO / "queries").glob("*.rq"))
NASTY = st.sampled_from(
    [
        "",
        " ",
        "{",
        "}",
        "(",
        ")",
        '"',
        "\\",
        "$",
        "#",
        "...",
        "@",
        ":",
        "!",
        "\x00",
        "\ud7ff",
        "é",
        "\n",
        "__typename",
        "<",
        ">",
        "?x",
        "FROM <urn:x>",
        "SERVICE <http://127.0.0.1:1/>",
        "'''",
        "^^",
        "1e999999",
        "-0",
        "𝔘",
    ]
)


@st.composite
def mutated(draw: st.DrawFn, texts: list[str]) -> str:
    """A real document, cut, spliced and sprinkled with tokens that break lexers and parsers."""
    text = draw(st.sampled_from(texts))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["truncate", "insert", "delete", "duplicate"]))
        if action == "truncate":
            text = text[:at]
        elif action == "insert":
            text = text[:at] + draw(st.one_of(NASTY, st.text(max_size=8))) + text[at:]
        elif action == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 20)) :]
        else:
            text = text[:at] + text[at : at + 40] * draw(st.integers(2, 5)) + text[at:]
    return text


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
GRAPHQL_TEXTS = [p.read_text() for p in EXAMPLES]


@st.composite
def graphql_request(draw: st.DrawFn) -> dict[str, Any]:
    document = draw(mutated(GRAPHQL_TEXTS))
    shape = draw(st.sampled_from(["json", "json-odd", "raw", "get"]))
    if shape == "json":
        return {
            "method": "POST",
            "json": {
                "query": document,
                "variables": draw(st.none() | st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=3)),
            },
        }
    if shape == "json-odd":  # wrong types where strings and objects belong
        return {
            "method": "POST",
            "json": {
                "query": draw(st.sampled_from([document, None, 7, [document]])),
                "variables": draw(JSON_VALUES),
                "operationName": draw(JSON_VALUES),
            },
        }
    if shape == "raw":
        body = draw(st.sampled_from([document, document[: len(document) // 2] + "{", "\xff\xfe"]))
        return {
            "method": "POST",
            "content": body.encode("utf-8", "surrogatepass"),
            "headers": {
                "Content-Type": draw(st.sampled_from(["application/json", "application/graphql", "text/plain"]))
            },
        }
    return {
        "method": "GET",
        "params": {"query": document, "variables": draw(st.sampled_from(["{", "[]", "null", "{}"]))},
    }


@FUZZ
@given(request=graphql_request())
def test_malformed_graphql_documents_get_client_errors(fuzz_server: FuzzServer, request: dict[str, Any]) -> None:
    method = request.pop("method")
    response = fuzz_server.client.request(method, "/graphql", **request)
    assert_no_server_error(response, f"GraphQL {method} {request}")


SPARQL_TEXTS = [p.read_text() for p in SPARQL] + ["SELECT * WHERE { ?s ?p ?o } LIMIT 3", "ASK { }"]


@st.composite
def sparql_request(draw: st.DrawFn) -> dict[str, Any]:
    query = draw(mutated(SPARQL_TEXTS))
    form = draw(st.sampled_from(["get", "form", "direct", "update"]))
    graphs = {"default-graph-uri": draw(st.sampled_from(["", "not an iri", "urn:x", "http://a b"]))}
    if form == "get":
        return {"method": "GET", "params": {"query": query, **draw(st.sampled_from([{}, graphs]))}}
    if form == "form":
        return {"method": "POST", "data": {"query": query, **draw(st.sampled_from([{}, graphs]))}}
    if form == "direct":
        return {
            "method": "POST",
            "content": query.encode("utf-8", "surrogatepass"),
            "headers": {
                "Content-Type": "application/sparql-query",
                "Accept": draw(
                    st.sampled_from(["application/sparql-results+json", "text/csv", "text/turtle", "x/y", "*/*"])
                ),
            },
        }
    # updates get mutated read-only text: never a valid destructive update, always a parse or refusal
    return {
        "method": "POST",
        "content": query.encode("utf-8", "surrogatepass"),
        "headers": {"Content-Type": "application/sparql-update"},
    }


@FUZZ
@given(request=sparql_request())
def test_malformed_sparql_gets_client_errors(fuzz_server: FuzzServer, request: dict[str, Any]) -> None:
    method = request.pop("method")
    response = fuzz_server.client.request(method, "/sparql", **request)
    assert_no_server_error(response, f"SPARQL {method} {request}")


NAMED = ["capa-aging", "design-change-impact", "genealogy-backward", "genealogy-forward", "where-used", "scrap-rate"]
PARAMS = ["asOf", "eco", "serial", "lot", "part", "format", "limit", "offset", "graph"]
HOSTILE = st.one_of(
    NASTY,
    st.text(max_size=12),
    st.sampled_from(
        ["2024-13-45T00:00:00Z", "-1", "99999999999999999999", '" } DROP ALL #', "> } ; <urn:x", "csv", "CSV"]
    ),
)


@FUZZ
@given(name=st.sampled_from(NAMED), params=st.dictionaries(st.sampled_from(PARAMS), HOSTILE, max_size=3))
def test_named_queries_reject_hostile_parameters(fuzz_server: FuzzServer, name: str, params: dict[str, str]) -> None:
    response = fuzz_server.client.get(f"/queries/{name}", params=params)
    assert_no_server_error(response, f"/queries/{name} {params}")


@FUZZ
@given(
    method=st.sampled_from(["GET", "HEAD", "PUT", "POST", "DELETE"]),
    graph=st.one_of(HOSTILE, st.sampled_from(["urn:fuzz", "https://w3id.org/threadline/graph/x"])),
    body=st.sampled_from([b"", b"<urn:a> <urn:b> <urn:c> .", b"<urn:a> <urn:b> .", b"\xff\xfe", b"@prefix : <"]),
    content_type=st.sampled_from(["text/turtle", "application/n-triples", "application/json", "x/y"]),
)
def test_graph_store_rejects_bad_requests(
    fuzz_server: FuzzServer, method: str, graph: str, body: bytes, content_type: str
) -> None:
    params = {"graph": graph}  # never the default graph: a DELETE there would be a valid (and drastic) request
    headers = {"Content-Type": content_type} if method in ("PUT", "POST") else {}
    response = fuzz_server.client.request(method, "/store", params=params, content=body or None, headers=headers)
    assert_no_server_error(response, f"{method} /store {params} {body!r} {content_type}")


def test_fuzzed_server_still_serves_the_thread(fuzz_server: FuzzServer) -> None:
    """After the fuzzing above the service still answers real questions (it did not wedge or lose its data)."""
    response = fuzz_server.client.post("/graphql", json={"query": EXAMPLES[0].read_text()})
    assert response.status_code == 200 and "errors" not in response.json(), response.text[:500]
    assert json.dumps(response.json()["data"]) != "{}"


@pytest.mark.parametrize(
    ("parameter", "value"),
    [("default-graph-uri", ""), ("named-graph-uri", "not an iri"), ("default-graph-uri", "http://a b")],
)
def test_regression_malformed_dataset_iri_is_a_client_error(
    fuzz_server: FuzzServer, parameter: str, value: str
) -> None:
    """Found by the fuzzer: ``default-graph-uri=`` (empty) killed the query worker and answered 503."""
    response = fuzz_server.client.get("/sparql", params={"query": "ASK { }", parameter: value})
    assert response.status_code == 400, response.text
    assert parameter in response.json()["error"] and "IRI" in response.json()["error"]
    # and the worker pool is intact: the next query is answered
    assert fuzz_server.client.get("/sparql", params={"query": "ASK { }"}).json()["boolean"] is True
