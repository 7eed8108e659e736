"""Change sets: every committed write records one, in its own transaction, and the RDF Patch stream they export
rebuilds the thread. A real on-disk store behind the real app over HTTP takes a mixed sequence of writes (loads,
a superseding reload, delta loads, SPARQL Update of every kind, Graph Store writes, a signature, token changes);
the patches, replayed from empty into a fresh pyoxigraph store, give the source's digest, and so does a prefix
replayed onto the state at its change."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from tests.shacl_demo import REPO
from threadline.audit import writes
from threadline.audit.verify import read_entries
from threadline.errors import QueryError, StoreError
from threadline.history import patch, replica
from threadline.history.changeset import change_graph
from threadline.ingest import load_files
from threadline.ingest.loader import LoadOptions
from threadline.namespaces import CHANGES_PREFIX, DEFAULT_GRAPH, TL
from threadline.store import EmbeddedStore, Store, open_store

EX = "http://example.org/"
UNITS = 25  # the generator's smallest plant


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from threadline.demo import generate

    out = tmp_path_factory.mktemp("history") / "exports"
    generate(out, units=UNITS, seed=7)
    return out


def _change_sets(store: Store) -> list[int]:
    rows = store.select(f"SELECT ?n WHERE {{ GRAPH ?c {{ ?cs <{TL}changeSequence> ?n }} }} ORDER BY ?n")
    return [int(n) for n in rows.values("n")]


def _entries(store: Store) -> int:
    return len(read_entries(store))


def _edit_units(folder: Path, column: str, value: str, rows: int = 2) -> None:
    """Change ``column`` in the first ``rows`` records of the MES units export (a correction at the source)."""
    path = folder / "units.csv"
    with path.open(newline="") as handle:
        table = list(csv.DictReader(handle))
    for record in table[:rows]:
        record[column] = value
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(table)


def _replay(lines: bytes, follower: EmbeddedStore | None = None, where: Path | None = None) -> EmbeddedStore:
    follower = follower or EmbeddedStore(where)
    replica.apply(follower.native, lines.splitlines())
    return follower


class Session:
    """The app over HTTP with an admin token (the bootstrap write token)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.admin = {"Authorization": "Bearer s3cret"}

    def update(self, text: str, reason: str = "history test") -> httpx.Response:
        headers = self.admin | {"X-Threadline-Reason": reason}
        return httpx.post(self.url + "/sparql", data={"update": text}, headers=headers, timeout=60)

    def changes(self, **params: str) -> httpx.Response:
        return httpx.get(self.url + "/changes", params=params, headers=self.admin, timeout=60)

    def stream(self, limit: int, since: str | None = None) -> tuple[bytes, int]:
        """Every page from ``since`` on, following ``Link: rel=next``; the bytes and the number of pages."""
        params = {"limit": str(limit)} | ({"since": since} if since else {})
        answer = self.changes(**params)
        body, pages = b"", 0
        while True:
            assert answer.status_code == 200, answer.text
            assert answer.headers["content-type"].startswith("application/rdf-patch")
            body += answer.content
            pages += 1
            following = answer.links.get("next")
            if not following:
                return body, pages
            answer = httpx.get(self.url + following["url"], headers=self.admin, timeout=60)


@pytest.fixture
def served(serve_app: Any, tmp_path: Path, exports: Path) -> tuple[Session, EmbeddedStore, Path]:
    from threadline.config import Settings
    from threadline.web.app import create_app

    work = tmp_path / "exports"
    shutil.copytree(exports, work)
    store = EmbeddedStore(tmp_path / "store")
    settings = Settings(store=f"oxigraph:{tmp_path / 'store'}", write_token="s3cret", var_dir=tmp_path / "var")
    server = serve_app(create_app(settings, store=store))
    return Session(server.url), store, work


