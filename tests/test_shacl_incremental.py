"""Incremental validation equals a full run: random small changes to a demo plant's exports, reloaded as
the loader does (a snapshot of one system, superseding its previous batch, or a delta, upserting every
record of the files and retracting what the upserted subjects said before), must change the incremental
results exactly as they change a full run's — no result introduced or fixed is missed, none invented."""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.shacl_demo import REPO
from threadline.ingest import LoadOptions, hooks, load_files
from threadline.shacl.engine import NativeEngine
from threadline.shacl.incremental import load_results, scope
from threadline.shacl.model import Outcome
from threadline.shacl.shapes import load_profile
from threadline.store import EmbeddedStore, Store

# (system, file) the edits touch: each carries records the shapes check.
FILES = [
    ("qms", "inspection-results.csv"),
    ("mes", "units.csv"),
    ("mes", "operations.jsonl"),
    ("mes", "genealogy.jsonl"),
    ("plm", "signatures.csv"),
    ("plm", "revisions.csv"),
    ("erp", "certificates.csv"),
    ("erp", "receipts.csv"),
]
PROFILES = ("core", "cfr820")


class Plant:
    def __init__(self, exports: Path, dump: bytes) -> None:
        self.exports = exports
        self.dump = dump
        self.full_before = {p: _keys(_full(self.store(), p)) for p in PROFILES}

    def store(self) -> Store:
        store = EmbeddedStore(None)
        store.load(self.dump)
        return store


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Plant:
    from threadline.demo import generate

    out = tmp_path_factory.mktemp("incremental") / "exports"
    generate(out, units=40, seed=42)
    store = EmbeddedStore(None)
    for system in ("plm", "erp", "mes", "qms"):
        load_files(store, system, [out / system], ingest_dir=REPO / "ingest")
    buffer = io.BytesIO()
    store.dump(buffer)
    return Plant(out, buffer.getvalue())


def _full(store: Store, profile: str) -> Outcome:
    return NativeEngine(store, load_profile(REPO / "shapes", profile)).validate()


def _keys(outcome: Outcome) -> Counter[tuple[str, ...]]:
    return Counter(r.key() for r in outcome.results)


# -- edits of the source files ---------------------------------------------------------------------------
Edit = tuple[int, str, int, int, int]  # file index, action, row, field, other row


def _apply(folder: Path, name: str, action: str, row: int, field: int, other: int) -> None:
    path = folder / name
    if name.endswith(".csv"):
        with path.open(newline="") as handle:
            records = list(csv.reader(handle))
        header, body = records[0], records[1:]
        _edit(body, action, row, field % len(header), other, "")
        with path.open("w", newline="") as handle:
            csv.writer(handle, lineterminator="\n").writerows([header, *body])
    else:
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        keys = list(lines[0])
        body = [[record[k] for k in keys] for record in lines]
        _edit(body, action, row, field % len(keys), other, None)
        path.write_text("".join(json.dumps(dict(zip(keys, values, strict=True))) + "\n" for values in body))


def _edit(body: list[list], action: str, row: int, field: int, other: int, blank: object) -> None:
    i, j = row % len(body), other % len(body)
    if action == "delete":
        del body[i]
    elif action == "blank":
        body[i][field] = blank
    elif action == "copy":  # take another record's value: re-links, breaks ordering, changes a status
        body[i][field] = body[j][field]
    elif action == "duplicate":
        body.append(list(body[i]))


edits = st.lists(
    st.tuples(
        st.integers(0, len(FILES) - 1),
        st.sampled_from(["delete", "blank", "copy", "duplicate"]),
        st.integers(0, 10_000),
        st.integers(0, 40),
        st.integers(0, 10_000),
    ),
    min_size=1,
    max_size=3,
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=edits, profile=st.sampled_from(PROFILES), mode=st.sampled_from(["snapshot", "delta"]))
# Changes whose effect lies path steps away from the changed records (the walk must reach them):
@example(changes=[(5, "blank", 1, 3, 0)], profile="core", mode="snapshot")  # a revision loses its release time
@example(changes=[(5, "copy", 0, 3, 1)], profile="core", mode="snapshot")  # released later: units built before it
@example(changes=[(4, "delete", 0, 0, 0)], profile="core", mode="snapshot")  # a release signature is removed
@example(changes=[(2, "copy", 0, 0, 1)], profile="cfr820", mode="snapshot")  # two operation records merge into one
# Delta loads retract what an upserted subject said before: a changed value must not count twice
@example(changes=[(1, "copy", 0, 1, 1)], profile="core", mode="delta")  # a unit takes another part number
@example(changes=[(0, "blank", 0, 4, 0)], profile="core", mode="delta")  # an inspection result loses a value
def test_incremental_equals_full(
    plant: Plant, tmp_path_factory: pytest.TempPathFactory, changes: list[Edit], profile: str, mode: str
) -> None:
    system = FILES[changes[0][0]][0]  # one load: edits of one system's files
    folder = tmp_path_factory.mktemp("edit") / system
    shutil.copytree(plant.exports / system, folder)
    for index, action, row, field, other in changes:
        if FILES[index][0] == system:
            _apply(folder, FILES[index][1], action, row, field, other)
    store = plant.store()
    shapes = load_profile(REPO / "shapes", profile)
    seen: list[tuple[Outcome, Outcome]] = []

    def incremental(s: Store, activity) -> None:  # type: ignore[no-untyped-def]
        seen.append(load_results(s, shapes, activity, both=True))

    hooks.before_commit(incremental)
    try:
        options = LoadOptions(mode=mode, on_error="skip")  # type: ignore[arg-type]
        load_files(store, system, [folder], ingest_dir=REPO / "ingest", options=options)
    finally:
        hooks.unregister(incremental)
    full_after = _keys(_full(store, profile))
    full_before = plant.full_before[profile]
    if not seen:  # the edits left the export byte-identical in meaning: nothing loaded
        assert full_after == full_before
        return
    inc_after, inc_before = (_keys(o) for o in seen[0])
    assert inc_after - inc_before == full_after - full_before, "introduced results differ"
    assert inc_before - inc_after == full_before - full_after, "fixed results differ"
    assert set(inc_after) <= set(full_after)


def test_scope_of_core() -> None:
    """The core profile is analysable: every shape has a bounded reach, inverse steps are recorded."""
    scoped = scope(load_profile(REPO / "shapes", "core").graph)
    assert max(scoped.depth.values()) <= 3
    names = {str(p).rsplit("#", 1)[1] for p in scoped.inverse}
    assert names == {"inspectedItem", "concernsItem", "signs"}
