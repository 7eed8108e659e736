"""The endpoint is safe by default: read-only, no federation, bounded in time and size, clear errors."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyoxigraph as ox
import pytest

from tests.canary import canary as serve_canary
from tests.conftest import LiveServer
from threadline.config import Settings
from threadline.store import open_store
from threadline.store.safety import ForbiddenOperation, check_query, check_update
from threadline.web.app import create_app

TOKEN = "safety-token"
# 20 chained cross joins over 40 triples: 40^20 rows to count; never finishes on its own. Only for the
# on-disk store, whose worker process is killed; a memory store's thread would burn a core for ever.
HEAVY = "SELECT (COUNT(*) AS ?n) WHERE { " + " ".join(f"?s{i} ?p{i} ?o{i} ." for i in range(20)) + " }"
# 40^4 x 12 = 31M rows: about 5 s in memory, longer than the 2 s limit, then it ends by itself.
FINITE = (
    "SELECT (COUNT(*) AS ?n) WHERE { VALUES ?k { 1 2 3 4 5 6 7 8 9 10 11 12 } "
    + " ".join(f"?s{i} ?p{i} ?o{i} ." for i in range(4))
    + " }"
)
CHEAP = "ASK { ?s ?p ?o }"
# generous: a loaded machine (the first query starts the worker processes) must not fail these tests by time
_client = httpx.Client(timeout=120)


class LimitedSettings(Settings):
    sparql_timeout: float = 2.0
    sparql_max_rows: int = 25
    sparql_workers: int = 2


def _serve(kind: str, tmp_path: Any, timeout: float = 2.0) -> tuple[LiveServer, Any]:
    url = "memory:" if kind == "memory" else str(tmp_path / "store")
    store = open_store(url)
    data = "".join(f'<http://e/s{i}> <http://e/p> "{i}" .\n' for i in range(40)).encode()
    store.load(data, "http://e/graph", ox.RdfFormat.N_TRIPLES)
    settings = LimitedSettings(store=url, write_token=TOKEN, sparql_timeout=timeout)
    app = create_app(settings, store=store)
    return LiveServer(app), app


@pytest.fixture(params=["disk", "memory"])
def endpoint(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[tuple[str, Any]]:
    server, app = _serve(request.param, tmp_path)
    yield server.url + "/sparql", app
    server.stop()


@pytest.fixture
def disk_endpoint(tmp_path: Any) -> Iterator[tuple[str, Any]]:
    server, app = _serve("disk", tmp_path)
    yield server.url + "/sparql", app
    server.stop()


@pytest.fixture
def trap() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that records every request: SERVICE must never reach it."""
    with serve_canary(answer=False) as (url, hits):
        yield f"{url}/sparql", hits


# -- read-only ---------------------------------------------------------------------------------------------


def test_update_needs_the_write_token(endpoint: tuple[str, Any]) -> None:
    url, _ = endpoint
    update = "INSERT DATA { GRAPH <http://e/new> { <http://e/x> <http://e/p> 1 } }"
    for headers, status in (
        ({}, 403),  # read-only without a token
        ({"Authorization": "Bearer nope"}, 401),  # a bad token is an authentication error (RFC 6750)
        ({"Authorization": f"Basic {TOKEN}"}, 401),
    ):
        response = _client.post(url, data={"update": update}, headers=headers)
        assert response.status_code == status, response.text
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert _client.get(url, params={"query": "ASK { <http://e/x> ?p ?o }"}).json()["boolean"] is False
    writer = {"Content-Type": "application/sparql-update", "Authorization": f"Bearer {TOKEN}"}
    response = _client.post(url, content=update, headers=writer)
    assert response.status_code == 400 and "needs a reason" in response.json()["error"], response.text
    response = _client.post(url, content=update, headers=writer | {"X-Threadline-Reason": "safety test"})
    assert response.status_code == 204
    assert _client.get(url, params={"query": "ASK { <http://e/x> ?p ?o }"}).json()["boolean"] is True


def test_an_update_sent_as_a_query_is_a_syntax_error(endpoint: tuple[str, Any]) -> None:
    url, _ = endpoint
    response = _client.get(url, params={"query": "DROP ALL"})
    assert response.status_code == 400
    assert _client.get(url, params={"query": CHEAP}).json()["boolean"] is True


