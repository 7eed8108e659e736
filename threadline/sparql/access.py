"""Who may do what at /sparql, /store and /queries, on top of ``threadline.auth``'s roles and scopes.

Queries need ``reader``; SPARQL Update needs ``admin``; Graph Store writes need ``integrator`` and a graph in
the token's scope. A caller who may not read every graph (a scoped token, or a non-admin while the security
and audit graphs exist) gets the protocol dataset limited to the graphs they may read: the default graph
becomes their merge and ``GRAPH`` reaches only those, and a query's ``FROM`` cannot widen it (the protocol's
dataset overrides the query's in pyoxigraph). Callers who see everything keep the fast union default graph.
"""

from __future__ import annotations

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from threadline.auth import Principal, require, system_role
from threadline.store import EmbeddedStore, Store
from threadline.store.reader_view import View, view_for

Dataset = tuple[list[str] | None, list[str] | None]


async def caller(request: Request, role: str, *, writing: bool = False) -> Principal:
    """The caller if their role grants ``role``; 401/403 (RFC 6750) otherwise.

    ``writing``: a caller who sent no token at all gets 403, not 401: the endpoint is read-only to them (the
    protocol issue asks for 403; the ``WWW-Authenticate`` challenge still says how to authenticate).
    """
    try:
        return await require(role)(request)
    except HTTPException as exc:
        if writing and exc.status_code == 401 and not request.headers.get("authorization"):
            raise HTTPException(
                403,
                f"this endpoint is read-only without a token: writing needs a token with role {role!r} "
                "(Authorization: Bearer <token>; THREADLINE_WRITE_TOKEN is an admin token)",
                headers=exc.headers,
            ) from exc
        raise


async def dataset(request: Request, principal: Principal, default: list[str], named: list[str]) -> Dataset:
    """(default graphs, named graphs) to run a query with; (None, None) means the union of every graph."""
    if principal.is_admin:
        return (default, named) if default or named else (None, None)
    store: Store = request.app.state.store
    graphs = await run_in_threadpool(store.graphs)
    visible = principal.visible_graphs(graphs)
    if len(visible) == len(graphs):
        return (default, named) if default or named else (None, None)
    allowed = set(visible)
    limited_default = [g for g in default if g in allowed] if default else visible
    limited_named = [g for g in named if g in allowed] if named else visible
    return limited_default, limited_named


async def reader_view(request: Request, principal: Principal, dataset: Dataset) -> View | None:
    """The reader view (``threadline.store.reader_view``) that answers exactly like ``dataset`` (from
    ``dataset()``) for ``principal``, if any: the executor then runs the query there, on the union default graph.
    Kept apart from ``dataset()``: the lists stay the truth; a view is only their faster equivalent."""
    default, named = dataset
    store: Store = request.app.state.store
    published = isinstance(store, EmbeddedStore) and store.path is not None  # only these run on snapshots
    if not published or principal.is_admin or principal.scopes or default is None or named is None:
        return None
    visible = principal.visible_graphs(await run_in_threadpool(store.graphs))
    return view_for(principal, default, named, visible)


def check_read(principal: Principal, graph: str | None) -> None:
    allowed = not principal.scopes if graph is None else principal.may_read_graph(graph)
    if not allowed:
        raise HTTPException(403, f"token {principal.token_id} may not read {graph or 'the default graph'}")


def check_write(principal: Principal, graph: str | None) -> None:
    """Graph Store writes: the graph must be in scope, and a system graph needs its own role."""
    needed = system_role(graph) if graph else None
    allowed = principal.allows(needed) if needed else (principal.in_scope(graph) if graph else not principal.scopes)
    if not allowed:
        target = graph or "the default graph"
        raise HTTPException(403, f"token {principal.token_id} may not write {target} (outside its scope)")
