"""Why unscoped GraphQL readers may keep the fast union default graph although they may not read the system
graphs (tokens, audit trail, archives): GraphQL's compiled queries match only thread statements, and the system
graphs hold none. Checked on a demo thread carrying every kind of system data, and end to end: GraphQL answers
exactly the same through the union as through an explicit list of the caller's graphs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, load_demo
from threadline.audit import writes
from threadline.auth import create_token
from threadline.auth.principal import Principal
from threadline.graphql_api import execute
from threadline.namespaces import RDF, system_role
from threadline.store import EmbeddedStore, Store
from threadline.store.scoped import ScopedStore, view_for

TYPE = RDF + "type"
LISTINGS = [
    """{ units(first: 30) { nodes { serialNumber status location builtTo { revision part { partNumber } }
         consumed { identifier } inspections { resultId status measuredValue }
         ncrs { ncrNumber capa { capaNumber status }
                disposition { dispositionType approvedBy { name } signatures { meaning } } }
         operations { step { sequence } operator { name } equipment { name } }
         genealogy(depth: 5) { item { identifier } } provenance { file load { startedAt } } } } }""",
    """{ lots(first: 30) { nodes { lotNumber suppliers { name } usedIn(finishedOnly: true) { serialNumber } } } }""",
    """{ capas(first: 30) { nodes { capaNumber status rootCause ncrs { ncrNumber } } } }""",
]


@pytest.fixture(scope="module")
def thread_with_system_data(demo_exports: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, dict]:
    import json

    store = EmbeddedStore(tmp_path_factory.mktemp("isolation") / "store")
    load_demo(store, demo_exports)  # audit entries, catalog, provenance
    create_token(store, "reader", scopes=[], description="a reader", actor="test")  # security graph
    truth = json.loads((demo_exports / "manifest.json").read_text())["groundTruth"]
    unit = f"https://w3id.org/threadline/id/unit/{truth['exampleUnit']['serial']}"
    location = "https://w3id.org/threadline/ontology#location"
    graph = store.select(f"SELECT ?g WHERE {{ GRAPH ?g {{ <{unit}> <{location}> ?l }} }}")
    target = graph.rows[0][0].value  # type: ignore[union-attr]
    # archived, reified statements about a thread object: rdf:subject <unit>, rdf:object its old location
    writes.audited_update(
        store,
        f"DELETE {{ GRAPH <{target}> {{ <{unit}> <https://w3id.org/threadline/ontology#location> ?l }} }} "
        f'INSERT {{ GRAPH <{target}> {{ <{unit}> <https://w3id.org/threadline/ontology#location> "Bay 9" }} }} '
        f"WHERE {{ GRAPH <{target}> {{ <{unit}> <https://w3id.org/threadline/ontology#location> ?l }} }}",
        actor="test",
        reason="move the unit",
    )
    return store, truth


def _split(store: Store) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    rows = store.select("SELECT ?g ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } }").rows
    system = [r for r in rows if system_role(r[0].value) is not None]  # type: ignore[union-attr]
    data = [r for r in rows if system_role(r[0].value) is None]  # type: ignore[union-attr]
    return system, data


def test_the_system_graphs_hold_no_thread_statement(thread_with_system_data: tuple[Store, dict]) -> None:
    store, _ = thread_with_system_data
    system, data = _split(store)
    assert {system_role(r[0].value) for r in system} == {"admin", "compliance"}, "tokens, audit and archive exist"
    data_subjects = {r[1] for r in data}
    assert not {r[1] for r in system} & data_subjects, "no thread object is a subject in a system graph"
    shared = {r[2] for r in system if r[2].value != TYPE} & {r[2] for r in data}
    assert not shared, f"predicates used both in system and data graphs: {sorted(p.value for p in shared)}"
    system_types = {r[3] for r in system if r[2].value == TYPE}
    assert not system_types & {r[3] for r in data if r[2].value == TYPE}, "system and thread classes are apart"


def test_graphql_answers_the_same_through_the_union_and_the_explicit_list(
    thread_with_system_data: tuple[Store, dict],
) -> None:
    store, _ = thread_with_system_data
    reader = Principal("t1", "engineer")
    assert view_for(store, reader, thread_vocabulary_only=True) is store, "unscoped readers keep the union"
    scoped = view_for(store, reader)
    assert isinstance(scoped, ScopedStore) and len(scoped.visible) < len(store.graphs())
    operations = [path.read_text() for path in sorted((REPO / "graphql" / "examples").glob("*.graphql"))]
    for operation in [*operations, *LISTINGS]:
        union, listed = execute(store, operation), execute(scoped, operation)
        assert union.errors is None and listed.errors is None, (union.errors, listed.errors)
        assert union.data == listed.data, operation[:80]
    scoped_token = Principal("t2", "engineer", scopes=("https://w3id.org/threadline/graph/batch/erp/*",))
    assert isinstance(view_for(store, scoped_token, thread_vocabulary_only=True), ScopedStore)
