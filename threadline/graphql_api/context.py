"""The per-request context: the store, fresh loaders (caches never outlive a request) and the settings.

An as-of request (``threadline.graphql_api.asof``) swaps the store and the loaders for those of the state it reads,
before any resolver runs: every resolver and loader of the request then reads that state alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from strawberry.fastapi import BaseContext

from threadline.graphql_api.loaders import Loaders
from threadline.history import asof
from threadline.store import EmbeddedStore, Store
from threadline.store.scoped import view_for


@dataclass
class GraphQLContext(BaseContext):
    """What every resolver gets as ``info.context``."""

    store: Store
    loaders: Loaders
    settings: Any
    audit_reader: bool  # whether the caller may read the audit trail (who changed a record, and why)

    def __init__(
        self,
        store: Store,
        settings: Any,
        audit_reader: bool = True,
        *,
        principal: Any = None,
        base: Store | None = None,
        collect: Callable[[], None] | None = None,
    ) -> None:
        """``audit_reader``: whether the caller may read the audit trail; ``principal`` (None: in-process, everything
        visible) is the caller; ``base`` the store as-of states are taken from (the app's, where ``store`` is the
        caller's view of it); ``collect`` bounds the state cache after an as-of request."""
        super().__init__()
        self.store = store
        self.settings = settings
        self.loaders = Loaders(store)
        self.audit_reader = audit_reader
        self.principal = principal
        self.base = base if base is not None else store
        self.instant: asof.Instant | None = None
        self._state: Store | None = None
        self._collect = collect

    async def read_as_of(self, text: str) -> None:
        """Read the state at ``text`` for the rest of the request, cut to the caller's graphs of that time."""
        instant, state = await run_in_threadpool(asof.open_state, self.base, text)
        self._state = state
        principal = self.principal
        if principal is not None and not principal.is_admin:
            view = await run_in_threadpool(lambda: view_for(state, principal, thread_vocabulary_only=True))
        else:
            view = state
        self.store, self.loaders, self.instant = view, Loaders(view), instant

    async def close_as_of(self) -> None:
        state, self._state = self._state, None
        if state is not None:
            await run_in_threadpool(state.close)
        if self._collect is not None:
            await run_in_threadpool(self._collect)
        elif isinstance(self.base, EmbeddedStore) and self.base.path is not None:
            await run_in_threadpool(asof.collect, self.base.path)  # in-process: no query workers to spare


def make_context(store: Store, settings: Any) -> GraphQLContext:
    """Context for running the schema in-process (tests, benchmark, export)."""
    return GraphQLContext(store, settings)
