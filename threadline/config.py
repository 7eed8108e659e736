"""Every Threadline setting, in one place.

Settings come from environment variables prefixed ``THREADLINE_`` (or a ``.env`` file in the working
directory), so the same values drive the CLI, the server and the tests. Each field's description is the
documentation: ``docs/configuration.md`` lists them all and a test fails when one is missing there.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
STATIC_DIR = Path(__file__).resolve().parent / "static"  # served at /static (a wheel carries it)
VENDOR_DIR = STATIC_DIR / "vendor"  # the front-end files fetched at set-up (threadline.web.vendor)


def content_dir(name: str) -> Path:
    """A domain content folder (ontology, ingest, shapes, queries, graphql): the repository's own in a checkout,
    else the copy a built wheel carries under ``threadline/_data/``."""
    in_repo = REPO_ROOT / name
    return in_repo if in_repo.is_dir() else Path(__file__).resolve().parent / "_data" / name


class Settings(BaseSettings):
    """Threadline's settings; see docs/configuration.md."""

    model_config = SettingsConfigDict(env_prefix="THREADLINE_", env_file=".env", extra="ignore")

    store: str = Field(
        default="./var/store",
        description=(
            "Where the graph lives. A directory path (or `oxigraph:PATH`) opens the embedded on-disk "
            "pyoxigraph store; `memory:` an in-memory store that vanishes on exit; an `http(s)://` URL a "
            "remote SPARQL 1.1 Protocol + Graph Store Protocol service (Oxigraph server, Fuseki, GraphDB, "
            "Virtuoso, Neptune)."
        ),
    )
    store_query_endpoint: str | None = Field(
        default=None,
        description="Remote store only: SPARQL query endpoint URL. Default: `<store>/query` (Oxigraph server).",
    )
    store_update_endpoint: str | None = Field(
        default=None,
        description="Remote store only: SPARQL update endpoint URL. Default: `<store>/update`.",
    )
    store_graph_endpoint: str | None = Field(
        default=None,
        description="Remote store only: Graph Store Protocol endpoint URL. Default: `<store>/store`.",
    )
    store_engine: Literal["auto", "generic", "virtuoso"] = Field(
        default="auto",
        description=(
            "Remote store only: which SPARQL engine serves it. `auto` asks the server once at start-up (its HTTP "
            "`Server` header); `virtuoso` sets Virtuoso's endpoint layout (`/sparql`, `/sparql-graph-crud`), hides "
            "its system graphs and reads its answers by value; `generic` assumes a plain SPARQL 1.1 service."
        ),
    )
    store_query_method: Literal["auto", "get", "form", "direct"] = Field(
        default="auto",
        description=(
            "Remote store only: how queries are sent. `auto`: GET for short queries, form-encoded POST otherwise "
            "(both answered by every SPARQL 1.1 service); `get`; `form`; `direct`: POST with "
            "`Content-Type: application/sparql-query` (Virtuoso 7.2 never answers it)."
        ),
    )
    store_timeout: float = Field(
        default=300.0,
        description="Remote store only: seconds to wait for one HTTP request to the store before giving up.",
    )
    store_lease_seconds: float = Field(
        default=30.0,
        gt=0,
        description=(
            "Remote store only: how long the writer lease that makes Threadline processes sharing the store take "
            "turns lasts unless renewed (every third of it, while a write runs). A process killed while writing "
            "holds up the others' writes this long at most. Judged by the store's clock, so hosts need not agree."
        ),
    )
    store_lease_wait: float = Field(
        default=300.0,
        gt=0,
        description=(
            "Remote store only: seconds a write waits for the writer lease while another process holds it, before "
            "it is refused (HTTP 503, try again)."
        ),
    )
    host: str = Field(default="127.0.0.1", description="Address `threadline serve` listens on.")
    port: int = Field(default=8000, description="Port `threadline serve` listens on.")
    write_token: str | None = Field(
        default=None,
        description=(
            "Bootstrap admin token from the environment, for first set-up and automation: a bearer token with the "
            "`admin` role on every route. Prefer API tokens (`threadline token create`); unset it once they exist. "
            "The CLI, which runs with the operator's own file permissions, needs no token."
        ),
    )
    ingest_dir: Path = Field(
        default_factory=lambda: content_dir("ingest"),
        description="Folder of the mapping pack: one sub-folder per source system holding its mappings.",
    )
    ontology_dir: Path = Field(
        default_factory=lambda: content_dir("ontology"),
        description="Folder holding `threadline.ttl` and `alignments.ttl`.",
    )
    max_request_bytes: int = Field(
        default=1 << 30,
        gt=0,
        description=(
            "Largest request body the server accepts, on every route (uploads to `/ingest/{system}` included). "
            "Counted while the body streams in: a longer one is answered 413 as soon as the limit is passed."
        ),
    )
    ingest_max_field_chars: int = Field(
        default=1 << 20,
        gt=0,
        description="Longest single value (CSV field, JSON string) a source file may hold, in characters.",
    )
    ingest_max_record_chars: int = Field(
        default=4 << 20,
        gt=0,
        description=(
            "Longest record a streamed source may hold (a CSV row, a JSON Lines line), in characters; a longer one "
            "stops the load as soon as that many characters are read, so memory stays bounded."
        ),
    )
    ingest_max_depth: int = Field(
        default=64,
        gt=0,
        le=500,
        description="Deepest nesting of arrays and objects a JSON source may use (at most 500).",
    )
    ingest_max_document_bytes: int = Field(
        default=256 << 20,
        gt=0,
        description=(
            "Largest JSON document (not JSON Lines) a load parses, in bytes after decompression: "
            "a JSON document is parsed whole, so this bounds the memory it takes."
        ),
    )
    var_dir: Path = Field(
        default=Path("./var"),
        description="Working folder for demo exports, reject files and backups made by the service.",
    )
    staging_dir: Path | None = Field(
        default=None,
        description=(
            "Folder where a load writes its mapped N-Triples (and the server its uploads) before they enter the "
            "store; `load --staging-dir` overrides it. Unset: `<store>.staging` beside an on-disk store (same file "
            "system, cleared of a crashed load's leftovers when the store is next opened), the system's temporary "
            "folder for memory and remote stores. The server also writes CSV/TSV query answers here, in a "
            "`threadline-answers-*` folder, before streaming them (unset: beside an on-disk store)."
        ),
    )
    disk_reserve_bytes: int = Field(
        default=64 << 20,
        ge=0,
        description=(
            "Free space a load must leave on the staging and store file systems beyond what it is estimated to "
            "use; a load that would not fit is refused before anything is written (CLI exit 2, HTTP 507)."
        ),
    )
    demo_units: int = Field(default=1000, description="Number of as-built units `threadline serve --demo` generates.")
    demo_seed: int = Field(default=42, description="Random seed of the demo thread generator.")
    demo_history_days: int = Field(
        default=7,
        ge=0,
        le=366,
        description=(
            "Days of history `threadline serve --demo` generates after the base export and loads in order as "
            "delta loads (new production, shipments and seeded corrections; docs/demo.md); 0: the base export only."
        ),
    )
    actor: str | None = Field(
        default=None,
        description=(
            "The person recorded as responsible (audit trail actor, `prov:wasAssociatedWith` of loads) for changes "
            "made from the CLI; `--actor` overrides it. Unset: the operating-system user running the command. "
            "Over HTTP the responsible person is always the caller's token (its id and description)."
        ),
    )
    anonymous_read: Literal["auto", "on", "off"] = Field(
        default="auto",
        description=(
            "Whether callers without a token may read. `auto`: yes until the first API token is created, then no; "
            "`on`: always (reader role); `off`: never."
        ),
    )
    token_cache_seconds: float = Field(
        default=10.0,
        description="How long a token lookup is cached in one process; another process sees a revocation within this.",
    )
    shapes_dir: Path = Field(
        default_factory=lambda: content_dir("shapes"),
        description="Folder of the SHACL validation profiles (`core.ttl`, `as9100.ttl`, `cfr820.ttl`, ...).",
    )
    validation_profile: str = Field(
        default="core", description="Profile `threadline validate` and `POST /validate` use when none is named."
    )
    validation_gate: dict[str, Literal["reject", "accept-with-report", "accept"]] = Field(
        default_factory=dict,
        description=(
            "Per profile, what a load that introduces violations gets: `reject` (store unchanged, report "
            "returned), `accept-with-report` (loaded, report stored as evidence) or `accept` (loaded silently). "
            'JSON, e.g. `{"core": "reject", "as9100": "accept-with-report"}`; empty: no gate.'
        ),
    )
    sparql_timeout: float = Field(
        default=30.0,
        description="Seconds a SPARQL query may run before its worker is stopped and the client gets an error.",
    )
    sparql_max_rows: int = Field(
        default=100_000,
        description=(
            "Most result rows (or triples) one SPARQL query may return over HTTP in an answer built in memory "
            "(JSON, XML, graphs). A SELECT in CSV or TSV on an embedded store streams from a file and has no "
            "row limit."
        ),
    )
    diff_max_statements: int = Field(
        default=100_000,
        gt=0,
        description=(
            "Most statements one diff (`GET /diff`, `threadline diff`) holds: a wider window is refused (422) "
            "rather than cut short; a narrower window or a `subject` makes it fit."
        ),
    )
    sparql_workers: int = Field(
        default=2, description="Worker processes that run SPARQL queries for the HTTP endpoint (on-disk stores)."
    )
    asof_cache_states: int = Field(
        default=4,
        ge=0,
        description=(
            "As-of states (the store as it stood at a past instant, built on the first as-of read of it under "
            "`<store>.asof/`) kept besides those a query has open; the least recently used beyond this are "
            "deleted. Each pins the store files of its time: at most a store's size on disk apiece."
        ),
    )
    kpi_summaries: bool = Field(
        default=True,
        description=(
            "Refresh the materialised KPI summary graph after every load, so KPI queries answer in milliseconds. "
            "Costs a full recompute per load (minutes at 100k units); off: KPIs fall back to plain aggregates."
        ),
    )
    kpi_refresh_background: bool = Field(
        default=True,
        description=(
            "In the server, refresh the KPI summary in a background thread after a load or write, so the request "
            "returns at once; meanwhile KPI queries answer from the previous summary, labelled "
            "'materialised-outdated'. Off: the load waits for the refresh. The CLI always waits."
        ),
    )
    queries_dir: Path = Field(
        default_factory=lambda: content_dir("queries"),
        description="Folder of the named SPARQL queries (`*.rq` with a header).",
    )
    graphql_max_depth: int = Field(default=12, description="Deepest selection nesting a GraphQL query may use.")
    graphql_max_introspection_depth: int = Field(
        default=15,
        description=(
            "Deepest selection nesting from `__schema` / `__type` down (introspection); GraphiQL's own schema query "
            "needs 15."
        ),
    )
    graphql_max_aliases: int = Field(default=30, description="Most aliases one GraphQL query may use.")
    graphql_max_tokens: int = Field(default=5000, description="Most tokens one GraphQL document may contain.")
    graphql_max_page_size: int = Field(default=500, description="Largest `first` a GraphQL list field accepts.")
    graphql_ide: bool = Field(default=True, description="Serve the GraphiQL explorer on `GET /graphql` to browsers.")
    debug: bool = Field(
        default=False, description="Show internal error details in HTTP responses. Never in production."
    )
    log_level: str = Field(
        default="info",
        description=(
            "Least severe log records written (server and CLI, uvicorn's own included): debug, info, warning, "
            "error, critical."
        ),
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description=(
            "How log records are written to standard error: `text` (one readable line each) or `json` (one JSON "
            "object per line, for log collectors). Every record a request causes carries its request id."
        ),
    )
    metrics_token: str | None = Field(
        default=None,
        description=(
            "Bearer token a metrics scraper (Prometheus) presents to read `GET /metrics`, instead of an admin "
            "token; it grants nothing else. Unset: only admin tokens may read metrics."
        ),
    )

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.lower() not in {"debug", "info", "warning", "error", "critical"}:
            raise ValueError(f"unknown log level {value!r}")
        return value.lower()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process; tests build their own `Settings(...)` instead."""
    return Settings()


def markdown_table() -> str:
    """The settings table of docs/configuration.md (``python -m threadline.config`` prints it)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, info in Settings.model_fields.items():
        default = info.get_default(call_default_factory=True)
        if isinstance(default, Path) and default.is_absolute():
            default = "<repo>/" + str(default.relative_to(REPO_ROOT))
        rows.append(f"| `THREADLINE_{name.upper()}` | `{default}` | {info.description} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
