"""Request limits (depth, aliases, tokens, page size), unknown identifiers and error masking."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from tests.conftest import DemoThread
from tests.test_graphql_roundtrips import CountingStore
from threadline.config import Settings
from threadline.errors import StoreError
from threadline.graphql_api import execute
from threadline.store.base import QueryResult
from threadline.web.app import create_app


def settings(**values: Any) -> SimpleNamespace:
    return SimpleNamespace(debug=False, **values)


def messages(result: Any) -> list[str]:
    return [e.message for e in result.errors or []]


def test_depth_limit(demo_thread: DemoThread) -> None:
    deep = '{ unit(serial: "FC-0000001") { builtTo { part { revisions { part { partNumber } } } } } }'
    assert execute(demo_thread.store, deep, settings=settings(graphql_max_depth=6)).errors is None
    result = execute(demo_thread.store, deep, settings=settings(graphql_max_depth=4))
    assert result.data is None and any("exceeds maximum operation depth" in m for m in messages(result))


def test_alias_limit(demo_thread: DemoThread) -> None:
    aliased = "{ " + " ".join(f'u{i}: unit(serial: "FC-000000{i}") {{ status }}' for i in range(1, 6)) + " }"
    assert execute(demo_thread.store, aliased, settings=settings(graphql_max_aliases=5)).errors is None
    result = execute(demo_thread.store, aliased, settings=settings(graphql_max_aliases=4))
    assert result.data is None and any("aliases" in m for m in messages(result))


def test_token_limit(demo_thread: DemoThread) -> None:
    query = '{ unit(serial: "FC-0000001") { serialNumber status location } }'
    assert execute(demo_thread.store, query, settings=settings(graphql_max_tokens=100)).errors is None
    result = execute(demo_thread.store, query, settings=settings(graphql_max_tokens=8))
    assert result.data is None and any("token" in m.lower() for m in messages(result))


def test_aliased_lookups_batch_into_one_round_trip(demo_thread: DemoThread) -> None:
    store = CountingStore(demo_thread.store)
    aliased = "{ " + " ".join(f'u{i}: unit(serial: "FC-000000{i}") {{ status }}' for i in range(1, 8)) + " }"
    result = execute(store, aliased)
    assert result.errors is None and len(result.data) == 7
    assert len(store.queries) == 1


@pytest.mark.parametrize(
    ("query", "kind"),
    [
        ('{ unit(serial: "FC-9999999") { status } }', "unit"),
        ('{ lot(lotNumber: "NOPE") { quantity } }', "lot"),
        ('{ revision(partNumber: "FC-1000", revision: "Z") { revision } }', "revision"),
        ('{ capa(number: "CAPA-99999") { status } }', "CAPA"),
        ('{ changeOrder(number: "ECO-0") { status } }', "change order"),
    ],
)
def test_unknown_identifier_is_a_clear_error(demo_thread: DemoThread, query: str, kind: str) -> None:
    result = execute(demo_thread.store, query, settings=settings())
    assert result.data is None  # non-null root field: no "null that looks like success"
    (error,) = result.errors
    assert error.message.startswith(f"no {kind} with") and error.extensions["code"] == "NOT_FOUND"


def test_bad_arguments_are_user_errors(demo_thread: DemoThread) -> None:
    limit = settings(graphql_max_page_size=20)
    too_many = execute(demo_thread.store, "{ units(first: 21) { nodes { serialNumber } } }", settings=limit)
    assert (
        too_many.errors[0].extensions["code"] == "BAD_USER_INPUT" and "between 1 and 20" in too_many.errors[0].message
    )
    cursor = execute(demo_thread.store, '{ units(first: 5, after: "%%%") { nodes { serialNumber } } }', settings=limit)
    assert "invalid cursor" in cursor.errors[0].message
    depth = execute(demo_thread.store, '{ unit(serial: "FC-0000001") { genealogy(depth: 0) { level } } }')
    assert "depth must be between" in depth.errors[0].message


def test_cursor_pagination_is_stable_and_complete(demo_thread: DemoThread) -> None:
    seen: list[str] = []
    after = None
    while True:
        variables = {"after": after}
        result = execute(
            demo_thread.store,
            'query P($after: String) { units(first: 7, after: $after, filter: {partNumber: "FC-1000"}) '
            "{ nodes { serialNumber } pageInfo { hasNextPage endCursor } totalCount } }",
            variables,
        )
        page = result.data["units"]
        seen += [n["serialNumber"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == page["totalCount"] == demo_thread.units


def test_filters(demo_thread: DemoThread) -> None:
    truth = demo_thread.manifest["groundTruth"]
    query = """query F($f: UnitFilter) { units(first: 500, filter: $f) { nodes { serialNumber } totalCount } }"""
    open_ncr = execute(demo_thread.store, query, {"f": {"hasOpenNcr": True}}).data["units"]
    assert open_ncr["totalCount"] == len(truth["ncrsOpen"]) == len(open_ncr["nodes"])
    by_rev = execute(demo_thread.store, query, {"f": {"partNumber": "FC-1000", "revision": "C"}}).data["units"]
    assert by_rev["totalCount"] == truth["eco"]["unitsByRevision"]["C"]
    late = execute(
        demo_thread.store,
        query,
        {"f": {"revision": "B", "partNumber": "FC-1000", "startedFrom": truth["eco"]["effectiveFrom"] + "T00:00:00Z"}},
    ).data["units"]
    assert sorted(n["serialNumber"] for n in late["nodes"]) == truth["eco"]["unitsBuiltToOldAfterEffectivity"]
    capas = execute(demo_thread.store, '{ capas(filter: {status: "open"}) { nodes { capaNumber } } }').data
    assert [c["capaNumber"] for c in capas["capas"]["nodes"]] == truth["capasOpen"]


class BrokenStore(CountingStore):
    def _query(
        self, sparql: str, default_graphs: list[str] | None = None, named_graphs: list[str] | None = None
    ) -> QueryResult:
        raise StoreError("disk /secret/var/store is corrupt")


def test_internal_errors_are_masked_outside_debug(demo_thread: DemoThread) -> None:
    query = '{ unit(serial: "FC-0000001") { status } }'
    masked = execute(BrokenStore(demo_thread.store), query, settings=settings())
    assert messages(masked) == ["internal error"]
    shown = execute(BrokenStore(demo_thread.store), query, settings=SimpleNamespace(debug=True))
    assert "/secret/var/store" in messages(shown)[0]


@pytest.mark.e2e
def test_over_http(demo_thread: DemoThread, serve_app) -> None:  # type: ignore[no-untyped-def]
    app_settings = Settings(store="memory:")
    app = create_app(app_settings, store=demo_thread.store)
    server = serve_app(app)
    ok = httpx.post(f"{server.url}/graphql", json={"query": '{ unit(serial: "FC-0000001") { serialNumber } }'})
    assert ok.status_code == 200 and ok.json()["data"]["unit"]["serialNumber"] == "FC-0000001"
    missing = httpx.post(f"{server.url}/graphql", json={"query": '{ unit(serial: "X") { serialNumber } }'}).json()
    assert missing["data"] is None and missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    page = httpx.get(f"{server.url}/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and "/static/vendor/graphiql/graphiql.min.js" in page.text
    assert "cdn" not in page.text.lower() and "unpkg" not in page.text.lower()


def _nested_introspection(levels: int) -> str:
    """``__schema { types { fields { type { ofType { … kind } } } } }`` with ``levels`` fields in all."""
    inner = "kind"
    for _ in range(levels - 5):
        inner = f"ofType {{ {inner} }}"
    return f"{{ __schema {{ types {{ fields {{ type {{ {inner} }} }} }} }} }}"


def test_introspection_depth_is_bounded(demo_thread: DemoThread) -> None:
    """Regression: the depth limiter skipped ``__`` fields, so a 44-level introspection query was answered."""
    result = execute(demo_thread.store, _nested_introspection(44), settings=settings())
    assert result.data is None and any("maximum introspection depth of 15" in m for m in messages(result))
    via_type = '{ __type(name: "Query") { ' + "ofType { " * 20 + "kind" + " }" * 20 + " } }"
    result = execute(demo_thread.store, via_type, settings=settings(graphql_max_introspection_depth=10))
    assert result.data is None and any("introspection depth of 10" in m for m in messages(result))
    fragment = "query Q { __schema { ...T } } fragment T on __Schema { types { " + "ofType { " * 30 + "kind" + " }" * 31
    assert execute(demo_thread.store, fragment, settings=settings()).data is None


def test_graphiql_introspection_query_still_answers(demo_thread: DemoThread) -> None:
    """GraphiQL's query (graphql-js ``getIntrospectionQuery``: TypeRef nests nine ``ofType``) is 15 deep."""
    from graphql import get_introspection_query

    query = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )
    assert query.count("ofType") == 9
    result = execute(demo_thread.store, query, settings=settings())
    assert result.errors is None and result.data["__schema"]["queryType"]["name"] == "Query"
    assert execute(demo_thread.store, _nested_introspection(15), settings=settings()).errors is None
