"""Loads: atomic, idempotent, provenance-tracked, and loud about bad input (store unchanged)."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest

from threadline.errors import IngestError, SourceError
from threadline.ingest import LoadOptions, load_files, recover
from threadline.namespaces import BATCH_GRAPH_PREFIX, CATALOG_GRAPH, PROVENANCE_GRAPH, TL
from threadline.store import Store, open_store

MAPPING = """\
@prefix rr: <http://www.w3.org/ns/r2rml#> .
@prefix rml: <http://semweb.mmlab.be/ns/rml#> .
@prefix ql: <http://semweb.mmlab.be/ns/ql#> .
@prefix tl: <https://w3id.org/threadline/ontology#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .

<#Units> rml:logicalSource [ rml:source "units.csv" ; rml:referenceFormulation ql:CSV ] ;
  rr:subjectMap [ rr:template "https://w3id.org/threadline/id/unit/{serial}" ; rr:class tl:SerializedUnit ] ;
  rr:predicateObjectMap [ rr:predicate tl:serialNumber ; rr:objectMap [ rml:reference "serial" ] ] ;
  rr:predicateObjectMap [ rr:predicate tl:unitStatus ; rr:objectMap [ rml:reference "status" ] ] ;
  rr:predicateObjectMap [ rr:predicate tl:hasDocument ;
                          rr:objectMap [ rml:reference "drawing" ; rr:termType rr:IRI ] ] ;
  rr:predicateObjectMap [ rr:predicate tl:completedAt ;
                          rr:objectMap [ rml:reference "completed" ; rr:datatype xsd:date ] ] .
