"""Observability over the real ASGI app on HTTP: request ids, access lines, event logs, /metrics, probes.

Log records are captured with Threadline's own handler (``observability.logs.configure`` with a stream), in
JSON, so every assertion reads the fields an operator's log collector would. Metrics are read through
prometheus-client's own parser, so a malformed exposition fails the test; counters are process-wide, so
tests compare before and after.
"""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import LiveServer, OxigraphServer, _free_port
from tests.test_loader import GOOD, MAPPING
from threadline import features
from threadline.auth.tokens import secret_hash
from threadline.cli import main
from threadline.config import Settings
from threadline.ingest import hooks
from threadline.observability import logs
from threadline.store import open_store
from threadline.web.app import create_app

ADMIN = "obs-bootstrap-admin-secret"
METRICS = "obs-metrics-scraper-secret"
HEAVY = "SELECT (COUNT(*) AS ?n) WHERE { " + " ".join(f"?s{i} ?p{i} ?o{i} ." for i in range(20)) + " }"


class Capture:
    """Every record the process logs, formatted by Threadline's handler, in JSON and in text."""

    def __init__(self) -> None:
        self.json, self.text = io.StringIO(), io.StringIO()
        root = logging.getLogger()
        self.level = root.level
        self.handlers = [
            logs.configure(Settings(log_format="text", log_level="debug"), stream=self.text),
        ]
        text_handler = self.handlers[0]
        root.removeHandler(text_handler)  # configure() replaces its previous handler: keep both
        self.handlers.append(logs.configure(Settings(log_format="json", log_level="debug"), stream=self.json))
        root.addHandler(text_handler)
        for handler in self.handlers:
            handler.threadline = False  # type: ignore[attr-defined]  # a CLI run's configure() leaves them be

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.json.getvalue().splitlines() if line.startswith("{")]

    def lines(self) -> list[str]:
        return self.json.getvalue().splitlines() + self.text.getvalue().splitlines()

    def close(self) -> None:
        root = logging.getLogger()
        for handler in self.handlers:
            root.removeHandler(handler)
        root.setLevel(self.level)


@pytest.fixture
def captured() -> Iterator[Capture]:
    capture = Capture()
    yield capture
    capture.close()


def _pack(tmp_path: Path) -> Path:
    pack = tmp_path / "ingest" / "mes"
    pack.mkdir(parents=True)
    (pack / "units.rml.ttl").write_text(MAPPING)
    return tmp_path / "ingest"


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    settings = Settings(
        store="memory:", ingest_dir=_pack(tmp_path), write_token=ADMIN, metrics_token=METRICS, var_dir=tmp_path / "v"
    )
    server = LiveServer(create_app(settings, store=open_store("memory:")))
    yield server
    server.stop()


