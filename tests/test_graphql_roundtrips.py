"""Store round trips per GraphQL request are bounded by the selection's nesting, not by the number of objects.

The store is wrapped to count every query that reaches it; the same selection over 10 and 100 units must
cost the same number of round trips, and the issue's reference selection at most 8.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

import pyoxigraph as ox
import pytest

from tests.conftest import DemoThread
from threadline.graphql_api import execute
from threadline.store import Store
from threadline.store.base import QueryResult


class CountingStore(Store):
    """A real store behind a counter: every query that reaches the backend is one round trip."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.url = inner.url
        self.queries: list[str] = []

    def _query(
        self, sparql: str, default_graphs: list[str] | None = None, named_graphs: list[str] | None = None
    ) -> QueryResult:
        self.queries.append(sparql)
        return self.inner._query(sparql, default_graphs, named_graphs)

    def update(self, sparql: str) -> None:
        raise AssertionError("the GraphQL API must never write")

    def stage(self, source: Path | bytes, graph: str, rdf_format: ox.RdfFormat = ox.RdfFormat.N_QUADS) -> None:
        raise AssertionError("the GraphQL API must never write")

    def load(
        self, source: Path | bytes, graph: str | None = None, rdf_format: ox.RdfFormat = ox.RdfFormat.N_QUADS
    ) -> None:
        raise AssertionError("the GraphQL API must never write")

    def dump(self, out: BinaryIO, rdf_format: ox.RdfFormat = ox.RdfFormat.N_QUADS, graph: str | None = None) -> None:
        self.inner.dump(out, rdf_format, graph)

    def backup(self, target: Path) -> Path:
        return self.inner.backup(target)


REFERENCE = """
query Reference($first: Int!) {
  units(first: $first) {
    nodes {
      serialNumber
      builtTo { revision }
      consumed { identifier ... on MaterialLot { supplier { name } } }
      inspections { resultId status }
      ncrs { ncrNumber capa { capaNumber status } }
    }
  }
}
"""


def trips(demo: DemoThread, query: str, variables: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    store = CountingStore(demo.store)
    result = execute(store, query, variables)
    assert result.errors is None, result.errors
    return len(store.queries), result.data


def test_reference_listing_takes_at_most_8_round_trips(demo_thread: DemoThread) -> None:
    count, data = trips(demo_thread, REFERENCE, {"first": 100})
    nodes = data["units"]["nodes"]
    assert len(nodes) == 100
    assert all(n["builtTo"]["revision"] for n in nodes)
    lots = [c for n in nodes for c in n["consumed"] if "supplier" in c]
    assert lots and all(lot["supplier"]["name"] for lot in lots)
    assert sum(len(n["inspections"]) for n in nodes) > 100
    assert any(n["ncrs"] and n["ncrs"][0]["capa"] for n in nodes)
    assert count <= 8, f"{count} round trips"


@pytest.mark.parametrize(
    "query",
    [
        REFERENCE,
        """query Q($first: Int!) { units(first: $first) { nodes { serialNumber
             operations { step { sequence } operator { name } equipment { name } }
             genealogy(depth: 5) { item { identifier ... on MaterialLot { certificates { certificateNumber } } } }
             provenance { file load { startedAt } } } } }""",
        """query Q($first: Int!) { lots(first: $first) { nodes { lotNumber suppliers { name }
             usedIn(finishedOnly: true) { serialNumber } receipts { purchaseOrder { poNumber } } } } }""",
    ],
    ids=["reference", "operations-genealogy-provenance", "lots-forward"],
)
def test_round_trips_do_not_grow_with_the_number_of_objects(demo_thread: DemoThread, query: str) -> None:
    few, small = trips(demo_thread, query, {"first": 20})
    many, large = trips(demo_thread, query, {"first": 100})
    listed = next(iter(large.values()))["nodes"]
    assert len(listed) > len(next(iter(small.values()))["nodes"])
    assert many == few, f"{few} round trips for 20 objects, {many} for 100"