def _mixed_sequence(session: Session, store: EmbeddedStore, work: Path, states: dict[int, str | None]) -> None:
    """Every kind of write, each noting its change id; after the delta load, the digest of what a replica should
    then hold (the prefix the test replays: loads before it, every other kind of write after it)."""

    def done(keep: bool = False) -> None:
        states[_change_sets(store)[-1]] = replica.digest(store) if keep else None

    ingest = REPO / "ingest"
    for system in ("plm", "erp", "mes", "qms"):
        load_files(store, system, [work / system], ingest_dir=ingest)
        done()
    _edit_units(work / "mes", "status", "scrapped")  # a snapshot reload: supersedes the MES batch graphs
    load_files(store, "mes", [work / "mes"], ingest_dir=ingest)
    done()
    _edit_units(work / "mes", "status", "shipped", rows=3)  # a delta load: retracts the restated records
    load_files(store, "mes", [work / "mes"], ingest_dir=ingest, options=LoadOptions(mode="delta"))
    done(keep=True)
    unit = store.select(f"SELECT ?u ?g WHERE {{ GRAPH ?g {{ ?u <{TL}unitStatus> ?s }} }} ORDER BY ?u LIMIT 1").rows[0]
    user, other = f"<{EX}user>", f"<{EX}other>"
    updates = [
        f'INSERT DATA {{ GRAPH {user} {{ <{EX}a> <{EX}p> "1", "2" . <{EX}b> <{EX}p> _:x . _:x <{EX}q> "bn" }} }}',
        f'INSERT DATA {{ GRAPH {user} {{ <{EX}a> <{EX}p> "1" }} }}',  # already there: no change
        f'DELETE DATA {{ GRAPH {user} {{ <{EX}a> <{EX}p> "2" }} }} ; '
        f'DELETE DATA {{ GRAPH {user} {{ <{EX}a> <{EX}p> "9" }} }}',
        f"DELETE {{ GRAPH <{unit[1].value}> {{ ?u <{TL}unitStatus> ?s }} }} INSERT {{ GRAPH <{unit[1].value}> "
        f'{{ ?u <{TL}unitStatus> "quarantined" }} }} WHERE {{ GRAPH <{unit[1].value}> {{ ?u <{TL}unitStatus> ?s }} '
        f"VALUES ?u {{ {unit[0]} }} }}",
        f"COPY GRAPH {user} TO GRAPH {other}",
        f'INSERT DATA {{ GRAPH {other} {{ <{EX}c> <{EX}p> "3" }} }} ; ADD GRAPH {other} TO GRAPH {user}',
        f"MOVE GRAPH {user} TO GRAPH <{EX}moved>",
        f"CLEAR GRAPH {other}",
        f'INSERT DATA {{ <{EX}d> <{EX}p> "default" }}',
        f"DROP GRAPH <{EX}moved>",
        f'DELETE DATA {{ GRAPH {user} {{ <{EX}nothing> <{EX}p> "absent" }} }}',  # no change, still one change set
    ]
    for text in updates:
        answer = session.update(text)
        assert answer.status_code == 204, (text, answer.text)
        done()
    turtle = session.admin | {"Content-Type": "text/turtle"}
    reason = {"X-Threadline-Reason": "supplier corrected the value"}
    gsp, graph = session.url + "/store", EX + "gsp"
    assert (
        httpx.post(gsp, params={"graph": graph}, content=f'<{EX}s> <{EX}p> "v1" .', headers=turtle).status_code == 201
    )
    done()
    put = httpx.put(gsp, params={"graph": graph}, content=f'<{EX}s> <{EX}p> "v2" .', headers=turtle | reason)
    assert put.status_code == 204
    done()
    assert httpx.delete(gsp, params={"graph": graph}, headers=session.admin | reason).status_code == 204
    done()
    made = httpx.post(
        session.url + "/admin/tokens", json={"role": "engineer", "description": "Ada Lovelace"}, headers=session.admin
    ).json()
    done()
    revision = store.select(f"SELECT ?r WHERE {{ ?r a <{TL}PartRevision> }} ORDER BY ?r LIMIT 1").values("r")[0]
    signed = httpx.post(
        session.url + "/signatures",
        json={"record": revision, "meaning": "released", "reason": "release", "password": made["secret"]},
        headers={"Authorization": f"Bearer {made['secret']}"},
    )
    assert signed.status_code == 201, signed.text
    done()
    revoked = httpx.delete(
        session.url + f"/admin/tokens/{made['id']}", params={"reason": "left"}, headers=session.admin
    )
    assert revoked.status_code == 200
    done()


