"""HTTP routes of the SPARQL endpoint (/sparql) and the Graph Store Protocol (/store): one router.

Roles come from ``threadline.auth`` (see ``access``): queries and graph reads need ``reader`` (anonymous
callers qualify while anonymous reading is allowed), SPARQL Update ``admin``, Graph Store writes
``integrator``; THREADLINE_WRITE_TOKEN is the bootstrap admin token. Every query goes through the app's runner
(``threadline.sparql.runner``: worker processes for the on-disk store) so that the time limit really stops the
work; every other store call runs in a thread, so the event loop never blocks.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from threadline.audit import writes
from threadline.errors import Forbidden
from threadline.history import asof, patch
from threadline.sparql import access, editor, graphstore, protocol
from threadline.sparql import dataset as datasets
from threadline.sparql import negotiation as neg
from threadline.sparql.execution import Job
from threadline.sparql.runner import Runner
from threadline.store import Store, safety
from threadline.web import deps
from threadline.web.errors import error

router = APIRouter()

REASON_HEADER = "X-Threadline-Reason"
AS_OF_HEADER = asof.HEADER
METHODS = ["GET", "POST", "HEAD", "PUT", "DELETE", "PATCH"]


def _after_write(store: Store) -> None:
    """Drop the KPI summary the write may have outdated (query workers see the write by themselves: the next
    query publishes a fresh snapshot, see ``threadline.store.snapshots``)."""
    from threadline import kpi

    kpi.invalidate(store)


@router.api_route("/sparql", methods=METHODS, include_in_schema=False)
@router.api_route("/sparql/", methods=METHODS, include_in_schema=False)
async def sparql(request: Request, store: deps.Store, runner: deps.Runner) -> Response:
    operation = await protocol.read(request)
    wanted = _as_of(request, operation)  # a malformed instant is refused whatever the operation
    if operation.kind == "query":
        return await _query(request, operation, store, runner, wanted)
    if operation.kind == "update":
        if wanted is not None:
            raise protocol.ProtocolError("asOf applies to queries: an update changes the store as it is now")
        return await _update(request, operation, store)
    return _editor(request)


@router.get("/sparql/assets/{name}", include_in_schema=False)
async def asset(name: str) -> Response:
    if name == "vocabulary.json":
        return JSONResponse(await run_in_threadpool(editor.vocabulary))
    if name not in editor.ASSETS or not (editor.ASSET_DIR / name).is_file():
        return error(404, f"no asset {name!r} (run `python -m threadline.web.vendor` to fetch the editor's files)")
    body = await run_in_threadpool((editor.ASSET_DIR / name).read_bytes)
    return Response(body, media_type=editor.ASSETS[name], headers={"Cache-Control": "max-age=86400"})


# registered in this order, /store first: decorators apply from the bottom up
@router.api_route("/store/{rest:path}", methods=["GET", "HEAD", "PUT", "POST", "DELETE"], include_in_schema=False)
@router.api_route("/store", methods=["GET", "HEAD", "PUT", "POST", "DELETE"], include_in_schema=False)
async def graph_store(request: Request, store: deps.Store) -> Response:
    return await _graph_store(request, store)


def _editor(request: Request) -> Response:
    if neg.prefers_page(request.headers.get("accept")):
        endpoint = str(request.url.replace(query="", fragment="")).rstrip("/")
        return HTMLResponse(editor.page(endpoint, endpoint + "/assets"))
    # No operation: describe the service (SPARQL 1.1 Service Description), in the RDF format asked for.
    media = neg.choose("DESCRIBE", request.headers.get("accept"))
    endpoint = str(request.url.replace(query="", fragment=""))
    return Response(editor.service_description(endpoint, media), media_type=neg.content_type(media))


async def _query(
    request: Request, operation: protocol.Operation, store: Store, runner: Runner, wanted: str | None
) -> Response:
    principal = await access.caller(request, "reader")
    form = await run_in_threadpool(safety.check_query, operation.text)
    short = operation.first("format") or operation.first("output") or operation.first("results")
    media = neg.choose(form, request.headers.get("accept"), short)
    base = str(request.url.replace(query="", fragment=""))
    own = await run_in_threadpool(datasets.clause, operation.text, base)
    instant, state = await run_in_threadpool(asof.open_state, store, wanted) if wanted else (None, None)
    try:
        default, named = await access.dataset(
            request, principal, operation.default_graphs, operation.named_graphs, own, store=state
        )
        job = Job(
            text=operation.text,
            form=form,
            media=media,
            max_rows=runner.max_rows,
            default_graphs=default,
            named_graphs=named,
            base_iri=base,
            # an as-of state keeps the lists, which are always right (a reader view of it: a later speed-up)
            view=access.reader_view(request, principal, (default, named)) if state is None else None,
            # CSV and TSV answers stream from a file, with no row limit (pandas reads whole extracts this way)
            spool=runner.spool_path(store, media) if form == "SELECT" and media in neg.TABLES else None,
            state=str(state.path) if state is not None else None,
        )
        timeout = _requested_timeout(operation)
        try:
            answer = await runner.run(store, job, timeout)
        except BaseException:
            if job.spool is not None:  # a timed-out or failed answer may have left part of its file
                await run_in_threadpool(_remove, job.spool)
            raise
    finally:
        if state is not None:
            state.close()
            await run_in_threadpool(runner.collect_states, store)
    headers = {
        "X-Threadline-Rows": str(answer.rows),
        "X-Threadline-Seconds": f"{answer.seconds:.4f}",
        "Vary": "Accept",
    }
    if instant is not None:
        headers |= {AS_OF_HEADER: instant.time, "X-Threadline-Change": str(instant.sequence)}
    media_type = neg.content_type(answer.media)
    if answer.spool is not None:
        if request.method == "HEAD":
            await run_in_threadpool(_remove, answer.spool)
            return Response(b"", media_type=media_type, headers=headers)
        return FileResponse(
            answer.spool, media_type=media_type, headers=headers, background=BackgroundTask(_remove, answer.spool)
        )
    body = b"" if request.method == "HEAD" else answer.body
    return Response(body, media_type=media_type, headers=headers)


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _as_of(request: Request, operation: protocol.Operation) -> str | None:
    """The instant asked for: the ``asOf`` parameter or the ``X-Threadline-As-Of`` header (not two different)."""
    wanted = asof.asked(operation.first("asOf"), request.headers.get(AS_OF_HEADER))
    if wanted is not None:
        patch.bound(wanted, "asOf")  # a change id or an instant with its zone, else 400 naming the field
    return wanted


def _requested_timeout(operation: protocol.Operation) -> float | None:
    value = operation.first("timeout")
    try:
        return float(value) if value else None
    except ValueError as exc:
        raise protocol.ProtocolError(f"timeout must be a number of seconds, not {value!r}") from exc


async def _update(request: Request, operation: protocol.Operation, store: Store) -> Response:
    principal = await access.caller(request, "admin", writing=True)
    if operation.default_graphs or operation.named_graphs:
        raise protocol.ProtocolError("default-graph-uri/named-graph-uri apply to queries; updates take using-graph-uri")
    await run_in_threadpool(safety.check_update, operation.text)
    reason = _reason(request, operation.first("reason"), "a SPARQL Update")
    text = safety.add_using(operation.text, operation.using_graphs, operation.using_named_graphs)
    base = str(request.url.replace(query="", fragment=""))
    await run_in_threadpool(lambda: writes.audited_update(store, text, actor=principal.actor, reason=reason, base=base))
    await run_in_threadpool(_after_write, store)
    return Response(status_code=204)


def _first(params: dict[str, list[str]], name: str) -> str | None:
    """The first value of a query parameter given more than once, or None."""
    return next(iter(params.get(name) or []), None)


def _reason(request: Request, given: str | None, what: str) -> str:
    """Why the change is made (21 CFR 11.10(e)): the ``X-Threadline-Reason`` header or a ``reason`` parameter."""
    reason = (request.headers.get(REASON_HEADER) or given or "").strip()
    if not reason:
        raise protocol.ProtocolError(
            f"{what} needs a reason for the audit trail: send it in the {REASON_HEADER} header or a reason= parameter"
        )
    return reason


async def _graph_store(request: Request, store: Store) -> Response:
    params = protocol.pairs(request.url.query)
    rest = request.path_params.get("rest")
    endpoint = str(request.url.replace(path="/store", query="", fragment=""))
    if rest:
        target = graphstore.Target(str(request.url.replace(query="", fragment="")))
    elif "graph" in params:
        if len(params["graph"]) != 1 or "default" in params:
            raise protocol.ProtocolError("name exactly one graph: ?graph=IRI or ?default")
        target = graphstore.Target(params["graph"][0])
    elif "default" in params:
        target = graphstore.Target(None)
    elif request.method == "POST":
        target = graphstore.Target(graphstore.new_graph_iri(endpoint))  # graph creation: 201 + Location
    else:
        raise protocol.ProtocolError("name the graph: ?graph=IRI or ?default")

    if request.method in ("GET", "HEAD"):
        access.check_read(await access.caller(request, "reader"), target.graph)
        media = neg.choose("CONSTRUCT", request.headers.get("accept"))
        body = await run_in_threadpool(graphstore.read, store, target, media)
        return Response(b"" if request.method == "HEAD" else body, media_type=neg.content_type(media))

    principal = await access.caller(request, "integrator", writing=True)
    access.check_write(principal, target.graph)
    if target.graph is not None and writes.is_system_graph(target.graph):
        raise Forbidden(f"<{target.graph}> is a system graph: it changes only through its own commands")
    actor = principal.actor
    if request.method == "DELETE":
        reason = _reason(request, _first(params, "reason"), "deleting a graph")
        await run_in_threadpool(lambda: graphstore.delete(store, target, actor=actor, reason=reason))
        await run_in_threadpool(_after_write, store)
        return Response(status_code=204)

    replacing = None if request.method != "PUT" else _reason(request, _first(params, "reason"), "replacing a graph")
    parts = await _bodies(request)
    created = False
    for index, (data, fmt) in enumerate(parts):
        if request.method == "PUT" and index == 0:
            created = await run_in_threadpool(
                graphstore.replace, store, target, data, fmt, actor=actor, reason=replacing
            )
        else:
            created = await run_in_threadpool(graphstore.merge, store, target, data, fmt, actor=actor) or created
    await run_in_threadpool(_after_write, store)
    if created:
        return Response(status_code=201, headers={"Location": target.graph or endpoint + "?default"})
    return Response(status_code=204)


async def _bodies(request: Request) -> list[tuple[bytes, Any]]:
    """The RDF payloads of a PUT/POST: the body, or each file of a multipart/form-data POST."""
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media == "multipart/form-data":
        form = await request.form()
        parts = []
        for value in form.values():
            if isinstance(value, UploadFile):
                parts.append((await value.read(), graphstore.body_format(value.content_type)))
        if not parts:
            raise protocol.ProtocolError("the multipart body holds no RDF file")
        return parts
    return [(await request.body(), graphstore.body_format(request.headers.get("content-type")))]
