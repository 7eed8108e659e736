"""The plain execution context (``threadline/graphql_api/execution.py``) answers exactly what graphql-core does.

Every operation runs on the demo thread through the schema (plans complete the plain selections, shared between
requests when the operation has no directives) and through the same schema with strawberry's own execution
context; data and errors must be identical. The operations cover the five examples and what changes a plan:
aliases, fragments, ``__typename``, interfaces and unions of units and lots, connections, lists of scalars,
``@include`` / ``@skip`` with variables (never shared: the same nodes select different fields), and the trace
that fetches only the fields its selection reads (``usedIn``), with a multi-valued link among them.
"""

from __future__ import annotations

from typing import Any

import pytest
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from tests.conftest import REPO, DemoThread
from threadline.graphql_api import execute
from threadline.graphql_api.execution import PlainExecutionContext
from threadline.graphql_api.schema import build_schema

EXAMPLES = sorted((REPO / "graphql" / "examples").glob("*.graphql"))

LISTING = """
query Listing($first: Int!, $withInspections: Boolean!, $withoutGenealogy: Boolean!) {
  units(first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { __typename serial: serialNumber status ...Built } }
    nodes {
      id
      consumed {
        __typename
        identifier
        ... on MaterialLot { quantity supplier { name } certificates { certificateNumber issuedAt } }
        ... on SerializedUnit { builtTo { revision part { partNumber } } }
      }
      inspections @include(if: $withInspections) { resultId status measuredValue inspectedAt }
      genealogy(depth: 3) @skip(if: $withoutGenealogy) { level relation item { identifier } }
      provenance { file locators load { startedAt } }
    }
  }
}
fragment Built on SerializedUnit { startedAt completedAt reworked builtTo { revision lifecycleState } }
"""

FORWARD = """
query Forward($lot: String!) {
  lot(lotNumber: $lot) {
    lotNumber
    all: usedIn { serialNumber consumed { identifier } workOrder { workOrderNumber } }
    finished: usedIn(finishedOnly: true) { id __typename serialNumber status location builtTo { revision } }
  }
}
"""


@pytest.fixture(scope="module")
def schemas() -> tuple[Any, Any]:
    plain = build_schema()
    reference = build_schema()
    reference.execution_context_class = StrawberryGraphQLCoreExecutionContext
    assert plain.execution_context_class is PlainExecutionContext
    return plain, reference


def same_answer(demo: DemoThread, schemas: tuple[Any, Any], query: str, variables: dict[str, Any] | None) -> Any:
    plain, reference = schemas
    expected = execute(demo.store, query, variables, schema=reference)
    for _ in range(2):  # the second run uses the plans the first one shared
        got = execute(demo.store, query, variables, schema=plain)
        assert got.errors == expected.errors
        assert got.data == expected.data
    return got.data


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples(demo_thread: DemoThread, schemas: tuple[Any, Any], path: Any) -> None:
    data = same_answer(demo_thread, schemas, path.read_text(encoding="utf-8"), None)
    assert data and all(value is not None for value in data.values())


@pytest.mark.parametrize(
    "flags", [(True, False), (False, True), (True, True)], ids=["include", "skip", "include-and-skip"]
)
def test_directives_with_variables(demo_thread: DemoThread, schemas: tuple[Any, Any], flags: tuple[bool, bool]) -> None:
    with_inspections, without_genealogy = flags
    variables = {"first": 15, "withInspections": with_inspections, "withoutGenealogy": without_genealogy}
    nodes = same_answer(demo_thread, schemas, LISTING, variables)["units"]["nodes"]
    assert len(nodes) == 15
    assert all(("inspections" in n) is with_inspections for n in nodes)
    assert all(("genealogy" in n) is not without_genealogy for n in nodes)
    assert any(c["__typename"] == "MaterialLot" and c["supplier"] for n in nodes for c in n["consumed"])


def test_trace_fetching_only_the_selected_fields(demo_thread: DemoThread, schemas: tuple[Any, Any]) -> None:
    lot = demo_thread.manifest["groundTruth"]["sharedSupplierLot"]["lot"]
    data = same_answer(demo_thread, schemas, FORWARD, {"lot": lot})["lot"]
    assert data["finished"] and all(u["serialNumber"] and u["builtTo"]["revision"] for u in data["finished"])
    assert len(data["all"]) >= len(data["finished"])
    assert any(u["consumed"] for u in data["all"])