def test_patches_replayed_from_empty_rebuild_the_source(served: Any, tmp_path: Path) -> None:
    session, store, work = served
    states: dict[int, str | None] = {}
    _mixed_sequence(session, store, work, states)
    final = replica.digest(store)

    # every write recorded exactly one change set, numbered as its audit entry
    assert _change_sets(store) == list(range(1, _entries(store) + 1)) == sorted(states)

    stream, pages = session.stream(limit=4)
    assert pages > 1, "paged with Link: rel=next"
    assert stream.count(b"TC .") == len(states)
    follower = _replay(stream, where=tmp_path / "replica")
    assert replica.digest(follower) == final

    # a prefix: the state at change K, then the changes since K, gives the same dataset
    (middle,) = (change for change, digest in states.items() if digest)
    head = session.changes(until=str(middle), limit="1000")
    assert head.status_code == 200
    partial = _replay(head.content)
    assert replica.digest(partial) == states[middle]
    rest, _ = session.stream(limit=1000, since=str(middle))
    assert replica.digest(_replay(rest, partial)) == final


def test_an_insert_of_what_is_there_and_a_delete_of_what_is_not_record_nothing(tmp_path: Path) -> None:
    store = EmbeddedStore(None)
    user = EX + "user"
    writes.audited_update(store, f'INSERT DATA {{ GRAPH <{user}> {{ <{EX}a> <{EX}p> "1" }} }}', actor="a", reason="r")
    writes.audited_update(
        store, f'INSERT DATA {{ GRAPH <{user}> {{ <{EX}a> <{EX}p> "1" }} }}', actor="a", reason="again"
    )
    writes.audited_update(
        store,
        f'DELETE DATA {{ GRAPH <{user}> {{ <{EX}a> <{EX}p> "0" }} }} ; '
        f"DELETE {{ GRAPH <{user}> {{ ?s ?p ?o }} }} INSERT {{ GRAPH <{user}> {{ ?s ?p ?o }} }} "
        f"WHERE {{ GRAPH <{user}> {{ ?s ?p ?o }} }}",
        actor="a",
        reason="no-op",
    )
    writes.audited_update(store, f'INSERT DATA {{ <{EX}d> <{EX}p> "x" }}', actor="a", reason="default graph")
    buffer = io.BytesIO()
    patch.write(store, patch.changes(store, None, None, None), buffer)
    rows = [line for line in buffer.getvalue().splitlines() if line[:2] in (b"A ", b"D ")]
    assert rows == [
        f'A <{EX}a> <{EX}p> "1" <{user}> .'.encode(),
        f'A <{EX}d> <{EX}p> "x" .'.encode(),
    ]
    assert _change_sets(store) == [1, 2, 3, 4]
    assert store.ask(f"ASK {{ GRAPH <{change_graph(4)}> {{ ?r <{TL}graph> <{DEFAULT_GRAPH}> }} }}")


def test_a_failed_write_records_no_change_set(exports: Path, tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "store")
    load_files(store, "plm", [exports / "plm"], ingest_dir=REPO / "ingest")
    before = (_change_sets(store), replica.digest(store))
    with pytest.raises(QueryError):  # refused before it runs: the change set could not name the graphs
        writes.audited_update(
            store,
            f"INSERT {{ GRAPH ?g {{ <{EX}a> <{EX}p> 1 }} }} WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}",
            actor="a",
            reason="r",
        )
    with pytest.raises(StoreError, match="already exists"):  # fails in the engine, half-way through the request
        writes.audited_update(
            store,
            f'INSERT DATA {{ GRAPH <{EX}u> {{ <{EX}a> <{EX}p> "1" }} }} ; CREATE GRAPH <{EX}u>',
            actor="a",
            reason="r",
        )
    assert (_change_sets(store), replica.digest(store)) == before
    assert len(read_entries(store)) == len(before[0])


def test_changes_is_for_compliance_and_refuses_malformed_bounds(served: Any) -> None:
    session, store, _ = served
    writes.audited_update(store, f'INSERT DATA {{ GRAPH <{EX}u> {{ <{EX}a> <{EX}p> "1" }} }}', actor="a", reason="r")
    for params, field in (
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-01T00:00:00Z"}, "until"),
        ({"since": "2026-01-01T00:00:00"}, "since"),
        ({"limit": "0"}, "limit"),
    ):
        answer = session.changes(**params)
        assert answer.status_code == 400, (params, answer.text)
        assert answer.json()["field"] == field and field in answer.json()["error"]
    made = httpx.post(session.url + "/admin/tokens", json={"role": "reader"}, headers=session.admin).json()
    reader = httpx.get(session.url + "/changes", headers={"Authorization": f"Bearer {made['secret']}"})
    assert reader.status_code == 403
    made = httpx.post(session.url + "/admin/tokens", json={"role": "compliance"}, headers=session.admin).json()
    compliance = httpx.get(session.url + "/changes", headers={"Authorization": f"Bearer {made['secret']}"})
    assert compliance.status_code == 200 and compliance.headers["x-threadline-changes"] == "3"
    first = compliance.headers["x-threadline-first-change"]
    assert first.endswith("/change/1") and b"H prev" not in compliance.content.split(b"TC .")[0]
    later = session.changes(since="2000-01-01T00:00:00Z")
    assert later.content == compliance.content
    assert session.changes(since="2999-01-01T00:00:00+01:00").content == b""