def scrape(url: str, token: str = METRICS) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def ingest(url: str, request_id: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {ADMIN}"} | ({"X-Request-ID": request_id} if request_id else {})
    files = {"files": ("units.csv", GOOD.encode(), "text/csv")}
    return httpx.post(f"{url}/ingest/mes", files=files, headers=headers, timeout=60)


# -- request ids and access lines ----------------------------------------------------------------------------


def test_request_id_is_accepted_when_sane_generated_otherwise_and_echoed(live: LiveServer) -> None:
    given = httpx.get(f"{live.url}/livez", headers={"X-Request-ID": "client-7.a:b_c"})
    assert given.headers["x-request-id"] == "client-7.a:b_c"
    for hostile in ("x" * 129, "two words", "semi;colon", 'quote"d', ""):
        answer = httpx.get(f"{live.url}/livez", headers={"X-Request-ID": hostile})
        generated = answer.headers["x-request-id"]
        assert generated != hostile and len(generated) == 32 and int(generated, 16) >= 0
    first, second = httpx.get(f"{live.url}/livez"), httpx.get(f"{live.url}/livez")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


def test_access_line_per_request_with_route_template_status_duration_and_id(
    live: LiveServer, captured: Capture
) -> None:
    first = httpx.get(f"{live.url}/queries/no-such-query", headers={"X-Request-ID": "acc-1"}, timeout=60)
    assert first.status_code == 404, first.text
    second = httpx.get(f"{live.url}/no/such/path?token=abc", headers={"X-Request-ID": "acc-2"}, timeout=60)
    assert second.status_code == 404, second.text
    by_id: dict[str, Any] = {}
    deadline = time.monotonic() + 30
    while not {"acc-1", "acc-2"} <= by_id.keys() and time.monotonic() < deadline:
        # the access line is written once the response has gone out, so it may trail the client's answer
        by_id = {r["request_id"]: r for r in captured.records() if r["logger"] == "threadline.access"}
        time.sleep(0.05)
    assert by_id["acc-1"]["method"] == "GET" and by_id["acc-1"]["route"] == "/queries/{name}"
    assert by_id["acc-1"]["status"] == 404 and by_id["acc-1"]["duration_ms"] >= 0
    assert by_id["acc-2"]["route"] == "<unmatched>", "a raw path (and its query string) is never a label"


def test_lines_logged_in_worker_threads_carry_the_request_id(live: LiveServer, captured: Capture) -> None:
    response = ingest(live.url, "load-req-42")
    assert response.status_code == 200, response.text
    loads = [r for r in captured.records() if r["logger"] == "threadline.ingest.loader"]
    assert [r["message"].split(" (")[0] for r in loads][:1] == ["load of mes started"]
    assert loads and all(r["request_id"] == "load-req-42" for r in loads), loads  # logged in the threadpool
    done = [r for r in loads if r.get("outcome") == "committed"]
    assert done and done[0]["records"] == 2 and done[0]["triples"] > 0 and done[0]["duration_ms"] > 0


# -- event logs ------------------------------------------------------------------------------------------------


def test_after_commit_hook_errors_reach_the_http_answer_the_log_and_metrics(
    live: LiveServer, captured: Capture
) -> None:
    def failing_hook(store: Any, activity: Any) -> None:
        raise RuntimeError("summary service unreachable")

    before = scrape(live.url)
    hooks.after_commit(failing_hook)
    try:
        response = ingest(live.url, "hook-req")
    finally:
        hooks.unregister(failing_hook)
    assert response.status_code == 200, response.text
    assert response.json()["hookErrors"] == ["summary service unreachable"]
    assert response.json()["batches"][0]["status"] == "loaded"
    errors = [r for r in captured.records() if r["logger"] == "threadline.ingest.hooks"]
    assert errors and errors[0]["level"] == "error" and errors[0]["request_id"] == "hook-req"
    assert "summary service unreachable" in errors[0]["message"] and "RuntimeError" in errors[0]["exception"]
    after = scrape(live.url)
    assert (
        value(after, "threadline_after_commit_hook_errors_total")
        == value(before, "threadline_after_commit_hook_errors_total") + 1
    )
    assert value(after, "threadline_loads_total", system="mes", outcome="committed") == 1 + value(
        before, "threadline_loads_total", system="mes", outcome="committed"
    )


def test_a_clean_load_reports_no_hook_errors(live: LiveServer) -> None:
    assert ingest(live.url).json()["hookErrors"] == []


def test_failed_authentications_and_token_changes_are_logged_and_counted(live: LiveServer, captured: Capture) -> None:
    before = scrape(live.url)
    admin = {"Authorization": f"Bearer {ADMIN}"}
    created = httpx.post(f"{live.url}/admin/tokens", json={"role": "reader", "description": "Ann"}, headers=admin)
    assert created.status_code == 201, created.text
    token_id = created.json()["id"]
    reader = {"Authorization": f"Bearer {created.json()['secret']}"}
    assert httpx.post(f"{live.url}/admin/tokens", json={"role": "reader"}, headers=reader).status_code == 403
    assert httpx.get(f"{live.url}/stats", headers={"Authorization": "Bearer tl_nope"}).status_code == 401
    assert httpx.get(f"{live.url}/stats", headers={"Authorization": "Basic abc"}).status_code == 401
    revoked = httpx.delete(f"{live.url}/admin/tokens/{token_id}", params={"reason": "left"}, headers=admin)
    assert revoked.status_code == 200, revoked.text
    records = captured.records()
    changes = [(r["change"], r["token_id"], r["actor"]) for r in records if r["logger"] == "threadline.auth.tokens"]
    assert changes == [("created", token_id, "token:bootstrap"), ("revoked", token_id, "token:bootstrap")] or [
        c[:2] for c in changes
    ] == [("created", token_id), ("revoked", token_id)]
    refused = [(r["reason"], r["level"]) for r in records if r["logger"] == "threadline.auth.guard"]
    assert ("role", "warning") in refused and ("invalid", "warning") in refused and ("malformed", "warning") in refused
    after = scrape(live.url)
    for reason in ("role", "invalid", "malformed"):
        assert value(after, "threadline_auth_failures_total", reason=reason) == 1 + value(
            before, "threadline_auth_failures_total", reason=reason
        )
    for change in ("created", "revoked"):
        assert value(after, "threadline_token_changes_total", change=change) == 1 + value(
            before, "threadline_token_changes_total", change=change
        )


def test_kpi_refresh_failures_are_logged_and_counted(live: LiveServer, captured: Capture, tmp_path: Path) -> None:
    from threadline import kpi

    before = scrape(live.url)
    closed = open_store(str(tmp_path / "closed"))
    closed.close()
    kpi.refresher.request(closed)  # the background thread's refresh fails on a closed store
    assert kpi.refresher.wait(30)
    failures = [r for r in captured.records() if r["logger"] == "threadline.kpi"]
    assert failures and failures[0]["level"] == "error" and "refresh failed" in failures[0]["message"]
    after = scrape(live.url)
    assert value(after, "threadline_kpi_refreshes_total", outcome="failed") == 1 + value(
        before, "threadline_kpi_refreshes_total", outcome="failed"
    )


def test_a_refresh_whose_server_stopped_meanwhile_is_abandoned_not_an_error(tmp_path: Path) -> None:
    """A server stops (and its store closes) while its background refresh runs: that refresh is abandoned, and
    not kept among the refresher's errors, where the next server in the process would find it (CI saw that)."""
    from threadline import kpi

    store = open_store(str(tmp_path / "stopped"))
    kpi.refresher.serve(store)
    kpi.refresher.release(store)  # the server stopped
    store.close()
    kpi.refresher.errors.clear()
    kpi.refresher.request(store)
    assert kpi.refresher.wait(30)
    assert not kpi.refresher.errors


def test_query_timeouts_and_worker_kills_are_logged_and_counted(tmp_path: Path, captured: Capture) -> None:
    store = open_store(str(tmp_path / "store"))
    store.update("INSERT DATA { GRAPH <http://e/g> { <http://e/s> <http://e/p> 1, 2, 3 } }")
    settings = Settings(store=str(tmp_path / "store"), write_token=ADMIN, sparql_timeout=1.0, sparql_workers=1)
    app = create_app(settings, store=store)
    app.state.start_query_workers = True
    server = LiveServer(app)
    try:
        before = scrape(server.url, ADMIN)
        assert value(before, "threadline_query_workers") == 1
        auth = {"Authorization": f"Bearer {ADMIN}", "X-Request-ID": "slow-query"}
        response = httpx.get(f"{server.url}/sparql", params={"query": HEAVY}, headers=auth, timeout=60)
        assert response.status_code == 503 and response.headers["x-threadline-error"] == "timeout"
        records = [r for r in captured.records() if r["logger"] == "threadline.sparql.worker"]
        assert [(r["request_id"], r["level"]) for r in records] == [("slow-query", "warning")] * 2, records
        assert "time limit of 1 s" in records[0]["message"] and records[1]["reason"] == "timeout"
        assert HEAVY not in json.dumps(records), "the query text is not logged"
        after = scrape(server.url, ADMIN)
        assert value(after, "threadline_query_timeouts_total", executor="process") == 1 + value(
            before, "threadline_query_timeouts_total", executor="process"
        )
        assert value(after, "threadline_query_worker_kills_total", reason="timeout") == 1 + value(
            before, "threadline_query_worker_kills_total", reason="timeout"
        )
        assert value(after, "threadline_query_workers") == 1, "the killed worker was replaced"
        assert value(after, "threadline_store_bytes") > 0 and value(after, "threadline_snapshot_age_seconds") >= 0
    finally:
        server.stop()
        store.close()


# -- /metrics -----------------------------------------------------------------------------------------------------


def test_metrics_needs_admin_or_the_metrics_token_which_grants_nothing_else(live: LiveServer) -> None:
    assert httpx.get(f"{live.url}/metrics").status_code == 401
    assert httpx.get(f"{live.url}/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert scrape(live.url, ADMIN) and scrape(live.url, METRICS)
    metrics_only = {"Authorization": f"Bearer {METRICS}"}
    assert httpx.get(f"{live.url}/admin/tokens", headers=metrics_only).status_code == 401
    assert httpx.get(f"{live.url}/stats", headers=metrics_only).status_code == 401


def test_metrics_count_requests_by_route_and_status_and_loads(live: LiveServer) -> None:
    before = scrape(live.url)
    assert ingest(live.url).status_code == 200
    assert httpx.get(f"{live.url}/queries/nope").status_code == 404
    after = scrape(live.url)
    route = {"method": "POST", "route": "/ingest/{system}", "status": "200"}
    assert value(after, "threadline_http_requests_total", **route) == 1 + value(
        before, "threadline_http_requests_total", **route
    )
    assert value(after, "threadline_http_request_duration_seconds_count", **route) == 1 + value(
        before, "threadline_http_request_duration_seconds_count", **route
    )
    assert value(after, "threadline_http_request_duration_seconds_bucket", le="+Inf", **route) >= 1
    missing = {"method": "GET", "route": "/queries/{name}", "status": "404"}
    assert value(after, "threadline_http_requests_total", **missing) >= 1
    assert value(after, "threadline_load_records_total", system="mes") == 2 + value(
        before, "threadline_load_records_total", system="mes"
    )
    assert value(after, "threadline_load_duration_seconds_count", system="mes") >= 1
    assert value(after, "threadline_store_up") == 1 and value(after, "threadline_build_info", version=_version()) == 1


def _version() -> str:
    from threadline import __version__

    return __version__


def test_gate_outcomes_are_counted(tmp_path: Path, captured: Capture) -> None:
    """A load the core profile rejects (units with no work order): the gate's verdict is counted and logged,
    the load counted as rejected."""
    settings = Settings(
        store="memory:",
        ingest_dir=_pack(tmp_path),
        write_token=ADMIN,
        var_dir=tmp_path / "v",
        validation_gate={"core": "reject"},
    )
    server = LiveServer(create_app(settings, store=open_store("memory:")))
    try:
        before = scrape(server.url, ADMIN)
        files = {"files": ("units.csv", GOOD.encode(), "text/csv")}
        answer = httpx.post(f"{server.url}/ingest/mes", files=files, headers={"Authorization": f"Bearer {ADMIN}"})
        after = scrape(server.url, ADMIN)
    finally:
        server.stop()
        features.uninstall()
    verdicts = [r for r in captured.records() if r["logger"] == "threadline.shacl.gate"]
    assert answer.status_code == 422 and "rejected by the 'core' validation gate" in answer.json()["error"]
    assert [(v["profile"], v["outcome"], v["level"], v["results"]) for v in verdicts] == [
        ("core", "rejected", "warning", 8)
    ]
    assert value(after, "threadline_gate_outcomes_total", profile="core", outcome="rejected") == 1 + value(
        before, "threadline_gate_outcomes_total", profile="core", outcome="rejected"
    )
    assert value(after, "threadline_loads_total", system="mes", outcome="rejected") == 1 + value(
        before, "threadline_loads_total", system="mes", outcome="rejected"
    )


# -- probes -------------------------------------------------------------------------------------------------------


def test_livez_and_readyz_answer_without_revealing_configuration(live: LiveServer) -> None:
    live_answer, ready = httpx.get(f"{live.url}/livez"), httpx.get(f"{live.url}/readyz")
    assert live_answer.json() == {"status": "alive"}
    assert ready.status_code == 200 and ready.json()["status"] == "ready" and ready.json()["checks"]["store"] == "ok"
    health = httpx.get(f"{live.url}/healthz")
    assert health.json() == {"status": "ok"} and health.headers["deprecation"] == "true"
    for body in (live_answer.text, ready.text, health.text):
        assert "memory:" not in body and "sandbox" not in body and "confined" not in body


def test_readyz_fails_when_the_store_is_down_and_livez_does_not(tmp_path: Path) -> None:
    remote = OxigraphServer(tmp_path / "oxigraph")
    try:
        store = open_store(remote.url)
        server = LiveServer(create_app(Settings(store=remote.url, write_token=ADMIN, store_timeout=5), store=store))
    except BaseException:
        remote.stop()
        raise
    try:
        assert httpx.get(f"{server.url}/readyz").status_code == 200
        remote.stop()
        down = httpx.get(f"{server.url}/readyz", timeout=30)
        assert down.status_code == 503 and down.json()["checks"]["store"] == "failed"
        assert str(remote.port) not in down.text and "127.0.0.1" not in down.text
        assert httpx.get(f"{server.url}/healthz", timeout=30).status_code == 503
        assert httpx.get(f"{server.url}/livez").status_code == 200
        assert value(scrape(server.url, ADMIN), "threadline_store_up") == 0, "a scrape still answers"
    finally:
        server.stop()


def test_readyz_fails_when_every_query_worker_is_dead(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "store"))
    app = create_app(Settings(store=str(tmp_path / "store"), sparql_workers=1), store=store)
    app.state.start_query_workers = True
    server = LiveServer(app)
    try:
        ready = httpx.get(f"{server.url}/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["queryWorkers"] == "ok"
        for worker in list(app.state.sparql_runner._executor._all):
            worker.process.kill()
            worker.process.wait(timeout=10)
        dead = httpx.get(f"{server.url}/readyz")
        assert dead.status_code == 503 and dead.json()["checks"]["queryWorkers"] == "failed"
    finally:
        server.stop()
        store.close()


# -- no secrets in logs ---------------------------------------------------------------------------------------------


def test_no_secret_reaches_any_log_line(live: LiveServer, captured: Capture, tmp_path: Path) -> None:
    """Sign-ins, token creation (HTTP and CLI), bearer headers, ``?token=``-like parameters and signing
    passwords, right and wrong: then no captured line holds any secret or a secret's hash."""
    from click.testing import CliRunner

    admin = {"Authorization": f"Bearer {ADMIN}"}
    made = httpx.post(f"{live.url}/admin/tokens", json={"role": "engineer", "description": "Eve"}, headers=admin)
    secret = made.json()["secret"]
    lookalike = "tl_0123456789ab_" + "Q" * 43  # shaped like a real secret, matching no token
    query_secret = "query-param-secret-9f8e7d"
    bearer = {"Authorization": f"Bearer {secret}"}
    sent = [
        httpx.get(f"{live.url}/stats", headers=bearer),
        httpx.get(f"{live.url}/stats", headers={"Authorization": f"Bearer {lookalike}"}),
        httpx.get(f"{live.url}/stats", headers={"Authorization": f"Token {lookalike}"}),
        httpx.get(f"{live.url}/stats", params={"token": query_secret, "access_token": query_secret}),
        httpx.get(f"{live.url}/sparql", params={"query": "ASK {}", "token": query_secret}, headers=bearer),
        httpx.get(f"{live.url}/no-route", params={"api_key": query_secret}),
        httpx.post(f"{live.url}/graphql", json={"query": "{ __typename }"}, headers=bearer),
        httpx.get(f"{live.url}/metrics", headers={"Authorization": f"Bearer {METRICS}"}),
        httpx.get(f"{live.url}/metrics", headers={"Authorization": f"Bearer {METRICS}x"}),
    ]
    record = {"record": "https://w3id.org/threadline/id/unit/SN-404", "meaning": "approval"}
    for password in (secret, lookalike, ADMIN):
        sent.append(httpx.post(f"{live.url}/signatures", json={**record, "password": password}, headers=bearer))
    assert [r.status_code for r in sent][:4] == [200, 401, 401, 401]
    assert {r.status_code for r in sent[-3:]} <= {401, 403, 404, 422}
    store_url = str(tmp_path / "cli-store")
    created = CliRunner().invoke(main, ["token", "create", "reader", "--store", store_url])
    assert created.exit_code == 0, created.output
    cli_secret = next(word for word in created.output.split() if word.startswith("tl_"))
    revoked = httpx.delete(f"{live.url}/admin/tokens/{made.json()['id']}", params={"reason": "x"}, headers=admin)
    assert revoked.status_code == 200
    lines = captured.lines()
    assert any("authentication refused" in line for line in lines) and any("token" in line for line in lines)
    for value in (ADMIN, METRICS, secret, lookalike, query_secret, cli_secret):
        for forbidden in (value, secret_hash(value), value[-20:]):
            leaks = [line for line in lines if forbidden in line]
            assert not leaks, f"a log line holds a secret: {leaks[:2]}"


# -- the real `threadline serve` process --------------------------------------------------------------------------


def test_serve_writes_one_json_format_uvicorn_included_with_request_ids(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "THREADLINE_LOG_FORMAT": "json",
        "THREADLINE_WRITE_TOKEN": ADMIN,
        "THREADLINE_VAR_DIR": str(tmp_path / "var"),
        "THREADLINE_SPARQL_WORKERS": "1",
    }
    command = [sys.executable, "-m", "threadline", "serve", "--store", str(tmp_path / "store"), "--port", str(port)]
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/livez", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, process.stderr.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "threadline serve did not answer /livez within 90 s"
            time.sleep(0.2)
        ready = httpx.get(f"{base}/readyz", headers={"X-Request-ID": "probe-1"}, timeout=30)
        assert ready.json() == {"status": "ready", "checks": {"store": "ok", "queryWorkers": "ok"}}
        assert httpx.get(f"{base}/stats", params={"token": ADMIN}, timeout=30).status_code in (200, 401)
        samples = scrape(base, ADMIN)
        assert value(samples, "threadline_query_workers") == 1
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            _, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate(timeout=10)
    lines = [line for line in err.decode().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line on standard error is one JSON object
    loggers = {r["logger"] for r in records}
    assert {"uvicorn.error", "threadline.access", "threadline.serve"} <= loggers, loggers
    access = {r["request_id"]: r for r in records if r["logger"] == "threadline.access"}
    assert access["probe-1"]["route"] == "/readyz" and access["probe-1"]["status"] == 200
    assert not any(ADMIN in line for line in lines)
