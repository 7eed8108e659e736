"""GraphQL traceability API: the schema, its batched SPARQL loaders and the offline GraphiQL explorer.

``execute`` runs an operation in-process (tests, benchmark, scripts); ``routes.router`` serves the API
and the explorer at ``/graphql``. Not named ``graphql``: that would shadow graphql-core.
"""

from __future__ import annotations

import asyncio
from typing import Any

from threadline.store import Store


async def execute_async(
    store: Store, query: str, variables: dict[str, Any] | None = None, settings: Any = None, schema: Any = None
) -> Any:
    """Run one operation against ``store``; returns strawberry's ExecutionResult (``.data``, ``.errors``)."""
    from threadline.graphql_api.context import make_context
    from threadline.graphql_api.schema import build_schema

    schema = schema or build_schema(settings)
    return await schema.execute(query, variable_values=variables, context_value=make_context(store, settings))


def execute(
    store: Store, query: str, variables: dict[str, Any] | None = None, settings: Any = None, schema: Any = None
) -> Any:
    """Synchronous ``execute_async`` for scripts and tests (not inside a running event loop)."""
    return asyncio.run(execute_async(store, query, variables, settings, schema))


__all__ = ["execute", "execute_async"]
