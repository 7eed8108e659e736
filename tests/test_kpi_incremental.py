"""The KPI summary kept from what each load changed equals a full recompute: random sequences of snapshot loads,
delta loads (edited records, new units) and SPARQL Update writes on a small demo plant, checked after every step
against the plain named queries."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.shacl_demo import REPO
from tests.test_shacl_incremental import FILES, _apply
from threadline import kpi
from threadline.ingest import LoadOptions, load_files
from threadline.kpi import delta as kpi_delta
from threadline.namespaces import GRAPH, TL
from threadline.store import EmbeddedStore, Store

UNITS = 40


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    from threadline.demo import generate

    out = tmp_path_factory.mktemp("kpi-incremental") / "exports"
    generate(out, units=UNITS, seed=42)
    store = EmbeddedStore(None)
    kpi.install()
    try:
        for system in ("plm", "erp", "mes", "qms"):
            load_files(store, system, [out / system], ingest_dir=REPO / "ingest")
    finally:
        kpi.uninstall()
    assert kpi.fresh(store)
    buffer = io.BytesIO()
    store.dump(buffer)
    return out, buffer.getvalue()


def _store(dump: bytes) -> Store:
    store = EmbeddedStore(None)
    store.load(dump)
    return store


def _check(store: Store) -> int:
    """Every materialised KPI read from the summary equals its plain query; the number of KPIs read from it."""
    compared = 0
    for query in kpi.materialised_queries():
        stored = kpi.read(store, query.name)
        if stored is None:  # outdated: readers run the plain query
            continue
        plain = store.select(query.text, query.bindings({}))
        assert stored.variables == plain.variables, query.name
        assert stored.rows == plain.rows, query.name
        compared += 1
    return compared


def _new_units(exports: Path, out: Path, count: int, tag: str) -> Path:
    """MES records of ``count`` new units: copies of the last units' records under new serials and op ids."""
    out.mkdir(parents=True)
    with (exports / "mes" / "units.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[-count:]
    renamed = {r[0]: r[0].replace("-", f"-{tag}", 1) for r in body}
    for row in body:
        row[0] = renamed[row[0]]
    with (out / "units.csv").open("w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows([header, *body])
    ops = []
    for line in (exports / "mes" / "operations.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["serialNumber"] in renamed:
            record["serialNumber"] = renamed[record["serialNumber"]]
            record["executionId"] = tag + record["executionId"]
            ops.append(json.dumps(record) + "\n")
    (out / "operations.jsonl").write_text("".join(ops))
    return out


# SPARQL Update writes a client may send: each changes what some KPI counts (the summary is marked outdated).
USER = f"<{GRAPH}test/user>"
RESULT, STATUS, ON_UNIT = (f"<{TL}{p}>" for p in ("operationResult", "unitStatus", "onUnit"))
UPDATES = [
    f"DELETE {{ GRAPH ?g {{ ?op {RESULT} ?r }} }} WHERE {{ {{ SELECT ?op WHERE {{ ?op {RESULT} ?x }} "
    f"ORDER BY ?op OFFSET {{i}} LIMIT 1 }} GRAPH ?g {{ ?op {RESULT} ?r }} }}",
    f'INSERT {{ GRAPH {USER} {{ ?u {STATUS} "scrapped" }} }} WHERE {{ {{ SELECT ?u WHERE {{ ?u {STATUS} ?s }} '
    "ORDER BY ?u OFFSET {i} LIMIT 1 } }",
    f'INSERT {{ GRAPH {USER} {{ ?op {RESULT} "fail" }} }} WHERE {{ {{ SELECT ?op WHERE {{ ?op {ON_UNIT} ?u }} '
    "ORDER BY ?op OFFSET {i} LIMIT 1 } }",
]

step = st.one_of(
    st.tuples(
        st.just("edit"),
        st.integers(0, len(FILES) - 1),
        st.sampled_from(["delete", "blank", "copy", "duplicate"]),
        st.integers(0, 10_000),
        st.integers(0, 40),
        st.integers(0, 10_000),
        st.sampled_from(["snapshot", "delta"]),
    ),
    st.tuples(st.just("units"), st.integers(1, 5)),
    st.tuples(st.just("update"), st.integers(0, len(UPDATES) - 1), st.integers(0, 50)),
)


def _run(plant: tuple[Path, bytes], tmp: Path, steps: list[tuple]) -> None:  # type: ignore[type-arg]
    exports, dump = plant
    work = tmp / "exports"
    shutil.copytree(exports, work)
    store = _store(dump)
    kpi.install()
    try:
        assert _check(store) == 4
        for number, (kind, *args) in enumerate(steps):
            if kind == "edit":
                index, action, row, field, other, mode = args
                system, name = FILES[index]
                _apply(work / system, name, action, row, field, other)
                options = LoadOptions(mode=mode, on_error="skip")  # type: ignore[arg-type]
                load_files(store, system, [work / system], ingest_dir=REPO / "ingest", options=options)
            elif kind == "units":
                folder = _new_units(work, tmp / f"new-{number}", args[0], f"N{number}")
                options = LoadOptions(mode="delta", on_error="skip")
                load_files(store, "mes", [folder], ingest_dir=REPO / "ingest", options=options)
            else:
                store.update(UPDATES[args[0]].replace("{i}", str(args[1])))
                kpi.invalidate(store)  # as the SPARQL and Graph Store routes do after a write
            _check(store)
    finally:
        kpi.uninstall()


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=4))
# new units, then a write outdates the summary (full recompute at the next load), then new units again
@example(steps=[("units", 3), ("update", 2, 5), ("units", 2), ("units", 1)])
# a delta load changes operation results (contributions taken away and added) and a unit's part
@example(steps=[("edit", 2, "copy", 3, 10, 7, "delta"), ("edit", 1, "copy", 0, 1, 1, "delta")])
# a snapshot reload drops a unit record; a written triple in a user graph is read by a later delta load
@example(
    steps=[
        ("edit", 1, "delete", 2, 0, 0, "snapshot"),
        ("update", 1, 3),
        ("units", 2),
        ("edit", 2, "blank", 4, 10, 0, "delta"),
    ]
)
def test_incremental_summary_equals_full_recompute(
    plant: tuple[Path, bytes],
    tmp_path_factory: pytest.TempPathFactory,
    steps: list[tuple],  # type: ignore[type-arg]
) -> None:
    _run(plant, tmp_path_factory.mktemp("steps"), steps)


def test_a_delta_load_of_new_units_is_applied_incrementally(plant: tuple[Path, bytes], tmp_path: Path) -> None:
    """The path the property test compares must really be the incremental one for a plain delta of new units."""
    kpi_delta.outcomes.clear()
    _run(plant, tmp_path, [("units", 4), ("units", 2)])
    assert kpi_delta.outcomes == {"incremental": 2}
    store = _store(plant[1])
    assert kpi.read(store, "scrap-rate") is not None


def test_a_write_through_sparql_falls_back_to_a_full_recompute(plant: tuple[Path, bytes], tmp_path: Path) -> None:
    kpi_delta.outcomes.clear()
    _run(plant, tmp_path, [("update", 1, 0), ("units", 2), ("units", 1)])
    assert kpi_delta.outcomes == {"full": 1, "incremental": 1}, "outdated first: recomputed, then incremental"
