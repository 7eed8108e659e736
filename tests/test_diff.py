"""Diffs between two instants (issue #14): `GET /diff` and `threadline diff` over the change sets.

One small demo with history (25 units, 4 days of delta exports with the generator's corrections) is loaded once,
through the path `serve --demo` takes, into a real on-disk store, and the real app serves it over HTTP. Expected
values come from the generator's manifest (the ground truth of every correction), or from replaying the RDF Patch
stream into a fresh store, never from the diff's own code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from rich.console import Console

from tests.conftest import LiveServer
from threadline.audit.verify import read_entries
from threadline.auth import create_token
from threadline.cli import main
from threadline.config import Settings
from threadline.demo.manifest import ID
from threadline.demo.workspace import demo_root, prepare
from threadline.history import replica
from threadline.namespaces import BATCH_GRAPH_PREFIX, TL, system_role
from threadline.store import EmbeddedStore, Store, open_store
from threadline.web.app import create_app

UNITS, DAYS = 25, 4
ADMIN = "diff-admin"
IRI_FIELDS = {TL + "performedBy": "person/", TL + "hasCertificate": "coc/"}  # fields whose values are links
QMS = BATCH_GRAPH_PREFIX + "qms/"
MES = BATCH_GRAPH_PREFIX + "mes/"


@dataclass
class Thread:
    url: str
    store: Store
    server: LiveServer
    manifest: dict[str, Any]
    days: list[tuple[int, int]]  # per history day: (the change before it, its last change)
    base: int  # the last change of the base loads

    def get(self, path: str, token: str = ADMIN, **params: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(self.server.url + path, params=params, headers=headers, timeout=120)

    def diff(self, token: str = ADMIN, **params: str) -> dict[str, Any]:
        answer = self.get("/diff", token, **params)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("application/json")
        return answer.json()


def _day_ranges(store: Store, manifest: dict[str, Any], exports: Path) -> tuple[int, list[tuple[int, int]]]:
    """The change ids of each history day's delta loads, from the audit trail and the days' export folders."""
    entries = sorted((rows[0] for rows in read_entries(store).values()), key=lambda e: int(e["sequence"]))
    upserts = [int(e["sequence"]) for e in entries if e["action"] == "upsert"]
    base = max(int(e["sequence"]) for e in entries if e["action"] == "load")
    ranges = []
    for day in manifest["history"]["day"]:
        loads = [s for s in ("plm", "erp", "mes", "qms") if (exports / day["folder"] / s).is_dir()]
        taken, upserts = upserts[: len(loads)], upserts[len(loads) :]
        ranges.append((taken[0] - 1, taken[-1]))
    return base, ranges


@pytest.fixture(scope="module")
def thread(tmp_path_factory: pytest.TempPathFactory) -> Any:
    settings = Settings(var_dir=tmp_path_factory.mktemp("diff"), write_token=ADMIN, anonymous_read="off")
    url = prepare(settings, None, UNITS, 42, False, Console(stderr=True, quiet=True), history=DAYS)
    exports = demo_root(settings) / "exports"
    manifest = json.loads((exports / "manifest.json").read_text(encoding="utf-8"))
    store = open_store(url)
    base, days = _day_ranges(store, manifest, exports)
    server = LiveServer(create_app(settings.model_copy(update={"store": url}), store=store))
    yield Thread(url, store, server, manifest, days, base)
    server.stop()
    store.close()


def _changes(manifest: dict[str, Any], day: int | None = None) -> list[dict[str, Any]]:
    days = manifest["history"]["day"]
    return [c for d in (days if day is None else [days[day]]) for c in d["changes"]]


def _same(term: dict[str, str], predicate: str, value: str) -> bool:
    if predicate in IRI_FIELDS:
        return term["type"] == "uri" and term["value"] == ID + IRI_FIELDS[predicate] + value
    if predicate == TL + "measuredValue":
        return Decimal(term["value"]) == Decimal(value)
    return term["value"] == value


def _record(answer: dict[str, Any], subject: str) -> dict[str, Any] | None:
    return next((r for r in answer["records"] if r["subject"]["value"] == subject), None)


def _values(record: dict[str, Any] | None, side: str, predicate: str) -> list[dict[str, str]]:
    return [s["object"] for s in (record or {}).get(side, []) if s["predicate"] == predicate and "subject" not in s]


def test_a_days_diff_is_exactly_the_corrections_of_that_day(thread: Thread) -> None:
    checked = 0
    for day, (start, end) in enumerate(thread.days):
        answer = thread.diff(**{"from": str(start), "to": str(end)})
        assert (answer["from"]["change"], answer["to"]["change"]) == (start, end)
        assert answer["changes"] == list(range(start + 1, end + 1))
        changed: dict[str, set[str]] = {}
        for change in _changes(thread.manifest, day):
            subject, predicate = change["subject"], change["predicate"]
            changed.setdefault(subject, set()).add(predicate)
            record = _record(answer, subject)
            assert record is not None, change
            assert record["type"] and record["type"].startswith(TL) and record["label"], record
            removed, added = _values(record, "removed", predicate), _values(record, "added", predicate)
            if change["old"] is not None:
                assert [v for v in removed if _same(v, predicate, change["old"])], (change, removed)
            if change["new"] is not None:
                assert [v for v in added if _same(v, predicate, change["new"])], (change, added)
            checked += 1
        for subject, predicates in changed.items():
            record = _record(answer, subject)
            # the delta load restated the whole record in its new batch graph: only what changed is a change
            assert {s["predicate"] for s in record["removed"]} <= predicates | {TL + "sourceRecord"}, record  # type: ignore[index]
    assert checked >= 8


def test_a_value_changed_and_changed_back_inside_the_window_is_no_change(thread: Thread) -> None:
    statuses = [c for c in _changes(thread.manifest) if c["predicate"] == TL + "ncrStatus"]
    subject = statuses[0]["subject"]
    assert [(c["old"], c["new"]) for c in statuses] == [("closed", "open"), ("open", "closed")]
    whole = thread.diff(**{"from": str(thread.base), "to": str(thread.days[-1][1])})
    assert not _values(_record(whole, subject), "added", TL + "ncrStatus")
    assert not _values(_record(whole, subject), "removed", TL + "ncrStatus")
    # while the same window cut at the reopening shows it
    reopened = next(d for d in range(DAYS) if any(c in statuses[:1] for c in _changes(thread.manifest, d)))
    part = thread.diff(**{"from": str(thread.base), "to": str(thread.days[reopened][1])})
    assert [v["value"] for v in _values(_record(part, subject), "added", TL + "ncrStatus")] == ["open"]
    # a subject filter gives that record alone, the same statements
    alone = thread.diff(**{"from": str(thread.base), "to": str(thread.days[reopened][1]), "subject": subject})
    assert [r["subject"]["value"] for r in alone["records"]] == [subject]
    assert alone["records"][0] == _record(part, subject)


def test_times_bound_the_window_as_change_ids_do(thread: Thread) -> None:
    start, end = thread.days[1]
    times = {int(e["sequence"]): e["time"] for rows in read_entries(thread.store).values() for e in rows[:1]}
    by_id = thread.diff(**{"from": str(start), "to": str(end)})
    by_time = thread.diff(**{"from": times[start], "to": times[end]})
    assert by_time == by_id


def test_the_patch_form_takes_a_replica_from_one_state_to_the_other(thread: Thread, tmp_path: Path) -> None:
    start, end = thread.days[0][0], thread.days[2][1]
    before = thread.get("/changes", until=str(start), limit="1000")
    after = thread.get("/changes", since=str(start), until=str(end), limit="1000")
    assert before.status_code == after.status_code == 200
    follower = EmbeddedStore(tmp_path / "replica")
    replica.apply(follower.native, before.content.splitlines())
    target = EmbeddedStore(tmp_path / "target")
    replica.apply(target.native, before.content.splitlines())
    replica.apply(target.native, after.content.splitlines())
    patch = httpx.get(
        thread.server.url + "/diff",
        params={"from": str(start), "to": str(end)},
        headers={"Authorization": f"Bearer {ADMIN}", "Accept": "application/rdf-patch"},
        timeout=120,
    )
    assert patch.status_code == 200 and patch.headers["content-type"].startswith("application/rdf-patch")
    assert replica.digest(follower) != replica.digest(target)
    assert replica.apply(follower.native, patch.content.splitlines()) == 1
    assert replica.digest(follower) == replica.digest(target)


def test_turtle_is_the_same_statements_reified(thread: Thread) -> None:
    import pyoxigraph as ox

    start, end = thread.days[0]
    turtle = httpx.get(
        thread.server.url + "/diff",
        params={"from": str(start), "to": str(end)},
        headers={"Authorization": f"Bearer {ADMIN}", "Accept": "text/turtle"},
        timeout=120,
    )
    assert turtle.status_code == 200 and turtle.headers["content-type"].startswith("text/turtle")
    graph = ox.Store()
    graph.load(turtle.content, ox.RdfFormat.TURTLE)
    counted = {
        kind: len(list(graph.quads_for_pattern(None, None, ox.NamedNode(TL + kind))))
        for kind in ("Addition", "Removal")
    }
    answer = thread.diff(**{"from": str(start), "to": str(end)})
    assert counted == {"Addition": answer["added"], "Removal": answer["removed"]} and answer["removed"] > 0


def test_a_scoped_reader_sees_only_its_graphs_and_no_reader_sees_system_graphs(thread: Thread) -> None:
    _, with_scope = create_token(thread.store, "reader", scopes=[MES + "*"], description="mes only", actor="test")
    _, reader = create_token(thread.store, "reader", description="plain reader", actor="test")
    start, end = thread.base, thread.days[-1][1]
    window = {"from": str(start), "to": str(end)}
    admin = thread.diff(**window)
    scoped = thread.diff(with_scope, **window)
    plain = thread.diff(reader, **window)

    def graphs(answer: dict[str, Any]) -> set[str]:
        return {g for r in answer["records"] for side in ("added", "removed") for s in r[side] for g in s["graphs"]}

    assert graphs(scoped) and all(g.startswith(MES) for g in graphs(scoped))
    assert any(g.startswith(QMS) for g in graphs(admin)), "the admin's diff has QMS changes the scoped reader lacks"
    assert all(system_role(g) is None for g in graphs(plain))
    ncr = next(c for c in _changes(thread.manifest) if c["predicate"] == TL + "ncrStatus")["subject"]
    assert _record(scoped, ncr) is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "from"),
        ({"from": ""}, "from"),
        ({"from": "yesterday"}, "from"),
        ({"from": "2026-12-07T10:00:00"}, "from"),  # no zone
        ({"from": "3", "to": "2"}, "to"),
        ({"from": "1", "to": "999999"}, "to"),
        ({"from": "1", "subject": "not an iri"}, "subject"),
    ],
)
def test_malformed_windows_are_400_naming_the_parameter(thread: Thread, params: dict[str, str], field: str) -> None:
    answer = thread.get("/diff", **params)
    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == field


def test_no_acceptable_format_is_406_and_a_window_past_the_limit_is_422(thread: Thread, tmp_path: Path) -> None:
    start, end = thread.days[0]
    refused = httpx.get(
        thread.server.url + "/diff",
        params={"from": str(start), "to": str(end)},
        headers={"Authorization": f"Bearer {ADMIN}", "Accept": "image/png"},
        timeout=60,
    )
    assert refused.status_code == 406
    settings = Settings(store=thread.url, var_dir=tmp_path, write_token=ADMIN, diff_max_statements=10)
    small = LiveServer(create_app(settings, store=thread.store))
    try:
        answer = httpx.get(
            small.url + "/diff",
            params={"from": str(start), "to": str(end)},
            headers={"Authorization": f"Bearer {ADMIN}"},
            timeout=60,
        )
        assert answer.status_code == 422 and "THREADLINE_DIFF_MAX_STATEMENTS" in answer.json()["error"]
    finally:
        small.stop()


# -- what a change replaced: the audit-trail export --------------------------------------------------------------


def _side_holds(side: str, predicate: str, value: str) -> bool:
    """Whether the N-Triples terms of one side of a ``replaced`` line hold ``value`` as the manifest writes it."""
    if predicate in IRI_FIELDS:
        return f"<{ID}{IRI_FIELDS[predicate]}{value}>" in side
    if predicate == TL + "measuredValue":
        return any(Decimal(part.split('"')[1]) == Decimal(value) for part in side.split(", ") if '"' in part)
    return f'"{value}"' in side


def test_the_audit_export_shows_what_each_correction_replaced(thread: Thread, tmp_path: Path) -> None:
    import csv

    from threadline import audit

    assert audit.export(thread.store, "csv", tmp_path / "trail.csv").intact
    rows = list(csv.DictReader((tmp_path / "trail.csv").open(encoding="utf-8-sig")))
    stored = {e["sequence"]: e["hash"] for found in read_entries(thread.store).values() for e in found[:1]}
    assert {r["sequence"]: r["hash"] for r in rows} == stored  # derived at export time: the entries are as they were
    checked = 0
    for day, (start, end) in enumerate(thread.days):
        lines = [ln for r in rows if start < int(r["sequence"]) <= end for ln in r["replaced"].splitlines()]
        for change in _changes(thread.manifest, day):
            if change["old"] is None or change["new"] is None:
                continue
            prefix = f"<{change['subject']}> <{change['predicate']}>: "
            found = [ln.removeprefix(prefix).split(" → ") for ln in lines if ln.startswith(prefix)]
            assert any(
                _side_holds(old, change["predicate"], change["old"])
                and _side_holds(new, change["predicate"], change["new"])
                for old, new in found
            ), (change, found)
            checked += 1
    assert checked >= 6
    # the base loads only added records: they replaced nothing
    assert all(not r["replaced"] for r in rows if int(r["sequence"]) <= thread.base)


@pytest.mark.skipif(not __import__("shutil").which("pdftotext"), reason="poppler-utils (pdftotext) not installed")
def test_the_audit_pdf_prints_old_and_new_values(thread: Thread, tmp_path: Path) -> None:
    import subprocess

    from threadline import audit

    audit.export(thread.store, "pdf", tmp_path / "trail.pdf")
    pdf = ["pdftotext", "-layout", str(tmp_path / "trail.pdf"), "-"]
    text = subprocess.run(pdf, capture_output=True, check=True).stdout.decode()
    assert "Replaced:" in text and "ncrStatus: closed -> open" in text, text


# -- GraphQL: history on every record type --------------------------------------------------------------------


HISTORY = "{ ncr(number: $n) { history { change sequence time agent action reason values { property old new } } } }"


def test_graphql_history_lists_each_change_with_old_and_new_values(thread: Thread) -> None:
    from threadline.graphql_api import execute

    statuses = [c for c in _changes(thread.manifest) if c["predicate"] == TL + "ncrStatus"]
    number = statuses[0]["record"]
    result = execute(thread.store, "query($n: String!) " + HISTORY, {"n": number})
    assert result.errors is None, result.errors
    history = result.data["ncr"]["history"]
    entries = {int(e["sequence"]): e for found in read_entries(thread.store).values() for e in found[:1]}
    sequences = [h["sequence"] for h in history]
    assert sequences == sorted(sequences) and sequences[0] <= thread.base  # created by a base load
    status = [
        (v["old"], v["new"]) for h in history for v in h["values"] if v["property"] == TL + "ncrStatus" and v["old"]
    ]
    assert status == [(["closed"], ["open"]), (["open"], ["closed"])]
    for h in history:
        entry = entries[h["sequence"]]
        assert (h["agent"], h["action"], h["reason"]) == (entry["actor"], entry["action"], entry["why"])
        assert h["change"].endswith(f"/change/{h['sequence']}") and h["time"]


def test_graphql_history_batches_a_level_in_the_same_store_calls(thread: Thread) -> None:
    from tests.test_graphql_roundtrips import CountingStore
    from threadline.graphql_api import execute

    serials = thread.store.select(f"SELECT ?s WHERE {{ ?u <{TL}serialNumber> ?s }} ORDER BY ?s LIMIT 8").values("s")

    def run(chosen: list[str]) -> tuple[int, list[list[int]]]:
        counting = CountingStore(thread.store)
        fields = " ".join(f'u{i}: unit(serial: "{s}") {{ history {{ sequence }} }}' for i, s in enumerate(chosen))
        result = execute(counting, "{ " + fields + " }")
        assert result.errors is None, result.errors
        return len(counting.queries), [
            [h["sequence"] for h in result.data[f"u{i}"]["history"]] for i in range(len(chosen))
        ]

    alone = {s: run([s]) for s in serials}
    same = [s for s in serials if alone[s][1] == alone[serials[0]][1]]
    assert len(same) >= 3 and alone[serials[0]][1], alone
    calls, found = run(same)
    assert found == [alone[s][1][0] for s in same]
    assert calls == alone[same[0]][0], "one level's histories share their store calls"


# -- a unit's as-built BOM diff ----------------------------------------------------------------------------------


def _rework(thread: Thread) -> dict[str, str]:
    """An admin's SPARQL Update replacing one component of a unit by another of the same part, removing a second
    and installing a third of another part: the ground truth of the BOM diff."""
    rows = thread.store.select(
        f"SELECT ?u ?serial ?c ?part ?g WHERE {{ GRAPH ?g {{ ?u <{TL}consumed> ?c }} ?u <{TL}serialNumber> ?serial . "
        f"?c <{TL}ofPart> ?part }} ORDER BY ?u ?c"
    ).rows
    by_unit: dict[str, list[tuple[str, str, str, str]]] = {}
    for u, serial, c, part, g in rows:
        by_unit.setdefault(u.value, []).append((serial.value, c.value, part.value, g.value))  # type: ignore[union-attr]
    unit, items = next((u, i) for u, i in by_unit.items() if len({p for _, _, p, _ in i}) >= 2)
    (serial, old, part, graph), removed = items[0], next(i for i in items if i[2] != items[0][2])
    spare = thread.store.select(
        f"SELECT ?c WHERE {{ ?c <{TL}ofPart> <{part}> FILTER NOT EXISTS {{ <{unit}> <{TL}consumed> ?c }} }} "
        "ORDER BY ?c LIMIT 1"
    ).values("c")[0]
    extra = thread.store.select(
        f"SELECT ?c WHERE {{ ?c <{TL}ofPart> ?p FILTER(?p NOT IN (<{part}>, <{removed[2]}>)) "
        f"FILTER NOT EXISTS {{ <{unit}> <{TL}consumed> ?c }} }} ORDER BY ?c LIMIT 1"
    ).values("c")[0]
    text = (
        f"DELETE DATA {{ GRAPH <{graph}> {{ <{unit}> <{TL}consumed> <{old}> }} }} ; "
        f"DELETE DATA {{ GRAPH <{removed[3]}> {{ <{unit}> <{TL}consumed> <{removed[1]}> }} }} ; "
        f"INSERT DATA {{ GRAPH <{graph}> {{ <{unit}> <{TL}consumed> <{spare}>, <{extra}> }} }}"
    )
    answer = httpx.post(
        thread.server.url + "/sparql",
        data={"update": text},
        headers={"Authorization": f"Bearer {ADMIN}", "X-Threadline-Reason": "rework: component replaced"},
        timeout=60,
    )
    assert answer.status_code == 204, answer.text
    return {"serial": serial, "old": old, "new": spare, "removed": removed[1], "installed": extra}


def test_a_units_bom_diff_names_installed_removed_and_replaced_components(thread: Thread) -> None:
    from threadline.graphql_api import execute

    start = thread.diff(**{"from": "1"})["to"]["change"]
    truth = _rework(thread)
    query = (
        "query($s: String!, $f: String!) { unit(serial: $s) { bomDiff(from: $f) { fromChange toChange "
        "installed { id part } removed { id } replaced { removed { id } installed { id part } } } } }"
    )
    result = execute(thread.store, query, {"s": truth["serial"], "f": str(start)})
    assert result.errors is None, result.errors
    found = result.data["unit"]["bomDiff"]
    assert found["fromChange"] == start and found["toChange"] == start + 1
    assert [c["id"] for c in found["installed"]] == [truth["installed"]]
    assert [c["id"] for c in found["removed"]] == [truth["removed"]]
    assert [(r["removed"]["id"], r["installed"]["id"]) for r in found["replaced"]] == [(truth["old"], truth["new"])]
    before = execute(thread.store, query, {"s": truth["serial"], "f": str(thread.base)})
    bad = execute(thread.store, query, {"s": truth["serial"], "f": "soon"})
    assert before.errors is None and bad.errors and bad.errors[0].extensions["code"] == "BAD_USER_INPUT"


# -- the command, on a small store of its own ----------------------------------------------------------------------

EX = "http://example.org/"


def test_the_command_prints_records_json_and_a_bom_diff(tmp_path: Path) -> None:
    from threadline.audit import writes

    store = EmbeddedStore(tmp_path / "store")
    unit, g = f"<{ID}unit/SN-1>", f"<{EX}g>"
    steps = [
        f'INSERT DATA {{ GRAPH {g} {{ {unit} a <{TL}SerializedUnit> ; <{TL}serialNumber> "SN-1" ; '
        f'<{TL}unitStatus> "built" ; <{TL}consumed> <{ID}lot/L1> . <{ID}lot/L1> <{TL}ofPart> <{ID}part/P> . '
        f"<{ID}lot/L2> <{TL}ofPart> <{ID}part/P> }} }}",
        f'DELETE DATA {{ GRAPH {g} {{ {unit} <{TL}unitStatus> "built" }} }} ; '
        f'INSERT DATA {{ GRAPH {g} {{ {unit} <{TL}unitStatus> "shipped" ; <{EX}note> _:n . _:n <{EX}text> "dent" }} }}',
        f"DELETE DATA {{ GRAPH {g} {{ {unit} <{TL}consumed> <{ID}lot/L1> }} }} ; "
        f"INSERT DATA {{ GRAPH {g} {{ {unit} <{TL}consumed> <{ID}lot/L2> }} }}",
        f'INSERT DATA {{ GRAPH {g} {{ <{EX}tmp> <{EX}p> "x" }} }}',
        f'DELETE DATA {{ GRAPH {g} {{ <{EX}tmp> <{EX}p> "x" }} }}',  # added and removed again: no net change
    ]
    for text in steps:
        writes.audited_update(store, text, actor="tester", reason="diff test")
    store.close()
    url = f"oxigraph:{tmp_path / 'store'}"

    table = CliRunner().invoke(main, ["diff", "--from", "1", "--to", "5", "--store", url])
    assert table.exit_code == 0, table.output
    assert '  - unitStatus "built"' in table.output and '  + unitStatus "shipped"' in table.output
    assert "SN-1 (SerializedUnit)" in table.output and "tmp" not in table.output

    as_json = CliRunner().invoke(main, ["diff", "--from", "1", "--format", "json", "--store", url])
    assert as_json.exit_code == 0, as_json.output
    (record,) = json.loads(as_json.output)["records"]
    assert record["label"] == "SN-1" and record["type"] == TL + "SerializedUnit"
    folded = [s for s in record["added"] if "subject" in s]  # the blank node's statement, under its record
    assert [(s["subject"]["type"], s["predicate"], s["object"]["value"]) for s in folded] == [
        ("bnode", EX + "text", "dent")
    ]

    bom = CliRunner().invoke(main, ["diff", "--unit", "SN-1", "--from", "2", "--format", "json", "--store", url])
    assert bom.exit_code == 0, bom.output
    found = json.loads(bom.output)
    assert [(r["removed"]["iri"], r["installed"]["iri"]) for r in found["replaced"]] == [(f"{ID}lot/L1", f"{ID}lot/L2")]
    assert found["installed"] == found["removed"] == []

    unknown = CliRunner().invoke(main, ["diff", "--unit", "SN-404", "--from", "1", "--store", url])
    assert unknown.exit_code == 2 and "SN-404" in unknown.output
    bad = CliRunner().invoke(main, ["diff", "--from", "later", "--store", url])
    assert bad.exit_code == 2 and "from" in bad.output


def test_over_http_a_reader_gets_old_and_new_values_but_not_who_or_why(thread: Thread) -> None:
    _, reader = create_token(thread.store, "reader", description="history reader", actor="test")
    _, compliance = create_token(thread.store, "compliance", description="history auditor", actor="test")
    number = next(c for c in _changes(thread.manifest) if c["predicate"] == TL + "ncrStatus")["record"]

    def ask(token: str, fields: str) -> dict[str, Any]:
        query = f'{{ ncr(number: "{number}") {{ history {{ sequence {fields} }} }} }}'
        answer = httpx.post(
            thread.server.url + "/graphql",
            json={"query": query},
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    values = ask(reader, "values { property old new }")
    assert "errors" not in values
    assert any(v["old"] == ["closed"] for h in values["data"]["ncr"]["history"] for v in h["values"])
    refused = ask(reader, "agent")
    assert refused["errors"] and "compliance" in refused["errors"][0]["message"]
    allowed = ask(compliance, "agent reason")
    assert "errors" not in allowed and all(h["agent"] for h in allowed["data"]["ncr"]["history"])
