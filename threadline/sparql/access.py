"""Who may do what at /sparql, /store and /queries, on top of ``threadline.auth``'s roles and scopes.

Queries need ``reader``; SPARQL Update needs ``admin``; Graph Store writes need ``integrator`` and a graph in
the token's scope. A caller who may not read every graph (a scoped token, or a non-admin while the security
and audit graphs exist) gets the protocol dataset limited to the graphs they may read: the default graph
becomes their merge (with the store's own default graph unless the token is scoped) and ``GRAPH`` reaches only
those; a query's ``FROM``/``FROM NAMED`` is intersected with that view, so a graph outside it reads as empty.
Callers who see everything keep the fast union default graph unless the query or the protocol names graphs.
"""

from __future__ import annotations

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from threadline.auth import Principal, require, system_role
from threadline.errors import Forbidden, Unauthorised
from threadline.sparql import dataset as datasets
from threadline.sparql.dataset import Clause, Dataset
from threadline.store import EmbeddedStore, RemoteStore, Store
from threadline.store.reader_view import View, view_for


async def caller(request: Request, role: str, *, writing: bool = False) -> Principal:
    """The caller if their role grants ``role``; 401/403 (RFC 6750) otherwise.

    ``writing``: a caller who sent no token at all gets 403, not 401: the endpoint is read-only to them (the
    protocol issue asks for 403; the ``WWW-Authenticate`` challenge still says how to authenticate).
    """
    try:
        return await require(role)(request)
    except Unauthorised as exc:
        if writing and not request.headers.get("authorization"):
            raise Forbidden(
                f"this endpoint is read-only without a token: writing needs a token with role {role!r} "
                "(Authorization: Bearer <token>; THREADLINE_WRITE_TOKEN is an admin token)",
                challenge=exc.challenge,
            ) from exc
        raise


async def dataset(
    request: Request,
    principal: Principal,
    default: list[str],
    named: list[str],
    own: Clause | None = None,
    store: Store | None = None,
) -> Dataset:
    """(default graphs, named graphs) to run a query with; (None, None) means the union of every graph.

    ``default``/``named`` are the protocol's, ``own`` the query's dataset clause (``threadline.sparql.dataset``
    decides which applies and how a limited view cuts it down); ``store`` the one whose graphs a limited view is cut
    from (an as-of state: the graphs of its time), the app's by default."""
    wanted = datasets.requested(default, named, own)
    if principal.is_admin:
        return wanted
    store = store if store is not None else request.app.state.store  # an as-of state has the graphs of its time
    assert store is not None
    graphs = await run_in_threadpool(store.graphs)
    visible = principal.visible_graphs(graphs)
    if len(visible) == len(graphs):
        return wanted
    # a remote store's own default graph cannot be named in a protocol dataset (``graphstore`` refuses writes
    # to it there), so only an embedded store's is added to a limited view
    stored_default = may_read_default(principal) and not isinstance(store, RemoteStore)
    return datasets.limited(wanted, visible, stored_default=stored_default)


def may_read_default(principal: Principal) -> bool:
    """The store's own default graph is readable by whoever may ``GET /store?default`` (``check_read``)."""
    return not principal.scopes


def reader_view(request: Request, principal: Principal, dataset: Dataset) -> View | None:
    """The reader view (``threadline.store.reader_view``) that answers exactly like ``dataset`` (from
    ``dataset()``) for ``principal``, if any: the executor then runs the query there, on the union default graph.
    Kept apart from ``dataset()``: the lists stay the truth; a view is only their faster equivalent. No second
    look at the store's graphs: ``dataset()`` already cut the lists to what the caller may see, so the named
    list of a whole view is exactly the visible graphs."""
    default, named = dataset
    store: Store = request.app.state.store
    published = isinstance(store, EmbeddedStore) and store.path is not None  # only these run on snapshots
    if not published or principal.is_admin or principal.scopes or default is None or named is None:
        return None
    return view_for(principal, default, named, named)


def check_read(principal: Principal, graph: str | None) -> None:
    allowed = may_read_default(principal) if graph is None else principal.may_read_graph(graph)
    if not allowed:
        raise Forbidden(f"token {principal.token_id} may not read {graph or 'the default graph'}")


def check_write(principal: Principal, graph: str | None) -> None:
    """Graph Store writes: the graph must be in scope, and a system graph needs its own role."""
    needed = system_role(graph) if graph else None
    allowed = principal.allows(needed) if needed else (principal.in_scope(graph) if graph else not principal.scopes)
    if not allowed:
        target = graph or "the default graph"
        raise Forbidden(f"token {principal.token_id} may not write {target} (outside its scope)")
