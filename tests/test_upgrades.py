"""Versions and upgrades (docs/upgrades.md): what a store records, what every open admits, ``threadline migrate``
from a store the previous release left (``tests/fixtures/previous_release``), and signatures across a rename."""

from __future__ import annotations

import asyncio
import gzip
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx
import pyoxigraph as ox
import pytest
from click.testing import CliRunner

import threadline
from threadline import audit, signatures
from threadline.audit.verify import read_entries
from threadline.audit.writes import audited_update
from threadline.auth.principal import ANONYMOUS, Principal
from threadline.cli import main
from threadline.config import Settings
from threadline.errors import ConfigError, MigrationNeeded, QueryError, StoreTooNew
from threadline.history import patch as history_patch
from threadline.namespaces import CHANGES_PREFIX, STORE_GRAPH, TL
from threadline.ontology import ontology_dir
from threadline.store import open_store
from threadline.store.reader_view import View
from threadline.upgrades import record, renames
from threadline.upgrades.migration import current_plan, migrate
from threadline.upgrades.versions import STORE_FORMAT, ontology_version
from threadline.web.app import create_app

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "previous_release" / "store.nq.gz"
SIGNED = "https://w3id.org/threadline/id/rev/ADH-3900/A"  # the part revision the fixture's signature signs
AUDIT = "https://w3id.org/threadline/graph/audit"
SIGNATURES = "https://w3id.org/threadline/graph/signatures"


_LOADED: list[Path] = []


def old_store(path: Path) -> str:
    """A fresh on-disk store holding exactly what the previous release left (no version record): the fixture
    bulk-loaded once per test process, then copied (a copy is several times faster than a load)."""
    if not _LOADED:
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="threadline-previous-release-")) / "store"
        store = ox.Store(str(folder))
        store.bulk_load(gzip.decompress(FIXTURE.read_bytes()), format=ox.RdfFormat.N_QUADS)
        store.flush()
        del store
        _LOADED.append(folder)
    shutil.copytree(_LOADED[0], path)
    return str(path)


def last_entry(store: object) -> dict:
    """The newest audit entry's fields (``what`` parsed)."""
    import json

    entries = [rows[0] for rows in read_entries(store).values()]  # type: ignore[arg-type]
    last = max(entries, key=lambda e: int(e["sequence"]))
    return {**last, "what": json.loads(last["what"])}


def quads(url: str, *, without: tuple[str, ...] = ()) -> set[str]:
    """Every quad as an N-Quads line, except those in graphs ``without``."""
    store = ox.Store.read_only(url)
    try:
        return {str(q) for q in store if not (isinstance(q.graph_name, ox.NamedNode) and q.graph_name.value in without)}
    finally:
        del store


def renaming_ontology(folder: Path) -> Path:
    """The shipped ontology as version 0.3.0, in which tl:revisionLabel became tl:revisionCode (a property the
    signed record uses) and tl:PartRevision became tl:ItemRevision (a class: a term in object position)."""
    folder.mkdir()
    for name in ("threadline.ttl", "alignments.ttl"):
        text = (ontology_dir() / name).read_text(encoding="utf-8")
        text = re.sub(r"\btl:revisionLabel\b", "tl:revisionCode", text)
        text = re.sub(r"\btl:PartRevision\b", "tl:ItemRevision", text)
        text = text.replace('owl:versionInfo "0.2.0"', 'owl:versionInfo "0.3.0"')
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "renames.csv").write_text(
        "version,old,new\n0.3.0,tl:revisionLabel,tl:revisionCode\n0.3.0,tl:PartRevision,tl:ItemRevision\n",
        encoding="utf-8",
    )
    return folder


@pytest.fixture
def renamed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = renaming_ontology(tmp_path / "ontology-0.3.0")
    monkeypatch.setenv("THREADLINE_ONTOLOGY_DIR", str(folder))
    return folder


# -- versions ---------------------------------------------------------------------------------------------------
def test_version_shows_package_ontology_and_store_format() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"threadline {threadline.__version__} (ontology 0.2.0, store format 3)"
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"] and project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "threadline.__version__"}
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## [Unreleased]" in changelog and "## [0.1.0]" in changelog


# -- the record and who sees it ---------------------------------------------------------------------------------
def test_a_new_store_records_its_versions_where_readers_never_see_them(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "store"))
    try:
        assert record.read(store) == record.current()
        assert record.current() == record.StoreVersion(STORE_FORMAT, "0.2.0", threadline.__version__)
        graphs = store.graphs()
        assert graphs == [STORE_GRAPH]
        assert ANONYMOUS.visible_graphs(graphs) == []
        assert Principal("0123456789ab", "compliance").visible_graphs(graphs) == []
        assert Principal("0123456789ab", "admin").visible_graphs(graphs) == [STORE_GRAPH]
        assert View(frozenset({"admin"})).hides(STORE_GRAPH)
        with pytest.raises(QueryError, match="system graph"):
            audited_update(
                store, f'INSERT DATA {{ GRAPH <{STORE_GRAPH}> {{ <urn:x> <urn:p> "1" }} }}', actor="t", reason="x"
            )
    finally:
        store.close()


