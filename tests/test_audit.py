"""The audit trail: entries chain and verify on every backend, one altered character is found and named, the
entry shares its change's transaction, replaced statements stay retrievable, CSV/PDF exports for inspectors."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
import subprocess
import threading
import zlib
from datetime import datetime, timedelta
from pathlib import Path

import pyoxigraph as ox
import pytest
from click.testing import CliRunner

from threadline import audit
from threadline.audit.commands import audit_group
from threadline.errors import StoreError
from threadline.namespaces import TL
from threadline.store import EmbeddedStore, Store, open_store

DATA = "https://w3id.org/threadline/graph/test/data"
ACTOR = "Zoë Quality (QA)"


def change(
    store: Store,
    value: int,
    *,
    action: str = "update",
    why: str | None = "correct a typo",
    actor: str = ACTOR,
    tail: str = "",
) -> None:
    """One write and its audit entry, in one update."""
    with audit.writer_lock(store):
        entry = audit.entry_update(
            store, action=action, actor=actor, what={"graphs": [DATA], "records": 1, "value": value}, why=why
        )
        store.update(f"INSERT DATA {{ GRAPH <{DATA}> {{ <urn:x:s> <urn:x:p> {value} }} }} ;\n{entry}{tail}")


def stored(store: Store, sequence: int, field: str) -> str:
    result = store.select(
        f"SELECT ?v WHERE {{ GRAPH <{audit.AUDIT_GRAPH}> {{ ?e <{TL}auditSequence> {sequence} ; "
        f"<{audit.chain.FIELDS[field]}> ?v }} }}"
    )
    return result.values("v")[0]


def rewrite(store: Store, sequence: int, field: str, new: ox.Literal) -> None:
    """Tamper directly in the store, as someone with raw database access could."""
    predicate = audit.chain.FIELDS[field]
    store.update(
        f"DELETE {{ GRAPH <{audit.AUDIT_GRAPH}> {{ ?e <{predicate}> ?old }} }} "
        f"INSERT {{ GRAPH <{audit.AUDIT_GRAPH}> {{ ?e <{predicate}> {new} }} }} "
        f"WHERE {{ GRAPH <{audit.AUDIT_GRAPH}> {{ ?e <{TL}auditSequence> {sequence} ; <{predicate}> ?old }} }}"
    )


def flip_one_character(text: str) -> str:
    index = len(text) // 2
    return text[:index] + chr(ord(text[index]) ^ 1) + text[index + 1 :]


@pytest.fixture
def memory() -> Store:
    return open_store("memory:")


def test_chain_verifies_and_an_inspector_can_recompute_it(any_store: Store) -> None:
    change(any_store, 1, action="load", why=None)
    change(any_store, 2)
    change(any_store, 3, action="delete", why="record entered twice", actor="operator")
    result = audit.verify(any_store)
    assert result.intact and result.entries == 3 and result.broken is None
    assert result.head == stored(any_store, 3, "hash")
    previous = audit.GENESIS
    for sequence in (1, 2, 3):  # the documented canonical form, recomputed independently of the module
        fields = {name: stored(any_store, sequence, name) for name in ("time", "actor", "action", "what")}
        why = any_store.select(f"SELECT ?w WHERE {{ <{audit.chain.entry_iri(sequence)}> <{TL}reason> ?w }}")
        obj = {
            **fields,
            "what": json.loads(fields["what"]),
            "why": (why.values("w") or [None])[0],
            "sequence": sequence,
            "previous": previous,
        }
        text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        assert hashlib.sha256(text).hexdigest() == stored(any_store, sequence, "hash")
        assert stored(any_store, sequence, "previous") == previous
        previous = stored(any_store, sequence, "hash")
    assert stored(any_store, 1, "actor") == ACTOR  # non-ASCII round-trips on every backend
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", stored(any_store, 2, "time"))


def test_one_flipped_character_is_found_and_named(any_store: Store) -> None:
    for value in range(1, 5):
        change(any_store, value)
    original = stored(any_store, 2, "actor")
    rewrite(any_store, 2, "actor", ox.Literal(flip_one_character(original)))
    result = audit.verify(any_store)
    assert not result.intact and result.broken is not None
    assert result.broken.sequence == 2 and "hash mismatch" in result.broken.problem
    assert result.broken.actual == stored(any_store, 2, "hash") != result.broken.expected
    assert "entry 2" in str(result)


@pytest.mark.parametrize(
    ("field", "tamper"),
    [
        ("what", lambda v: v.replace('"value":3', '"value":4')),
        ("why", flip_one_character),
        ("action", lambda v: "load"),
        ("previous", flip_one_character),
        ("hash", flip_one_character),
    ],
)
def test_every_field_is_covered(memory: Store, field: str, tamper) -> None:  # type: ignore[no-untyped-def]
    for value in range(1, 5):
        change(memory, value)
    old = stored(memory, 3, field)
    assert tamper(old) != old
    rewrite(memory, 3, field, ox.Literal(tamper(old)))
    broken = audit.verify(memory).broken
    assert broken is not None and broken.sequence == 3, broken


def test_time_is_covered_too(memory: Store) -> None:
    change(memory, 1)
    change(memory, 2)
    when = datetime.fromisoformat(stored(memory, 1, "time"))
    later = (when + timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    rewrite(memory, 1, "time", ox.Literal(later, datatype=ox.NamedNode(audit.chain.XSD + "dateTime")))
    assert audit.verify(memory).broken.sequence == 1  # type: ignore[union-attr]


def test_removed_or_duplicated_entries_are_found(memory: Store) -> None:
    for value in range(1, 5):
        change(memory, value)
    memory.update(f"DELETE WHERE {{ GRAPH <{audit.AUDIT_GRAPH}> {{ <{audit.chain.entry_iri(2)}> ?p ?o }} }}")
    broken = audit.verify(memory).broken
    assert broken is not None and broken.sequence == 3 and "gap" in broken.problem
    other = open_store("memory:")
    change(other, 1)
    other.update(f'INSERT DATA {{ GRAPH <{audit.AUDIT_GRAPH}> {{ <{audit.chain.entry_iri(1)}> <{TL}actor> "x" }} }}')
    broken = audit.verify(other).broken
    assert broken is not None and broken.sequence == 1 and "more than one value" in broken.problem


def test_entry_and_change_share_one_transaction(any_store: Store) -> None:
    any_store.update("INSERT DATA { GRAPH <urn:x:exists> { <urn:x:a> <urn:x:b> <urn:x:c> } }")
    with pytest.raises(StoreError):  # the update's last operation fails after the change and the entry
        change(any_store, 7, tail=" ;\nCREATE GRAPH <urn:x:exists>")
    assert not any_store.ask(f"ASK {{ GRAPH <{DATA}> {{ ?s ?p ?o }} }}")
    assert audit.head(any_store) == (0, audit.GENESIS)
    change(any_store, 7)
    assert any_store.ask(f"ASK {{ GRAPH <{DATA}> {{ <urn:x:s> <urn:x:p> 7 }} }}")
    assert audit.verify(any_store).entries == 1


def test_entries_refuse_what_the_rules_forbid(memory: Store) -> None:
    with pytest.raises(audit.AuditError, match="writer_lock"):
        audit.entry_update(memory, action="load", actor="a", what={}, why=None)
    with audit.writer_lock(memory):
        for action in ("update", "delete", "token-revoke"):
            with pytest.raises(audit.AuditError, match="reason is required"):
                audit.entry_update(memory, action=action, actor="a", what={}, why="  ")
        with pytest.raises(audit.AuditError, match="unknown audit action"):
            audit.entry_update(memory, action="tweak", actor="a", what={}, why="x")
        with pytest.raises(audit.AuditError, match="floats"):
            audit.entry_update(memory, action="load", actor="a", what={"ratio": 0.5}, why=None)
        with pytest.raises(audit.AuditError, match="actor"):
            audit.entry_update(memory, action="load", actor=" ", what={}, why=None)


def test_concurrent_writers_keep_one_chain(memory: Store) -> None:
    threads = [threading.Thread(target=lambda: [change(memory, i) for i in range(5)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = audit.verify(memory)
    assert result.intact and result.entries == 20


def test_a_write_never_waits_for_another_stores_writer(memory: Store, tmp_path: Path) -> None:
    """The chain's lock belongs to the store: a writer stuck on one store (here: holding its lock) must not stall
    writes to another (it did when the lock was one per process: a test's leftover writer hung every later
    write in the same test process). Two handles on one on-disk store share a lock."""
    held, done = threading.Event(), threading.Event()

    def hold() -> None:
        with audit.writer_lock(memory):
            held.set()
            done.wait(60)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    try:
        assert held.wait(10)
        other = open_store("memory:")
        writer = threading.Thread(target=change, args=(other, 1), daemon=True)
        writer.start()
        writer.join(30)
        assert not writer.is_alive(), "a write to another store waited for this store's writer"
        assert audit.verify(other).entries == 1
    finally:
        done.set()
        holder.join(10)
    disk = EmbeddedStore(tmp_path / "store")
    second = EmbeddedStore(tmp_path / "store", read_only=True)
    try:
        with audit.writer_lock(disk):
            assert audit.writer_lock(second).held() and not audit.writer_lock(memory).held()
    finally:
        second.close()
        disk.close()


def test_replaced_statements_stay_retrievable(memory: Store) -> None:
    old = "https://w3id.org/threadline/graph/batch/erp/20260101T000000Z-00000000/0"
    memory.update(
        f'INSERT DATA {{ GRAPH <{old}> {{ <urn:x:u1> <{TL}consumed> <urn:x:lot1> . <urn:x:u1> <{TL}name> "first" }} }}'
    )
    before = audit.graph_digest(memory, old)
    archive = audit.archive_iri(old)
    with audit.writer_lock(memory):
        entry = audit.entry_update(
            memory,
            action="load",
            actor="loader",
            what={"superseded": [old], "archives": {old: archive}, "before_sha256": before},
            why=None,
        )
        memory.update(f"{audit.preserve_update(memory, [old])} ;\nDROP GRAPH <{old}> ;\n{entry}")
    assert old not in memory.graphs()
    # the replaced statements are no longer asserted anywhere in the thread...
    assert not memory.ask(f"ASK {{ <urn:x:u1> <{TL}consumed> ?lot }}")
    # ...but the audit entry leads to them, byte-identical
    entries = audit.verify(memory).rows
    archived = json.loads(entries[0]["what"])["archives"][old]
    triples = audit.archived_triples(memory, archived)
    assert sorted(map(str, triples)) == sorted(
        [f"<urn:x:u1> <{TL}consumed> <urn:x:lot1>", f'<urn:x:u1> <{TL}name> "first"']
    )
    restored = open_store("memory:")
    restored.load(ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b"", old, ox.RdfFormat.N_TRIPLES)
    assert audit.graph_digest(restored, old) == before


def _pdf_text(pdf: bytes) -> str:
    if shutil.which("pdftotext"):
        return subprocess.run(
            ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
        ).stdout.decode()
    chunks = []  # no poppler: inflate the content streams and read their text objects
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            chunks.append(zlib.decompress(stream).decode("latin-1"))
        except zlib.error:
            chunks.append(stream.decode("latin-1"))
    return " ".join(re.findall(r"\((.*?)\)\s*Tj", " ".join(chunks)))


def test_export_csv_and_pdf(memory: Store, tmp_path: Path) -> None:
    change(memory, 1, action="load", why=None, actor="loader-erp")
    change(memory, 2, why="wrong torque value entered", actor="inspector-7")
    result = audit.export(memory, "csv", tmp_path / "trail.csv")
    assert result.intact
    rows = list(csv.DictReader(io.StringIO((tmp_path / "trail.csv").read_text(encoding="utf-8-sig"))))
    assert [r["sequence"] for r in rows] == ["1", "2"]
    assert rows[1]["actor"] == "inspector-7" and rows[1]["why"] == "wrong torque value entered"
    assert rows[1]["previous"] == rows[0]["hash"] == stored(memory, 1, "hash")
    assert json.loads(rows[1]["what"]) == {"graphs": [DATA], "records": 1, "value": 2}

    audit.export(memory, "pdf", tmp_path / "trail.pdf")
    pdf = (tmp_path / "trail.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    text = _pdf_text(pdf)
    for expected in (
        "Threadline audit trail",
        "loader-erp",
        "inspector-7",
        "wrong torque value entered",
        "intact",
        stored(memory, 2, "hash")[:32],
    ):
        assert expected in text, expected


def test_cli_verify_and_export(tmp_path: Path) -> None:
    path = tmp_path / "store"
    store = open_store(str(path))
    for value in range(1, 4):
        change(store, value)
    store.close()
    runner = CliRunner()
    ok = runner.invoke(audit_group, ["verify", "--store", str(path)])
    assert ok.exit_code == 0 and "3 entries" in ok.output, ok.output
    out = tmp_path / "trail.pdf"
    exported = runner.invoke(audit_group, ["export", "--format", "pdf", "-o", str(out), "--store", str(path)])
    assert exported.exit_code == 0 and out.read_bytes().startswith(b"%PDF"), exported.output
    store = open_store(str(path))
    rewrite(store, 2, "why", ox.Literal("correct a typO"))
    store.close()
    broken = runner.invoke(audit_group, ["verify", "--store", str(path)])
    assert broken.exit_code == 1 and "entry 2" in broken.output and "hash mismatch" in broken.output


def test_the_inspector_recipe_in_the_docs_recomputes_the_chain(
    memory: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = (Path(__file__).resolve().parent.parent / "docs" / "security.md").read_text()
    recipe = re.search(r"```python\n(.*?)```", docs, re.S).group(1)  # type: ignore[union-attr]
    change(memory, 1, action="load", why=None, actor="loader")
    change(memory, 2, why="operator typed 1O instead of 10", actor="Zoë")
    monkeypatch.chdir(tmp_path)
    audit.export(memory, "csv", tmp_path / "trail.csv")
    exec(compile(recipe, "docs/security.md", "exec"), {})  # raises AssertionError if the recipe disagrees
    rewrite(memory, 2, "actor", ox.Literal("Zoe"))
    audit.export(memory, "csv", tmp_path / "trail.csv")
    with pytest.raises(AssertionError, match="entry 2: altered"):
        exec(compile(recipe, "docs/security.md", "exec"), {})
