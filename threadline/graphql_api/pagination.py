"""Cursor pagination with a stable order: every list is sorted by the unique identifier people use.

A page is one query (the page's members and all their statements, ``compiler.page``); the cursor is the
last identifier of the page, opaque (base64) so clients do not build their own. ``totalCount`` costs one
more query, run only when selected.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import strawberry
from strawberry.types import Info

from threadline.graphql_api import compiler
from threadline.graphql_api.base import loaders, prefetch, wrap
from threadline.graphql_api.errors import GraphQLUserError
from threadline.graphql_api.resource import Resource
from threadline.store import text

T = TypeVar("T")

DEFAULT_PAGE = 50
MAX_PAGE = 500


@dataclass
class Where:
    """The graph pattern of a list: constant fragments plus the values they bind."""

    patterns: list[str]
    params: dict[str, Any] = field(default_factory=dict)

    def add(self, fragment: str, **params: Any) -> None:
        self.patterns.append(fragment)
        self.params.update(params)

    @property
    def text(self) -> str:
        return " ".join(self.patterns)


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None = strawberry.field(description="Pass as `after` to get the next page.")


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type(description="A page of a list, in the order of the objects' identifiers.")
class Connection(Generic[T]):
    nodes: list[T]
    edges: list[Edge[T]]
    page_info: PageInfo
    where: strawberry.Private[Where]

    @strawberry.field(description="Number of objects matching the filter (one extra query).")
    async def total_count(self, info: Info) -> int:
        query = compiler.bind_inner(compiler.count(self.where.text), self.where.params)
        result = await loaders(info).select(query)
        return int(text(result.rows[0][0])) if result.rows and result.rows[0][0] is not None else 0


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


def decode_cursor(cursor: str) -> str:
    try:
        key = base64.b64decode(cursor.encode(), altchars=b"-_", validate=True).decode()
        if not key:
            raise ValueError("empty cursor")
        return key
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise GraphQLUserError("invalid cursor: pass the endCursor of a previous page", argument="after") from exc


def page_size(info: Info, first: int) -> int:
    limit = int(getattr(info.context.settings, "graphql_max_page_size", MAX_PAGE))
    if not 1 <= first <= limit:
        raise GraphQLUserError(f"first must be between 1 and {limit}", argument="first")
    return first


async def fetch_page(info: Info, where: Where, first: int, after: str | None, cls: type) -> Connection[Any]:
    """One page of ``where`` (which binds ``?s`` and its unique key ``?key``) after the cursor."""
    size = page_size(info, first)
    paged = Where(list(where.patterns), dict(where.params))
    if after is not None:
        paged.add("FILTER(?key > ?after)", after=decode_cursor(after))
    query = compiler.bind_inner(compiler.page(paged.text, size + 1), paged.params)
    result = await loaders(info).select(query)
    si, ki = result.variables.index("s"), result.variables.index("key")
    keys: dict[str, str] = {}
    resources: dict[str, Resource] = {}
    for row in result.rows:
        s = text(row[si])
        keys[s] = text(row[ki])
        resource = resources.get(s) or resources.setdefault(s, Resource(s))
        resource.add(row[result.variables.index("p")].value, row[result.variables.index("o")])  # type: ignore[arg-type,union-attr]  # p and o are bound by the query: never None
    ordered = sorted(resources, key=lambda s: keys[s])
    for s in ordered:
        loaders(info).describe.prime(s, resources[s])
        loaders(info).loaded.setdefault(s, resources[s])
    has_next = len(ordered) > size
    ordered = ordered[:size]
    nodes = [wrap(resources[s], cls) for s in ordered]
    await prefetch(info, nodes, connection=True)
    edges = [Edge(cursor=encode_cursor(keys[s]), node=n) for s, n in zip(ordered, nodes, strict=True)]
    return Connection(
        nodes=nodes,
        edges=edges,
        page_info=PageInfo(has_next_page=has_next, end_cursor=edges[-1].cursor if edges else None),
        where=where,
    )