def test_memory_stores_hold_no_record() -> None:
    with open_store("memory:") as store:
        assert store.graphs() == [] and record.read(store) is None


# -- newer stores ---------------------------------------------------------------------------------------------------
def _stamp(url: str, version: record.StoreVersion) -> None:
    store = open_store(url, check_versions=False)
    try:
        record.write(store, version)
    finally:
        store.close()


@pytest.mark.parametrize(
    ("found", "named"),
    [
        (record.StoreVersion(99, "0.2.0", "9.0.0"), "store format 99, ontology 0.2.0"),
        (record.StoreVersion(STORE_FORMAT, "0.9.0", "0.9.0"), "store format 3, ontology 0.9.0"),
    ],
)
def test_a_store_newer_than_this_threadline_is_refused(tmp_path: Path, found: record.StoreVersion, named: str) -> None:
    url = str(tmp_path / "store")
    _stamp(url, found)
    with pytest.raises(StoreTooNew) as raised:
        open_store(url)
    assert named in str(raised.value) and threadline.__version__ in str(raised.value)
    assert "upgrade Threadline" in str(raised.value)
    open_store(url, check_versions=False).close()  # the refusal released the store's lock


NEWER_VERBS = [
    ["stats"],
    ["dump"],
    ["query", "--sparql", "SELECT * WHERE { ?s ?p ?o } LIMIT 1"],
    ["validate"],
    ["audit", "verify"],
    ["audit", "export", "-o", "{tmp}/audit.csv"],
    ["token", "list"],
    ["kpi", "refresh"],
    ["token", "create", "reader", "--description", "x"],
    ["load", "plm", "{tmp}"],
    ["backup", "--to", "{tmp}/backups"],
    ["migrate", "--no-backup"],
]


def test_every_verb_refuses_a_newer_store_naming_both_versions(tmp_path: Path) -> None:
    url = str(tmp_path / "store")
    _stamp(url, record.StoreVersion(99, "0.2.0", "9.0.0"))
    runner = CliRunner()
    failures = []
    for verb in NEWER_VERBS:
        args = [a.replace("{tmp}", str(tmp_path)) for a in verb]
        result = runner.invoke(main, [*args, "--store", url])
        text = " ".join(result.output.split())
        if result.exit_code != 2 or "store format 99" not in text or "store format 3" not in text:
            failures.append((verb, result.exit_code, text[-300:]))
    assert not failures


