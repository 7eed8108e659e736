"""Process-wide counters and histograms, in a registry of our own (prometheus-client).

Modules that do the work (the loader, the load gate, the query workers, the KPI refresher, the token guard)
count here as it happens; ``threadline.observability.routes`` adds, at scrape time, what is read from the
app (worker pool, snapshot age, KPI summary age, store size). A registry of our own rather than the
library's global one: tests build many apps in one process, and the library's default process and platform
collectors describe the Python process, not Threadline. Counters are this process's view: query worker
processes count nothing themselves (their kills and time-outs are counted by the server that runs them).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics

# a ``_created`` series per counter doubles the exposition and nobody graphs it
disable_created_metrics()  # type: ignore[no-untyped-call]  # prometheus-client leaves this one unannotated
REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "threadline_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_SECONDS = Histogram(
    "threadline_http_request_duration_seconds",
    "Time from request to the end of the response, by method, route template and status.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
    registry=REGISTRY,
)
LOADS = Counter(
    "threadline_loads",
    "Loads finished, by source system and outcome (committed, unchanged, dry-run, rejected, failed).",
    ["system", "outcome"],
    registry=REGISTRY,
)
LOAD_RECORDS = Counter(
    "threadline_load_records", "Source records mapped by committed loads.", ["system"], registry=REGISTRY
)
LOAD_TRIPLES = Counter("threadline_load_triples", "Triples committed by loads.", ["system"], registry=REGISTRY)
LOAD_SECONDS = Histogram(
    "threadline_load_duration_seconds",
    "Wall time of loads, mapping to commit, by source system (throughput: records or triples / seconds).",
    ["system"],
    buckets=(0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
    registry=REGISTRY,
)
GATE = Counter(
    "threadline_gate_outcomes",
    "Validation gate verdicts on loads, by profile and outcome (passed, rejected, accepted-with-report).",
    ["profile", "outcome"],
    registry=REGISTRY,
)
HOOK_ERRORS = Counter(
    "threadline_after_commit_hook_errors", "Errors raised by after-commit hooks of committed loads.", registry=REGISTRY
)
QUERY_TIMEOUTS = Counter(
    "threadline_query_timeouts",
    "SPARQL queries stopped at the time limit, by executor (process, thread, remote, queue).",
    ["executor"],
    registry=REGISTRY,
)
WORKER_KILLS = Counter(
    "threadline_query_worker_kills",
    "Query worker processes killed and replaced, by reason (timeout, failed, start).",
    ["reason"],
    registry=REGISTRY,
)
KPI_REFRESHES = Counter(
    "threadline_kpi_refreshes",
    "Background KPI summary refreshes, by outcome (ok, failed).",
    ["outcome"],
    registry=REGISTRY,
)
AUTH_FAILURES = Counter(
    "threadline_auth_failures",
    "Requests refused for their credentials, by reason (missing, malformed, invalid, role, reauthentication).",
    ["reason"],
    registry=REGISTRY,
)
TOKEN_CHANGES = Counter(
    "threadline_token_changes", "API tokens created or revoked, by change.", ["change"], registry=REGISTRY
)