def test_the_change_graphs_are_hidden_from_readers_and_from_drop_all(tmp_path: Path) -> None:
    from threadline.namespaces import system_role

    store = EmbeddedStore(None)
    writes.audited_update(store, f'INSERT DATA {{ GRAPH <{EX}u> {{ <{EX}a> <{EX}p> "1" }} }}', actor="a", reason="r")
    writes.audited_update(store, "DROP ALL", actor="a", reason="r")
    assert system_role(CHANGES_PREFIX + "1") == "compliance"
    assert _change_sets(store) == [1, 2]
    removed = store.select(f"SELECT ?o WHERE {{ GRAPH <{change_graph(2)}> {{ ?r a <{TL}Removal> ; ?p ?o }} }}")
    assert f"{EX}u" in removed.values("o")


def test_the_cli_writes_the_same_patches(tmp_path: Path) -> None:
    from threadline.cli import main
    from threadline.history.export import page

    store = open_store(f"oxigraph:{tmp_path / 'store'}")  # with its version record: the CLI's open changes nothing
    for n in range(3):
        writes.audited_update(
            store, f"INSERT DATA {{ GRAPH <{EX}u> {{ <{EX}a> <{EX}p> {n} }} }}", actor="a", reason="r"
        )
    with page(store, "1", None, None).body as body:
        expected = body.read()
    store.close()  # the CLI opens the store itself
    out, url = tmp_path / "changes.rdfp", f"oxigraph:{tmp_path / 'store'}"
    result = CliRunner().invoke(main, ["changes", "--since", "1", "-o", str(out), "--store", url])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == expected and expected.count(b"TC .") == 2
    assert "history starts at https://w3id.org/threadline/id/change/1" in result.output
    bad = CliRunner().invoke(main, ["changes", "--since", "soon", "--store", url])
    assert bad.exit_code == 2 and "since" in bad.output


def test_every_backend_records_replayable_change_sets(any_store: Store) -> None:
    """Plain SPARQL 1.1 only: on disk, in memory and on `oxigraph serve`, updates of every kind replay exactly."""
    user, other = f"<{EX}user>", f"<{EX}other>"
    texts = [
        f'INSERT DATA {{ GRAPH {user} {{ <{EX}a> <{EX}p> "1", "2" . <{EX}b> <{EX}p> <{EX}c> }} }}',
        f'INSERT DATA {{ GRAPH {user} {{ <{EX}a> <{EX}p> "1" }} }}',
        f'DELETE DATA {{ GRAPH {user} {{ <{EX}a> <{EX}p> "2" }} }}',
        f"DELETE {{ GRAPH {user} {{ ?s <{EX}p> ?o }} }} INSERT {{ GRAPH {other} {{ ?s <{EX}q> ?o }} }} "
        f"WHERE {{ GRAPH {user} {{ ?s <{EX}p> ?o }} }}",
        f"COPY GRAPH {other} TO GRAPH {user}",
        f"MOVE GRAPH {other} TO GRAPH <{EX}moved>",
        f'INSERT DATA {{ <{EX}d> <{EX}p> "default" }}',
        f"CLEAR GRAPH {user}",
        "CLEAR DEFAULT",
        f"CREATE GRAPH <{EX}created>",  # no statements: an empty change set (it used to name junk graphs)
    ]
    states = []
    for text in texts:
        writes.audited_update(any_store, text, actor="a", reason="r")
        states.append(replica.digest(any_store))
    assert _change_sets(any_store) == list(range(1, len(texts) + 1))
    buffer = io.BytesIO()
    patch.write(any_store, patch.changes(any_store, None, None, None), buffer)
    assert replica.digest(_replay(buffer.getvalue())) == states[-1]
    default = [line for line in buffer.getvalue().splitlines() if line.startswith((b"A <", b"D <"))]
    assert sum(line.endswith(b'"default" .') for line in default) == 2, "the default graph's one quad, added, removed"
