"""HTTP routes of the named queries: ``/queries`` (the catalogue) and ``/queries/{name}`` (JSON or CSV).

Runs go through the endpoint's executor, so named queries get the same time and size limits as ad-hoc
SPARQL. Indicators marked ``materialise`` are answered from the KPI summary graph when it is fresh and the
caller kept the default parameters — or, while a background refresh after a write runs, from the previous
summary, labelled ``materialised-outdated`` (``X-Threadline-Source``); otherwise the plain query runs.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from threadline import kpi, queries
from threadline.sparql import access
from threadline.sparql import negotiation as neg
from threadline.sparql.execution import Job
from threadline.sparql.runner import Runner
from threadline.store import Store
from threadline.store.params import bind
from threadline.web import deps

RESERVED = {"format", "timeout"}
router = APIRouter(tags=["named queries"])


async def run_named(
    request: Request, store: Store, runner: Runner, query: queries.NamedQuery, given: dict[str, str]
) -> dict[str, Any]:
    """Run ``query`` with the given parameters; returns variables, plain rows and where they came from."""
    principal = await access.caller(request, "reader")
    default, named = await access.dataset(request, principal, [], [])
    bindings = query.bindings(given)
    store.require(*query.needs)
    text, params, source = query.text, dict(bindings), "query"
    # the summary aggregates every data graph: callers limited to some data graphs (scoped tokens) run the
    # plain query over their graphs instead; unscoped readers, kept only from system graphs, may use it
    unscoped = not principal.scopes
    if query.materialise and not given and unscoped:
        status = await run_in_threadpool(kpi.summary_status, store)
        prepared = await run_in_threadpool(kpi.read_query, store, query.name) if status else None
        if prepared is not None:
            (text, params), source = prepared, "materialised" if status == "fresh" else "materialised-outdated"
    job = Job(
        text=bind(text, params),
        form="SELECT",
        media=neg.JSON,
        max_rows=runner.max_rows,
        default_graphs=default,
        named_graphs=named,
        view=access.reader_view(request, principal, (default, named)),
    )
    answer = await runner.run(store, job)
    variables, rows = queries.rows_from_sparql_json(answer.body)
    return {
        "query": query.name,
        "title": query.title,
        "source": source,
        "seconds": round(answer.seconds, 4),
        "variables": variables,
        "rows": rows,
    }


@router.get("/queries")
async def catalogue(request: Request) -> dict[str, Any]:
    """The named queries with their parameters (types, defaults, examples)."""
    await access.caller(request, "reader")
    found = await run_in_threadpool(queries.catalogue)
    return {"queries": [q.describe() for q in found.values()]}


@router.get("/queries/{name}", responses={200: {"content": {"text/csv": {}}}})
async def run(request: Request, name: str, store: deps.Store, runner: deps.Runner) -> Response:
    """Run a named query; parameters as query-string arguments; JSON or CSV by ``format=json|csv`` or by
    ``Accept`` (q-values; JSON when the client has no preference, 406 when it accepts neither)."""
    media = queries.choose_format(request.query_params.get("format"), request.headers.get("accept"))
    query = await run_in_threadpool(queries.get, name)
    given = {k: v for k, v in request.query_params.items() if k not in RESERVED}
    result = await run_named(request, store, runner, query, given)
    if media == queries.CSV:
        body = queries.to_csv(result["variables"], result["rows"])
        return PlainTextResponse(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"X-Threadline-Source": result["source"], "Vary": "Accept"},
        )
    return JSONResponse(result, headers={"X-Threadline-Source": result["source"], "Vary": "Accept"})