"""

GOOD = "serial,status,completed,drawing\nSN-1,completed,2026-01-02,urn:doc:1\nSN-2,shipped,2026-01-03,urn:doc:2\n"


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    folder = tmp_path / "ingest" / "mes"
    folder.mkdir(parents=True)
    (folder / "units.rml.ttl").write_text(MAPPING)
    return tmp_path / "ingest"


def _export(tmp_path: Path, text: str, name: str = "units.csv") -> Path:
    folder = tmp_path / "export"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def _statuses(store: Store) -> dict[str, str]:
    rows = store.select(f"SELECT ?serial ?status WHERE {{ ?u <{TL}serialNumber> ?serial ; <{TL}unitStatus> ?status }}")
    return {row[0].value: row[1].value for row in rows.rows}  # type: ignore[union-attr]


@pytest.fixture
def store(e2e_store_url: str) -> Store:
    return open_store(e2e_store_url)


@pytest.mark.e2e
def test_load_commits_one_batch_with_provenance(store: Store, pack: Path, tmp_path: Path) -> None:
    activity = load_files(store, "mes", [_export(tmp_path, GOOD)], ingest_dir=pack)
    assert _statuses(store) == {"SN-1": "completed", "SN-2": "shipped"}
    (batch,) = activity.batches
    assert batch.graph.startswith(BATCH_GRAPH_PREFIX) and batch.records == 2
    assert batch.graph in store.graphs()
    # the activity, its files with hashes, and record-level lineage
    prov = store.select(
        f"""SELECT ?file ?sha ?triples WHERE {{ GRAPH <{PROVENANCE_GRAPH}> {{
            <{activity.iri}> a <{TL}IngestActivity> ; <http://www.w3.org/ns/prov#used> ?f ;
              <{TL}tripleCount> ?triples .
            ?f a <{TL}SourceFile> ; <{TL}fileName> ?file ; <{TL}sha256> ?sha }} }}"""
    )
    assert prov.values("file") == ["units.csv"]
    assert len(prov.values("sha")[0]) == 64
    assert int(prov.values("triples")[0]) == batch.triples
    lineage = store.select(
        f"""SELECT ?locator ?key WHERE {{ <https://w3id.org/threadline/id/unit/SN-2> <{TL}sourceRecord> ?r .
            ?r <{TL}locator> ?locator ; <{TL}sourceKey> ?key ; <{TL}inFile> "units.csv" }}"""
    )
    assert lineage.dicts() and lineage.values("key") == ["SN-2"]


@pytest.mark.e2e
def test_loading_the_same_files_twice_changes_nothing(store: Store, pack: Path, tmp_path: Path) -> None:
    path = _export(tmp_path, GOOD)
    load_files(store, "mes", [path], ingest_dir=pack)
    before = store.digest()
    second = load_files(store, "mes", [path], ingest_dir=pack)
    assert all(b.skipped for b in second.batches)
    assert store.digest() == before


@pytest.mark.e2e
def test_snapshot_replaces_and_reaches_deletions(store: Store, pack: Path, tmp_path: Path) -> None:
    load_files(store, "mes", [_export(tmp_path, GOOD)], ingest_dir=pack)
    load_files(
        store,
        "mes",
        [_export(tmp_path, "serial,status,completed,drawing\nSN-2,scrapped,2026-01-05,urn:d\n")],
        ingest_dir=pack,
    )
    assert _statuses(store) == {"SN-2": "scrapped"}
    catalog = store.select(f"SELECT ?g WHERE {{ GRAPH <{CATALOG_GRAPH}> {{ ?g a <{TL}BatchGraph> }} }}")
    assert len(catalog) == 1
    assert [g for g in store.graphs() if g.startswith(BATCH_GRAPH_PREFIX)] == catalog.values("g")


@pytest.mark.e2e
def test_delta_upserts_by_source_key(store: Store, pack: Path, tmp_path: Path) -> None:
    load_files(store, "mes", [_export(tmp_path, GOOD)], ingest_dir=pack)
    delta = _export(
        tmp_path, "serial,status,completed,drawing\nSN-2,scrapped,2026-01-05,urn:d\nSN-3,completed,2026-01-06,urn:d\n"
    )
    load_files(store, "mes", [delta], ingest_dir=pack, options=LoadOptions(mode="delta"))
    assert _statuses(store) == {"SN-1": "completed", "SN-2": "scrapped", "SN-3": "completed"}


BAD_INPUTS = {
    "bad date": ("serial,status,completed,drawing\nSN-1,completed,2024-13-45,urn:d\n", "row 2", "completed"),
    "short row": ("serial,status,completed,drawing\nSN-1,completed\n", "row 2", None),
    "missing column": ("serial,state,completed,drawing\nSN-1,completed,2026-01-01,urn:d\n", None, "status"),
    "invalid IRI": ("serial,status,completed,drawing\nSN-1,completed,2026-01-01,http://a b/c\n", "row 2", "drawing"),
}


@pytest.mark.e2e
@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_names_the_fault_and_loses_nothing(case: str, store: Store, pack: Path, tmp_path: Path) -> None:
    load_files(store, "mes", [_export(tmp_path, GOOD)], ingest_dir=pack)
    before = store.digest()
    text, locator, field = BAD_INPUTS[case]
    with pytest.raises(SourceError) as caught:
        load_files(store, "mes", [_export(tmp_path, text)], ingest_dir=pack)
    message = str(caught.value)
    assert "units.csv" in message
    if locator:
        assert locator in message
    if field:
        assert field in message
    assert store.digest() == before


@pytest.mark.e2e
def test_skip_mode_rejects_bad_records_and_loads_the_rest(store: Store, pack: Path, tmp_path: Path) -> None:
    text = (
        "serial,status,completed,drawing\nSN-1,completed,2026-01-02,urn:d\n"
        "SN-2,shipped,2024-13-45,urn:d\nSN-3,shipped,2026-01-04,urn:d\n"
    )
    options = LoadOptions(on_error="skip", reject_dir=tmp_path / "rejects")
    activity = load_files(store, "mes", [_export(tmp_path, text)], ingest_dir=pack, options=options)
    assert _statuses(store) == {"SN-1": "completed", "SN-3": "shipped"}
    assert activity.batches[0].rejected == 1
    assert activity.reject_file is not None
    rejects = activity.reject_file.read_text()
    assert "row 3" in rejects and "completed" in rejects
    recorded = store.select(f"SELECT ?n WHERE {{ <{activity.iri}> <{TL}rejectedCount> ?n }}").values("n")
    assert recorded == ["1"]


def test_template_values_are_percent_encoded_not_rejected(pack: Path, tmp_path: Path) -> None:
    store = open_store("memory:")
    load_files(
        store,
        "mes",
        [_export(tmp_path, "serial,status,completed,drawing\nSN 1/A,ok,2026-01-01,urn:d\n")],
        ingest_dir=pack,
    )
    assert store.ask(f"ASK {{ <https://w3id.org/threadline/id/unit/SN%201%2FA> <{TL}serialNumber> 'SN 1/A' }}")


def test_unknown_system_and_unread_files_are_errors(pack: Path, tmp_path: Path) -> None:
    store = open_store("memory:")
    with pytest.raises(IngestError, match="no mapping pack"):
        load_files(store, "plm", [_export(tmp_path, GOOD)], ingest_dir=pack)
    with pytest.raises(IngestError, match=r"no mapping .* reads parts\.csv \(CSV header part_number, title\)"):
        load_files(store, "mes", [_export(tmp_path, "part_number,title\nP-1,x\n", "parts.csv")], ingest_dir=pack)
    # a renamed export whose header fits a mapping is read by content (issue #12), not refused by its name
    renamed = load_files(store, "mes", [_export(tmp_path, GOOD, "units-2024-06.csv")], ingest_dir=pack)
    assert [b.records for b in renamed.batches] == [2]


@pytest.mark.e2e
def test_recover_drops_uncommitted_batches(store: Store, pack: Path, tmp_path: Path) -> None:
    load_files(store, "mes", [_export(tmp_path, GOOD)], ingest_dir=pack)
    before = store.digest()
    import pyoxigraph as ox

    store.stage(
        b'<http://example.org/x> <http://example.org/p> "half a load" .\n',
        f"{BATCH_GRAPH_PREFIX}mes/crashed/0",
        ox.RdfFormat.N_TRIPLES,
    )
    assert store.digest() != before
    assert recover(store) == [f"{BATCH_GRAPH_PREFIX}mes/crashed/0"]
    assert store.digest() == before


@pytest.mark.e2e
def test_a_before_commit_hook_can_reject_the_load(store: Store, pack: Path, tmp_path: Path) -> None:
    from threadline.ingest import hooks

    load_files(store, "mes", [_export(tmp_path, GOOD)], ingest_dir=pack)
    before = store.digest()
    seen: list[int] = []

    def gate(current: Store, activity) -> None:  # type: ignore[no-untyped-def]
        # the hook can query the thread as it was and as the commit would leave it, without changing it
        query = f"SELECT DISTINCT ?serial WHERE {{ ?u <{TL}serialNumber> ?serial }} ORDER BY ?serial"
        before_view = current.select(query, default_graphs=activity.graphs_before()).values("serial")
        after_view = current.select(query, default_graphs=activity.graphs_after()).values("serial")
        seen.append((before_view, after_view))
        raise IngestError("rejected by the gate")

    hooks.before_commit(gate)
    try:
        with pytest.raises(IngestError, match="rejected by the gate"):
            load_files(store, "mes", [_export(tmp_path, GOOD.replace("SN-2", "SN-7"))], ingest_dir=pack)
    finally:
        hooks.unregister(gate)
    assert seen == [(["SN-1", "SN-2"], ["SN-1", "SN-7"])]
    assert store.digest() == before


@pytest.mark.e2e
def test_every_load_appends_a_verified_audit_entry_and_archives_what_it_replaces(
    store: Store, pack: Path, tmp_path: Path
) -> None:
    from threadline import audit

    first = load_files(store, "mes", [_export(tmp_path, GOOD)], ingest_dir=pack)
    replacement = "serial,status,completed,drawing\nSN-2,scrapped,2026-01-05,urn:d\n"
    load_files(store, "mes", [_export(tmp_path, replacement)], ingest_dir=pack)
    result = audit.verify(store)
    assert result.intact and result.entries == 2
    # the statements the snapshot replaced are still retrievable from the archive the audit entry names
    archived = audit.archived_triples(store, audit.archive_iri(first.batches[0].graph))
    assert any(t.object == ox.Literal("SN-1") for t in archived), archived[:3]
    assert not _statuses(store).get("SN-1")