def test_graph_store_writes_need_the_token(endpoint: tuple[str, Any]) -> None:
    url, _ = endpoint
    store_url = url.replace("/sparql", "/store")
    body = b"<http://e/a> <http://e/b> <http://e/c> ."
    for method in ("PUT", "POST", "DELETE"):
        response = httpx.request(
            method, store_url, params={"graph": "http://e/graph"}, content=body, headers={"Content-Type": "text/turtle"}
        )
        assert response.status_code == 403, (method, response.text)
    assert _client.get(store_url, params={"graph": "http://e/graph"}).text.count("http://e/p") == 40


# -- no federation, no fetching ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "SELECT * WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}",
        "select * where {{ service silent <{url}> {{ ?s ?p ?o }} }}",
        "SELECT * WHERE {{ ?a ?b ?c OPTIONAL {{ \\u0053ERVICE <{url}> {{ ?s ?p ?o }} }} }}",
        "PREFIX x: <http://x/>\nSELECT * WHERE {{\n  {{ SELECT ?s WHERE {{ SeRvIcE <{url}> {{ ?s ?p ?o }} }} }}\n}}",
    ],
)
def test_service_is_refused_before_execution(
    disk_endpoint: tuple[str, Any], trap: tuple[str, list[str]], template: str
) -> None:
    url, _ = disk_endpoint
    target, hits = trap
    response = _client.post(url, data={"query": template.format(url=target)})
    assert response.status_code == 400, response.text
    assert "SERVICE" in response.json()["error"]
    assert response.json()["position"].startswith("line ")
    assert hits == [], "the store called the SERVICE URL"


def test_service_as_data_is_not_a_service() -> None:
    assert (
        check_query(
            'PREFIX ex: <http://x/> SELECT * { ?s ex:SERVICE "SERVICE" . ?service <http://x/SERVICE> ?o } # SERVICE <x>'
        )
        == "SELECT"
    )
    with pytest.raises(ForbiddenOperation):
        check_update("LOAD <http://example.org/data.ttl> INTO GRAPH <http://e/g>")


def test_update_cannot_make_the_server_fetch(disk_endpoint: tuple[str, Any], trap: tuple[str, list[str]]) -> None:
    url, _ = disk_endpoint
    target, hits = trap
    auth = {"Authorization": f"Bearer {TOKEN}", "X-Threadline-Reason": "test"}
    for update in (f"LOAD <{target}>", f"INSERT {{ ?s ?p ?o }} WHERE {{ SERVICE <{target}> {{ ?s ?p ?o }} }}"):
        response = _client.post(url, data={"update": update}, headers=auth)
        assert response.status_code == 400, response.text
    assert hits == []


# -- time limit, size limit, errors ------------------------------------------------------------------------


def test_timeout_stops_the_work(disk_endpoint: tuple[str, Any]) -> None:
    url, app = disk_endpoint
    assert _client.get(url, params={"query": CHEAP}).status_code == 200  # starts the worker pool
    executor = app.state.sparql_runner._executor
    before = set(executor.pids())
    response = _client.get(url, params={"query": HEAVY}, timeout=60)
    assert response.status_code == 503, response.text
    assert response.headers.get("x-threadline-error") == "timeout", response.text
    assert "time limit of 2 s" in response.json()["error"]
    killed = before - set(executor.pids())
    assert len(killed) == 1, "the worker that ran the query was replaced"
    for pid in killed:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # gone: its CPU is free
    assert _client.get(url, params={"query": CHEAP}).json()["boolean"] is True  # a fresh worker took its place


def test_timeout_on_a_memory_store_still_answers_503(tmp_path: Any) -> None:
    server, _ = _serve("memory", tmp_path)
    try:
        response = _client.get(server.url + "/sparql", params={"query": FINITE}, timeout=60)
        assert response.status_code == 503
        assert "memory store" in response.json()["error"]
    finally:
        server.stop()