def test_serve_refuses_a_newer_store_at_start_up(tmp_path: Path) -> None:
    url = str(tmp_path / "store")
    _stamp(url, record.StoreVersion(99, "0.2.0", "9.0.0"))
    env = {**os.environ, "THREADLINE_VAR_DIR": str(tmp_path / "var")}
    done = subprocess.run(
        [sys.executable, "-m", "threadline", "serve", "--store", url, "--port", "9"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 2
    assert "store format 99" in done.stderr and "store format 3" in done.stderr
    app = create_app(Settings(store=url, var_dir=tmp_path / "var"))

    async def start_up() -> None:
        async with app.router.lifespan_context(app):
            pass

    with pytest.raises(StoreTooNew):  # and the app itself, given the same settings, fails to start
        asyncio.run(start_up())


# -- the previous release's store ---------------------------------------------------------------------------------
def test_previous_release_store_migrates_in_place_with_a_backup(tmp_path: Path) -> None:
    url = old_store(tmp_path / "store")
    before = quads(url)
    env = {**os.environ, "THREADLINE_VAR_DIR": str(tmp_path / "var"), "THREADLINE_ACTOR": "Olga Ops"}
    run = [sys.executable, "-m", "threadline", "migrate", "--store", url]
    done = subprocess.run(run, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert "store format 1, ontology 0.1.0 -> store format 3, ontology 0.2.0" in done.stderr
    assert "backup written to" in done.stderr and "now at store format 3, ontology 0.2.0" in done.stderr
    (backup,) = (p for p in (tmp_path / "var" / "backups").iterdir() if p.is_dir())
    assert quads(str(backup)) == before  # the backup is the store as the old release left it

    after = quads(url)
    history = (AUDIT, STORE_GRAPH, CHANGES_PREFIX)  # the migration's audit entry, version record and change set
    assert {q for q in before if AUDIT not in q} == {q for q in after if not any(g in q for g in history)}
    with open_store(url) as store:
        assert record.read(store) == record.current()
        last = last_entry(store)
        assert last["action"] == "migrate" and last["actor"] == "Olga Ops"
        assert last["what"]["from"] == {"format": 1, "ontology": "0.1.0"}
        assert history_patch.first(store) == int(last["sequence"])  # history starts at the upgrade
        assert audit.verify(store).intact
        assert signatures.check(store) == []  # the old release's signature still holds

    again = CliRunner().invoke(main, run[3:], env=env)  # the same command again, in-process
    assert again.exit_code == 0 and "nothing to do" in again.output
    assert quads(url) == after and len(list((tmp_path / "var" / "backups").iterdir())) == 2  # dir + sidecar


def test_a_dry_run_shows_the_plan_and_changes_nothing(tmp_path: Path, renamed: Path) -> None:
    url = old_store(tmp_path / "store")
    before = quads(url)
    result = CliRunner().invoke(main, ["migrate", "--dry-run", "--store", url])
    assert result.exit_code == 0, result.output
    assert "store format 1, ontology 0.1.0 -> store format 3, ontology 0.3.0" in result.output
    assert "rename <https://w3id.org/threadline/ontology#revisionLabel>" in result.output
    assert "this migration rewrites data" in result.output
    assert quads(url) == before
    both = CliRunner().invoke(main, ["migrate", "--no-backup", "--backup-to", str(tmp_path), "--store", url])
    assert both.exit_code == 2 and "contradict" in both.output


def test_a_trivial_migration_is_applied_by_any_open(tmp_path: Path) -> None:
    url = old_store(tmp_path / "store")
    result = CliRunner().invoke(main, ["stats", "--store", url])
    assert result.exit_code == 0, result.output
    with open_store(url) as store:
        assert record.read(store) == record.current()
        last = last_entry(store)
        assert last["action"] == "migrate" and "automatic" in last["actor"]


def test_old_signatures_read_unchanged_over_graphql(tmp_path: Path, serve_app) -> None:  # type: ignore[no-untyped-def]
    url = old_store(tmp_path / "store")
    store = open_store(url)
    settings = Settings(store=url, var_dir=tmp_path / "var", write_token="bootstrap-secret", kpi_summaries=False)
    server = serve_app(create_app(settings, store=store))
    try:
        query = '{ revision(partNumber: "ADH-3900", revision: "A") { signatures { source recordUnchanged } } }'
        response = httpx.post(
            f"{server.url}/graphql",
            json={"query": query},
            headers={"Authorization": "Bearer bootstrap-secret"},
            timeout=60,
        )
        found = response.json()["data"]["revision"]["signatures"]
        assert {"source": "threadline", "recordUnchanged": True} in found
        store.update(
            f"DELETE {{ GRAPH ?g {{ <{SIGNED}> <{TL}lifecycleState> ?v }} }} "
            f'INSERT {{ GRAPH ?g {{ <{SIGNED}> <{TL}lifecycleState> "obsolete" }} }} '
            f"WHERE {{ GRAPH ?g {{ <{SIGNED}> <{TL}lifecycleState> ?v }} }}"
        )
        response = httpx.post(
            f"{server.url}/graphql",
            json={"query": query},
            headers={"Authorization": "Bearer bootstrap-secret"},
            timeout=60,
        )
        found = response.json()["data"]["revision"]["signatures"]
        assert {"source": "threadline", "recordUnchanged": False} in found
    finally:
        server.stop()
        store.close()


# -- renames and signatures -----------------------------------------------------------------------------------------
def test_renaming_a_term_keeps_signatures_valid_and_changes_still_show(tmp_path: Path, renamed: Path) -> None:
    url = old_store(tmp_path / "store")
    assert ontology_version() == "0.3.0"
    with pytest.raises(
        MigrationNeeded, match=r"store format 1, ontology 0\.1\.0.*ontology 0\.3\.0.*threadline migrate"
    ):
        open_store(url)
    signed_before = {q for q in quads(url) if q.endswith(f"<{SIGNATURES}>")}

    store = open_store(url, check_versions=False)
    try:
        [old] = [s for s in signatures.signatures_of(store, [SIGNED]) if s.hash_form]
        assert old.ontology is None  # the previous release recorded none: read as made under 0.1.0
        progress: list[str] = []
        outcome = migrate(store, actor="Olga Ops", backup_dir=tmp_path / "backups", progress=progress.append)
        assert outcome.rewritten > 0 and outcome.backup is not None
        assert any(line.startswith("rename 1/2") for line in progress)
        assert record.read(store) == record.current() and record.current().ontology == "0.3.0"

        statements = {(p.value, o.value) for p, o in signatures.record_statements(store, [SIGNED])[SIGNED]}
        assert (TL + "revisionCode", "A") in statements and (RDF_TYPE, TL + "ItemRevision") in statements
        assert not store.ask(f"ASK {{ {{ ?s <{TL}revisionLabel> ?o }} UNION {{ ?s ?p <{TL}PartRevision> }} }}")

        # the signature is untouched, its hash is no longer the record's hash under today's names, and yet:
        assert {str(q) for q in store.native if q.graph_name == ox.NamedNode(SIGNATURES)} == signed_before
        assert signatures.record_hash(store, SIGNED) != old.record_hash
        assert signatures.record_hash(store, SIGNED, under="0.1.0") == old.record_hash
        assert signatures.check(store) == []

        store.update(
            f"DELETE {{ GRAPH ?g {{ <{SIGNED}> <{TL}revisionCode> ?v }} }} "
            f'INSERT {{ GRAPH ?g {{ <{SIGNED}> <{TL}revisionCode> "A1" }} }} '
            f"WHERE {{ GRAPH ?g {{ <{SIGNED}> <{TL}revisionCode> ?v }} }}"
        )
        [mismatch] = signatures.check(store)
        assert mismatch.record == SIGNED and mismatch.stored_hash == old.record_hash
    finally:
        store.close()


RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


USING = "SELECT DISTINCT ?g WHERE { { GRAPH ?g { ?s ?term ?o } } UNION { GRAPH ?g { ?s ?p ?term } } }"


def test_an_interrupted_migration_is_refused_then_resumed(tmp_path: Path, renamed: Path) -> None:
    """The states an interruption can leave: the record marked, some graphs renamed and others not (each graph is
    renamed in one transaction). Rerunning ends where an uninterrupted migration ends."""
    clean = old_store(tmp_path / "clean")
    with open_store(clean, check_versions=False) as store:
        migrate(store, actor="t", backup_dir=None)
    expected = quads(clean, without=(AUDIT,))

    from threadline.upgrades.migration import _marked, _rename_text

    for cut in (0, 1, 2):  # of the (rename, graph) steps: none done, the first rename done, both done
        url = old_store(tmp_path / f"cut-{cut}")
        with open_store(url, check_versions=False) as store:
            steps = current_plan(store)
            record.write(store, _marked(steps, "store format 3, ontology 0.3.0"))
            todo = [
                (rename, graph)
                for rename in steps.renames
                for graph in sorted(store.select(USING, {"term": ox.NamedNode(rename.old)}).values("g"))
            ]
            assert len(todo) == 2
            for rename, graph in todo[:cut]:
                store.update(_rename_text(graph, rename))
        with pytest.raises(MigrationNeeded, match="did not finish"):
            open_store(url)
        result = CliRunner().invoke(main, ["migrate", "--no-backup", "--store", url])
        assert result.exit_code == 0, result.output
        assert quads(url, without=(AUDIT,)) == expected, cut
        with open_store(url) as store:
            assert signatures.check(store) == [] and audit.verify(store).intact


# -- the rename table ---------------------------------------------------------------------------------------------
def test_renames_map_back_through_chains(tmp_path: Path) -> None:
    (tmp_path / "renames.csv").write_text(
        "version,old,new\n0.3.0,tl:a,tl:b\n0.4.0,tl:b,tl:c\n0.4.0,tl:x,tl:y\n0.5.0,tl:q,tl:b\n", encoding="utf-8"
    )
    table = renames.load(tmp_path)
    assert renames.back_to(table, "0.2.0", "0.4.0") == {TL + "c": TL + "a", TL + "y": TL + "x"}
    assert renames.back_to(table, "0.3.0", "0.4.0") == {TL + "c": TL + "b", TL + "y": TL + "x"}
    assert renames.back_to(table, "0.4.0", "0.4.0") == {}
    # tl:b is a new name again in 0.5.0 (for another term); today's tl:c was tl:a in 0.2.0
    assert renames.back_to(table, "0.2.0", "0.5.0") == {TL + "c": TL + "a", TL + "y": TL + "x", TL + "b": TL + "q"}
    assert [r.new for r in renames.between(table, "0.3.0", "0.5.0")] == [TL + "c", TL + "y", TL + "b"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("old,new\n", "line 1: the header must be version,old,new"),
        ("version,old,new\n0.3.0,tl:a\n", "line 2: expected 3 fields"),
        ("version,old,new\n0.3.0,tl:a,tl:b\nsoon,tl:c,tl:d\n", "line 3: field 'version'"),
        ("version,old,new\n0.3.0,tl:a,http://example.org/b\n", "line 2: field 'new'"),
        ("version,old,new\n0.3.0,tl:a,tl:b\n0.3.0,tl:b,tl:c\n", "version 0.3.0 renames"),
    ],
)
def test_a_bad_rename_table_names_file_line_and_field(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "renames.csv").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        renames.load(tmp_path)
    assert str(tmp_path / "renames.csv") in str(raised.value) and message in str(raised.value)


def test_the_shipped_rename_table_reads() -> None:
    assert all(r.new.startswith(TL) and r.old.startswith(TL) for r in renames.load())
