"""HTTP routes of the named queries: ``/queries`` (the catalogue) and ``/queries/{name}`` (JSON or CSV).

Runs go through the endpoint's executor, so named queries get the same time and size limits as ad-hoc
SPARQL. Indicators marked ``materialise`` are answered from the KPI summary graph when it is fresh and the
caller kept the default parameters — or, while a background refresh after a write runs, from the previous
summary, labelled ``materialised-outdated`` (``X-Threadline-Source``); otherwise the plain query runs. A token
limited to some data graphs gets the summary only when every graph holding a quad the indicator can match is
one it may read (``threadline.kpi.footprint``): then the summary is exactly its plain answer. ``asOf`` (or the
``X-Threadline-As-Of`` header) runs the plain query on the store as it stood then (``threadline.history.asof``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from threadline import kpi, queries
from threadline.history import asof
from threadline.kpi import footprint
from threadline.sparql import access
from threadline.sparql import negotiation as neg
from threadline.sparql.execution import Job
from threadline.sparql.runner import Runner
from threadline.store import EmbeddedStore, Store
from threadline.store.params import bind
from threadline.web import deps

RESERVED = {"format", "timeout"}
AS_OF_HEADER = asof.HEADER
router = APIRouter(tags=["named queries"])


async def run_named(
    request: Request,
    store: Store,
    runner: Runner,
    query: queries.NamedQuery,
    given: dict[str, str],
    as_of: str | None = None,
) -> dict[str, Any]:
    """Run ``query`` with the given parameters (on the store as it stood at ``as_of``, when given: the plain query,
    as no KPI summary is kept for past states); returns variables, plain rows and where they came from."""
    if as_of is None:
        return await _run_named(request, store, runner, query, given, None)
    instant, state = await run_in_threadpool(asof.open_state, store, as_of)
    try:
        result = await _run_named(request, store, runner, query, given, state)
    finally:
        state.close()
        await run_in_threadpool(runner.collect_states, store)
    return result | {"asOf": {"change": instant.sequence, "time": instant.time}}


async def _run_named(
    request: Request,
    store: Store,
    runner: Runner,
    query: queries.NamedQuery,
    given: dict[str, str],
    state: EmbeddedStore | None,
) -> dict[str, Any]:
    principal = await access.caller(request, "reader")
    default, named = await access.dataset(request, principal, [], [], store=state)
    bindings = query.bindings(given)
    store.require(*query.needs)
    job = Job(
        text=bind(query.text, bindings),
        form="SELECT",
        media=neg.JSON,
        max_rows=runner.max_rows,
        default_graphs=default,
        named_graphs=named,
        view=access.reader_view(request, principal, (default, named)) if state is None else None,
        state=str(state.path) if state is not None else None,
    )
    materialised = query.materialise and not given and state is None
    status = await run_in_threadpool(kpi.summary_status, store) if materialised else None
    source = "query"
    if status and named is not None and principal.scopes:
        # limited to some data graphs: the summary only where it provably is their answer (threadline.kpi.footprint)
        found = await _scoped_summary(store, runner, query.name, named, status)
        if found is not None:
            return {"query": query.name, "title": query.title, **found}
    elif status:  # callers kept only from the system graphs, which hold no thread data, share the summary
        prepared = await run_in_threadpool(kpi.read_query, store, query.name)
        if prepared is not None:
            job = dataclasses.replace(job, text=bind(*prepared))
            source = "materialised" if status == "fresh" else "materialised-outdated"
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


async def _scoped_summary(
    store: Store, runner: Runner, name: str, visible: list[str], status: str
) -> dict[str, Any] | None:
    """The summary's rows of ``name`` for a reader of the ``visible`` graphs, checked and read by one query on one
    snapshot; None when the summary is not their answer (the caller runs the plain query). While a refresh runs
    they get the previous summary as admins do, labelled outdated, if it was their answer when it was computed."""
    if not isinstance(store, EmbeddedStore):  # footprints are only known on the embedded store
        return None
    found = await run_in_threadpool(store.select, kpi.VARIABLES, {"__kpi": name})
    if not found.rows or found.rows[0][0] is None:
        return None
    stored = footprint.text(found.rows[0][0]).split()
    if not stored:
        return None
    text = footprint.guarded_read_query(name, stored, visible, fresh=status == "fresh")
    # the text is ours and reads only the summary and the activity count, so it runs on the union of every graph
    answer = await runner.run(store, Job(text=text, form="SELECT", media=neg.JSON, max_rows=runner.max_rows))
    checked = footprint.split(*queries.rows_from_sparql_json(answer.body))
    if checked is None:
        return None
    variables, rows = checked
    source = "materialised" if status == "fresh" else "materialised-outdated"
    return {"source": source, "seconds": round(answer.seconds, 4), "variables": variables, "rows": rows}


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
    # a query declaring a parameter named asOf (capa-aging) keeps it: its as-of instant comes by header only
    declared = any(parameter.name == "asOf" for parameter in query.parameters)
    wanted = asof.asked(None if declared else given.pop("asOf", None), request.headers.get(AS_OF_HEADER))
    result = await run_named(request, store, runner, query, given, wanted)
    if media == queries.CSV:
        body = queries.to_csv(result["variables"], result["rows"])
        return PlainTextResponse(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"X-Threadline-Source": result["source"], "Vary": "Accept"},
        )
    return JSONResponse(result, headers={"X-Threadline-Source": result["source"], "Vary": "Accept"})