def test_cheap_query_stays_fast_while_a_heavy_one_runs(tmp_path: Any) -> None:
    """The heavy query may run for two minutes here, so the cheap ones are answered while it runs however loaded
    the machine is; then its worker is killed, which ends its request with a 503 at once."""
    server, app = _serve("disk", tmp_path, timeout=120.0)
    url = server.url + "/sparql"
    try:
        warm = [
            threading.Thread(target=_client.get, args=(url,), kwargs={"params": {"query": CHEAP}}) for _ in range(2)
        ]
        for thread in warm:  # both worker processes started and holding the store
            thread.start()
        for thread in warm:
            thread.join()
        heavy: dict[str, Any] = {}
        thread = threading.Thread(target=lambda: heavy.update(r=_client.get(url, params={"query": HEAVY})))
        thread.start()
        answers = [_client.get(url, params={"query": CHEAP}) for _ in range(5)]
        still_running = thread.is_alive()
        for pid in app.state.sparql_runner._executor.pids():
            os.kill(pid, signal.SIGKILL)
        thread.join(timeout=120)
    finally:
        server.stop()
    assert [a.json().get("boolean") for a in answers] == [True] * 5, [a.text for a in answers]
    assert still_running, "the cheap queries were answered while the heavy one was still running"
    assert heavy["r"].status_code == 503, heavy["r"].text


def test_result_size_limit(endpoint: tuple[str, Any]) -> None:
    url, _ = endpoint
    response = _client.get(url, params={"query": "SELECT * { ?s ?p ?o }"})
    assert response.status_code == 422, response.text
    assert "more than 25 rows" in response.json()["error"] and "LIMIT" in response.json()["error"]
    graph = _client.get(url, params={"query": "CONSTRUCT WHERE { ?s ?p ?o }"})
    assert graph.status_code == 422 and "25 triples" in graph.json()["error"]
    page = _client.get(url, params={"query": "SELECT * { ?s ?p ?o } LIMIT 25"}, headers={"Accept": "text/csv"})
    assert page.status_code == 200 and len(page.text.strip().splitlines()) == 26


def _spools(app: Any) -> list[Path]:
    folder = app.state.sparql_runner._spools
    return sorted(folder.iterdir()) if folder is not None and folder.is_dir() else []


def _no_spools_left(app: Any) -> bool:
    for _ in range(100):  # the file is removed just after the body is sent
        if not _spools(app):
            return True
        time.sleep(0.05)
    return False


def test_csv_and_tsv_answers_stream_with_no_row_limit(endpoint: tuple[str, Any]) -> None:
    """A data scientist's extract (pandas reads CSV) is not cut at the row limit: CSV and TSV answers are
    written to a file row by row and streamed from there, so memory stays bounded without the limit. JSON and
    XML answers, built in memory, keep it (``test_result_size_limit``)."""
    url, app = endpoint
    query = "SELECT ?s ?o { ?s <http://e/p> ?o } ORDER BY ?s"
    csv_answer = _client.get(url, params={"query": query}, headers={"Accept": "text/csv"})
    assert csv_answer.status_code == 200, csv_answer.text
    lines = csv_answer.text.splitlines()
    assert lines[0] == "s,o" and len(lines) == 41 and csv_answer.headers["x-threadline-rows"] == "40"
    assert sorted(int(line.split(",")[1]) for line in lines[1:]) == list(range(40))
    tsv_answer = _client.get(url, params={"query": query}, headers={"Accept": "text/tab-separated-values"})
    assert tsv_answer.status_code == 200 and len(tsv_answer.text.splitlines()) == 41
    assert tsv_answer.text.splitlines()[1] == '<http://e/s0>\t"0"'
    assert _client.head(url, params={"query": query}, headers={"Accept": "text/csv"}).status_code == 200
    assert _no_spools_left(app), _spools(app)
    # the same answer in JSON is over the limit (25): refused, never cut
    assert _client.get(url, params={"query": query}).status_code == 422


def test_a_timed_out_csv_answer_leaves_no_file(disk_endpoint: tuple[str, Any]) -> None:
    url, app = disk_endpoint
    rows = "SELECT * WHERE { " + " ".join(f"?s{i} ?p{i} ?o{i} ." for i in range(6)) + " }"  # 40^6 rows
    response = _client.get(url, params={"query": rows, "timeout": "1"}, headers={"Accept": "text/csv"})
    assert response.status_code == 503, response.text[:300]
    assert _no_spools_left(app), _spools(app)


