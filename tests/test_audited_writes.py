"""Every write path records itself: SPARQL Update, Graph Store writes and validation evidence each append an audit
entry in the same request as the change, and whatever they delete stays retrievable, reified, in an archive."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pyoxigraph as ox
import pytest

from threadline import audit
from threadline.audit import writes
from threadline.audit.verify import read_entries
from threadline.errors import QueryError
from threadline.store import Store

EX = "http://example.org/"
G1, G2 = EX + "g1", EX + "g2"
SEED = f"""INSERT DATA {{
  GRAPH <{G1}> {{ <{EX}a> <{EX}p> "1" , "2" . <{EX}b> <{EX}p> "3" . <{EX}b> <{EX}q> <{EX}c> }}
  GRAPH <{G2}> {{ <{EX}a> <{EX}p> "9" }}
}}"""


def _triples(store: Store, graph: str) -> set[tuple[str, str, str]]:
    rows = store.select(f"SELECT ?s ?p ?o WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}").rows
    return {(str(s), str(p), str(o)) for s, p, o in rows}


def _archived(store: Store, archive: str) -> set[tuple[str, str, str]]:
    return {(str(t.subject), str(t.predicate), str(t.object)) for t in audit.archived_triples(store, archive)}


def _last_entry(store: Store) -> dict[str, Any]:
    entries = read_entries(store)
    newest = max(entries.values(), key=lambda found: int(found[0]["sequence"]))[0]
    return newest | {"what": json.loads(newest["what"])}


def _update(store: Store, text: str, reason: str = "fix a typo") -> dict[str, Any]:
    return writes.audited_update(store, text, actor="admin-token", reason=reason)


@pytest.fixture
def store(any_store: Store) -> Store:
    with audit.writer_lock(any_store):
        any_store.update(SEED)
    return any_store


def lit(value: str) -> str:
    return str(ox.Literal(value))


def test_delete_where_archives_exactly_what_it_deletes(store: Store) -> None:
    before = _triples(store, G1)
    what = _update(store, f"DELETE WHERE {{ GRAPH <{G1}> {{ <{EX}a> <{EX}p> ?o }} }}")
    deleted = before - _triples(store, G1)
    assert deleted == {(f"<{EX}a>", f"<{EX}p>", lit("1")), (f"<{EX}a>", f"<{EX}p>", lit("2"))}
    assert _archived(store, what["archive"]) == deleted
    assert _triples(store, G2) == {(f"<{EX}a>", f"<{EX}p>", lit("9"))}, "other graphs untouched"
    entry = _last_entry(store)
    assert entry["action"] == "update" and entry["why"] == "fix a typo" and entry["actor"] == "admin-token"
    assert entry["what"]["graphs"] == [G1] and "DELETE WHERE" in entry["what"]["update"]
    assert audit.verify(store).intact


def test_an_update_with_a_prologue_runs_on_every_backend(store: Store) -> None:
    """On a remote store the audit guard goes in front of the update, after its PREFIX/BASE (Oxigraph reads a
    prologue only at the head of a request)."""
    _update(store, f'PREFIX ex: <{EX}>\nBASE <{EX}>\nINSERT DATA {{ GRAPH <g1> {{ ex:d ex:p "4" }} }}')
    assert (f"<{EX}d>", f"<{EX}p>", lit("4")) in _triples(store, G1)
    assert audit.verify(store).intact


def test_modify_with_with_and_prefixes_archives_the_instantiated_template(store: Store) -> None:
    if type(store).__name__ == "RemoteStore":
        pytest.skip("remote store: `oxigraph serve --union-default-graph` refuses updates with USING or WITH")
    what = _update(
        store,
        f'PREFIX ex: <{EX}>\nWITH <{G1}> DELETE {{ ?s ex:p ?o }} INSERT {{ ?s ex:p "new" }} '
        'WHERE { ?s ex:p ?o FILTER(?o != "2") }',
    )
    assert _archived(store, what["archive"]) == {
        (f"<{EX}a>", f"<{EX}p>", lit("1")),
        (f"<{EX}b>", f"<{EX}p>", lit("3")),
    }
    assert (f"<{EX}a>", f"<{EX}p>", lit("new")) in _triples(store, G1)
    assert (f"<{EX}a>", f"<{EX}p>", lit("2")) in _triples(store, G1)


def test_delete_data_drop_and_clear_all_keep_what_they_remove(store: Store) -> None:
    what = _update(store, f'DELETE DATA {{ GRAPH <{G1}> {{ <{EX}b> <{EX}p> "3" . <{EX}b> <{EX}p> "absent" }} }}')
    assert _archived(store, what["archive"]) == {(f"<{EX}b>", f"<{EX}p>", lit("3"))}, "only what existed"
    _update(store, f"DROP GRAPH <{G2}>")
    assert _archived(store, audit.archive_iri(G2)) == {(f"<{EX}a>", f"<{EX}p>", lit("9"))}
    _update(store, "CLEAR ALL", reason="decommission the test data")
    assert not _triples(store, G1)
    assert (f"<{EX}b>", f"<{EX}q>", f"<{EX}c>") in _archived(store, audit.archive_iri(G1))
    assert audit.verify(store).intact, "CLEAR ALL clears the data graphs, never the audit trail"
    assert _last_entry(store)["what"]["graphs"] == sorted([G1, writes.DEFAULT_GRAPH])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"DELETE {{ GRAPH ?g {{ <{EX}a> ?p ?o }} }} WHERE {{ GRAPH ?g {{ <{EX}a> ?p ?o }} }}", "name the graph"),
        (f"DROP GRAPH <{audit.AUDIT_GRAPH}>", "system graph"),
        (f'INSERT DATA {{ GRAPH <{audit.AUDIT_GRAPH}> {{ <{EX}x> <{EX}y> "z" }} }}', "system graph"),
        (f"CLEAR GRAPH <{audit.ARCHIVE_PREFIX}x>", "system graph"),
    ],
)
def test_updates_the_trail_cannot_follow_are_refused_and_change_nothing(store: Store, text: str, message: str) -> None:
    digest = store.digest()
    with pytest.raises(QueryError, match=message):
        _update(store, text)
    assert store.digest() == digest


def test_a_reason_is_required(store: Store) -> None:
    with pytest.raises(audit.AuditError, match="reason"):
        writes.audited_update(store, f"DROP GRAPH <{G2}>", actor="admin", reason=None)
    assert _triples(store, G2)


# -- over HTTP ---------------------------------------------------------------------------------------------


def test_graph_store_writes_are_audited(serve_app, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from threadline.config import Settings
    from threadline.store import EmbeddedStore
    from threadline.web.app import create_app

    store = EmbeddedStore(tmp_path / "store")
    server = serve_app(create_app(Settings(store=f"oxigraph:{tmp_path / 'store'}", write_token="s3cret"), store=store))
    auth = {"Authorization": "Bearer s3cret"}
    turtle = auth | {"Content-Type": "text/turtle"}
    url = server.url + "/store"
    graph = EX + "gsp"
    added = httpx.post(url, params={"graph": graph}, content=f'<{EX}s> <{EX}p> "v1" .', headers=turtle)
    assert added.status_code == 201
    refused = httpx.put(url, params={"graph": graph}, content=f'<{EX}s> <{EX}p> "v2" .', headers=turtle)
    assert refused.status_code == 400 and "reason" in refused.json()["error"], "PUT replaces: it needs a reason"
    reason = {"X-Threadline-Reason": "supplier corrected the value"}
    put = httpx.put(url, params={"graph": graph}, content=f'<{EX}s> <{EX}p> "v2" .', headers=turtle | reason)
    assert put.status_code == 204
    assert httpx.delete(url, params={"graph": graph}, headers=auth | reason).status_code == 204
    entries = sorted((e[0] for e in read_entries(store).values()), key=lambda e: int(e["sequence"]))
    actions = [(e["action"], e["why"]) for e in entries[-3:]]
    assert actions == [
        ("insert", None),
        ("update", "supplier corrected the value"),
        ("delete", "supplier corrected the value"),
    ]
    kept = _archived(store, audit.archive_iri(graph))
    assert {(f"<{EX}s>", f"<{EX}p>", lit("v1")), (f"<{EX}s>", f"<{EX}p>", lit("v2"))} <= kept
    system = httpx.put(url, params={"graph": audit.AUDIT_GRAPH}, content="", headers=turtle | reason)
    assert system.status_code == 403
    assert audit.verify(store).intact