def test_malformed_query_gets_the_parser_message_and_position(endpoint: tuple[str, Any]) -> None:
    url, _ = endpoint
    response = _client.get(url, params={"query": "SELECT * WHERE {\n  ?s ?p \n}"})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"].startswith("malformed query: error at 3:")
    assert body["position"].startswith("line 3, column ")


def test_clients_may_lower_the_time_limit_but_not_raise_it(disk_endpoint: tuple[str, Any]) -> None:
    url, _ = disk_endpoint
    response = _client.get(url, params={"query": HEAVY, "timeout": "600"}, timeout=60)
    assert response.status_code == 503 and "2 s" in response.json()["error"]
    assert _client.get(url, params={"query": CHEAP, "timeout": "abc"}).status_code == 400


# -- spellings that got past the old token check (issue #11), and the sandbox under it ---------------------


@pytest.fixture
def canary() -> Iterator[tuple[str, list[str]]]:
    """A canary that answers one row, so that a leaked SERVICE would bring data back into an INSERT."""
    with serve_canary() as (url, hits):
        yield f"{url}/sparql", hits


@pytest.fixture
def memory_endpoint(tmp_path: Any) -> Iterator[tuple[str, Any]]:
    server, app = _serve("memory", tmp_path)
    app.state.store.load(
        b"<http://e/s0> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://e/T> .\n"
        b"<http://e/s1> <http://e/p> <http://x/a#> .\n",
        "http://e/graph",
        ox.RdfFormat.N_TRIPLES,
    )
    yield server.url + "/sparql", app
    server.stop()


BYPASSES = {  # each reached the URL through the old lexer-based check
    "dot after a variable": "SELECT * WHERE {{ ?s ?p ?o.SERVICE <{url}> {{ ?a ?b ?c }} }}",
    "dot after a ?t": "SELECT * WHERE {{ ?s a ?t.SERVICE <{url}> {{ ?a ?b ?c }} }}",
    "escaped # in a prefixed name": (
        "PREFIX ex: <http://x/>\nSELECT * WHERE {{ ?s ?p ?o FILTER(?o != ex:a\\#) SERVICE <{url}> {{ ?a ?b ?c }} }}"
    ),
    "\\u0022 in a string": 'SELECT * WHERE {{ BIND("\\u0022" AS ?x) SERVICE <{url}> {{ ?a ?b ?c }} }}',
}


@pytest.mark.parametrize("name", list(BYPASSES))
def test_spellings_that_hid_service_are_refused(
    memory_endpoint: tuple[str, Any], canary: tuple[str, list[str]], name: str
) -> None:
    url, _ = memory_endpoint
    target, hits = canary
    response = _client.post(url, data={"query": BYPASSES[name].format(url=target)})
    assert response.status_code == 400, response.text
    assert "SERVICE" in response.json()["error"]
    assert hits == [], "the store called the SERVICE URL"


LOAD_BYPASSES = {
    "escaped # in a prefixed name": (
        "PREFIX ex: <http://x/>\nINSERT DATA {{ <http://e/a> <http://e/b> ex:a\\# }} ; LOAD <{url}> INTO GRAPH <http://e/got>"
    ),
    "\\u0022 in a string": (
        'INSERT DATA {{ <http://e/a> <http://e/b> "\\u0022" }} ; LOAD <{url}> INTO GRAPH <http://e/got> ;\n'
        'INSERT DATA {{ <http://e/a> <http://e/b> "\\u0022" }}'
    ),
    "LOAD SILENT": "LOAD SILENT <{url}> INTO GRAPH <http://e/got>",
    "INSERT … WHERE {{ SERVICE }}": (
        "INSERT {{ GRAPH <http://e/got> {{ ?a ?b ?c }} }} WHERE {{ ?s ?p ?o.SERVICE <{url}> {{ ?a ?b ?c }} }}"
    ),
}


@pytest.mark.parametrize("name", list(LOAD_BYPASSES))
def test_updates_that_hid_load_or_service_are_refused_and_write_nothing(
    memory_endpoint: tuple[str, Any], canary: tuple[str, list[str]], name: str
) -> None:
    url, _ = memory_endpoint
    target, hits = canary
    auth = {"Authorization": f"Bearer {TOKEN}", "X-Threadline-Reason": "test"}
    response = _client.post(url, data={"update": LOAD_BYPASSES[name].format(url=target)}, headers=auth)
    assert response.status_code == 400, response.text
    assert "disabled on this endpoint" in response.json()["error"] or "not be verified" in response.json()["error"]
    assert hits == [], "the update made the server fetch the URL (possibly while only checking its syntax)"
    assert _client.get(url, params={"query": "ASK { GRAPH <http://e/got> { ?s ?p ?o } }"}).json()["boolean"] is False
    assert _client.get(url, params={"query": "ASK { <http://e/a> ?p ?o }"}).json()["boolean"] is False


def test_malformed_update_is_a_400_with_a_position(memory_endpoint: tuple[str, Any]) -> None:
    url, _ = memory_endpoint
    auth = {"Authorization": f"Bearer {TOKEN}", "X-Threadline-Reason": "test"}
    response = _client.post(url, data={"update": "INSERT DATA {\n <http://e/a> <http://e/b> \n}"}, headers=auth)
    assert response.status_code == 400, response.text
    assert response.json()["position"].startswith("line ")


def test_text_that_mentions_service_but_cannot_be_verified_is_refused(memory_endpoint: tuple[str, Any]) -> None:
    url, _ = memory_endpoint
    # SPARQL 1.2 triple terms: pyoxigraph reads them, rdflib cannot, and the text contains the word
    query = 'SELECT * WHERE { BIND(<<( <http://e/a> <http://e/b> "service" )>> AS ?t) }'
    assert len(list(ox.Store().query(query))) == 1
    response = _client.post(url, data={"query": query})
    assert response.status_code == 400 and "could not be verified" in response.json()["error"], response.text
    plain = 'SELECT * WHERE { BIND(<<( <http://e/a> <http://e/b> "c" )>> AS ?t) }'  # no word: not parsed, runs
    assert _client.post(url, data={"query": plain}).status_code == 200


def test_sandboxed_thread_cannot_open_a_tcp_connection_but_others_can() -> None:
    from threadline.store import sandbox

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def connect() -> str:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
            return "connected"
        except PermissionError:
            return "refused"

    try:
        assert sandbox.status() == "confined"
        assert sandbox.confined(connect) == "refused"
        assert connect() == "connected"  # the calling thread is untouched
        assert sandbox.confined(connect) == "refused"
    finally:
        listener.close()


@pytest.mark.parametrize("kind", ["memory", "disk"])
def test_the_sandbox_alone_stops_service_and_load(
    kind: str, tmp_path: Any, canary: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the parse check switched off, the engine still cannot reach the canary: memory-store query threads,
    the query worker processes of the on-disk store, and SPARQL Update all run with no network."""
    from threadline.store import safety

    server, _ = _serve(kind, tmp_path)
    target, hits = canary
    monkeypatch.setattr(safety, "_refuse", lambda text, update: None)
    try:
        url = server.url + "/sparql"
        response = _client.post(url, data={"query": f"SELECT * WHERE {{ SERVICE <{target}> {{ ?a ?b ?c }} }}"})
        assert response.status_code >= 400 and "not permitted" in response.text, response.text
        auth = {"Authorization": f"Bearer {TOKEN}", "X-Threadline-Reason": "test"}
        update = f"INSERT {{ GRAPH <http://e/got> {{ ?a ?b ?c }} }} WHERE {{ SERVICE <{target}> {{ ?a ?b ?c }} }}"
        assert _client.post(url, data={"update": update}, headers=auth).status_code >= 400
        assert hits == [], "the engine reached the canary"
        assert (
            _client.get(url, params={"query": "ASK { GRAPH <http://e/got> { ?s ?p ?o } }"}).json()["boolean"] is False
        )
    finally:
        server.stop()
