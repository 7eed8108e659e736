"""As-of reads: the state at each past change, built from a checkpoint of a real on-disk store with the later change
sets undone, is exactly the store as it was dumped right after that change — data, audit trail, archives, change
sets and tokens alike (KPI summaries aside: they are dropped, readers run the plain aggregate)."""

from __future__ import annotations

import contextlib
import csv
import json
import random
import shutil
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pyoxigraph as ox
import pytest

from tests.shacl_demo import REPO
from threadline.audit import writes
from threadline.auth import tokens
from threadline.errors import ThreadlineError
from threadline.history import asof
from threadline.history.asof import OutOfHistory
from threadline.ingest import load_files
from threadline.ingest.loader import LoadOptions
from threadline.namespaces import ARCHIVE_PREFIX, AUDIT_GRAPH, KPI_GRAPH, TL
from threadline.store import EmbeddedStore, Store

EX = "http://example.org/"
UNITS = 25


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from threadline.demo import generate

    out = tmp_path_factory.mktemp("asof") / "exports"
    generate(out, units=UNITS, seed=11)
    return out


def _dump(store: EmbeddedStore) -> tuple[set[str], Counter]:
    """Every quad of the store but the KPI summary: as N-Quads lines (blank node labels included: the undo puts
    back the very blank nodes the change sets hold), except in archives, where reified statements of equal
    content are interchangeable (an archive does not say which write added which): those are counted by content."""
    lines, nodes = set(), defaultdict(set)
    for quad in store.native:
        graph = quad.graph_name.value if isinstance(quad.graph_name, ox.NamedNode) else ""
        if graph == KPI_GRAPH:
            continue
        if graph.startswith(ARCHIVE_PREFIX) and isinstance(quad.subject, ox.BlankNode):
            nodes[(graph, quad.subject.value)].add(f"{quad.predicate} {quad.object}")
        else:
            lines.add(str(quad))
    return lines, Counter((graph, frozenset(content)) for (graph, _), content in nodes.items())


def _edit_units(folder: Path, column: str, value: str, rows: int) -> None:
    path = folder / "units.csv"
    with path.open(newline="") as handle:
        table = list(csv.DictReader(handle))
    for record in table[:rows]:
        record[column] = value
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(table)


def _head(store: Store) -> tuple[int, str]:
    row = store.select(
        f"SELECT ?seq ?time WHERE {{ GRAPH <{AUDIT_GRAPH}> {{ ?e <{TL}auditSequence> ?seq ; "
        f"<{TL}recordedAt> ?time }} }} ORDER BY DESC(?seq) LIMIT 1"
    ).rows[0]
    return int(row[0].value), row[1].value  # type: ignore[union-attr]  # bound by the query


def _writes(store: EmbeddedStore, work: Path) -> list:
    """A fixed sequence of every kind of write the embedded store takes, as callables."""
    ingest = REPO / "ingest"
    user, other = f"<{EX}user>", f"<{EX}other>"

    def load(system: str) -> None:
        load_files(store, system, [work / system], ingest_dir=ingest)

    def reload() -> None:  # a snapshot load superseding the MES batch graphs (archived whole)
        _edit_units(work / "mes", "status", "scrapped", rows=2)
        load("mes")

    def delta() -> None:  # retracts restated records from the earlier batch graph (archived statement by statement)
        _edit_units(work / "mes", "status", "shipped", rows=3)
        load_files(store, "mes", [work / "mes"], ingest_dir=ingest, options=LoadOptions(mode="delta"))

    def update(text: str) -> object:
        return lambda: writes.audited_update(store, text, actor="tester", reason="as-of test")

    token: dict[str, str] = {}

    def put(graph: str | None, text: str) -> object:
        from threadline.sparql.graphstore import Target, replace

        return lambda: replace(store, Target(graph), text.encode(), ox.RdfFormat.TURTLE, actor="t", reason="put")

    def make_token() -> None:
        token["id"] = tokens.create_token(store, "engineer", description="Ada", actor="tester")[0]

    return [
        lambda: load("plm"),
        lambda: load("erp"),
        lambda: load("mes"),
        update(
            f'INSERT DATA {{ GRAPH {user} {{ <{EX}a> <{EX}p> "1", "2" . <{EX}b> <{EX}p> _:x . _:x <{EX}q> "bn" }} }}'
        ),
        reload,
        update(f'DELETE DATA {{ GRAPH {user} {{ <{EX}a> <{EX}p> "2" }} }}'),
        delta,
        update(f"COPY GRAPH {user} TO GRAPH {other}"),
        make_token,
        update(f"MOVE GRAPH {user} TO GRAPH <{EX}moved>"),
        lambda: writes.add_to_graph(
            store, EX + "gsp", f'<{EX}s> <{EX}p> "v1" .'.encode(), ox.RdfFormat.TURTLE, actor="t"
        ),
        update(f'INSERT DATA {{ <{EX}d> <{EX}p> "default" }}'),
        lambda: tokens.revoke_token(store, token["id"], actor="tester", reason="left"),
        put(EX + "gsp", f'<{EX}s> <{EX}p> "v2" . <{EX}s> <{EX}q> "kept" .'),
        put(EX + "gsp", f'<{EX}s> <{EX}q> "kept" .'),
        lambda: writes.delete_graph(store, EX + "gsp", actor="t", reason="gone"),
        update(f"DROP GRAPH <{EX}moved>"),
        update(f'DELETE WHERE {{ GRAPH {other} {{ ?s <{EX}p> "1" }} }}'),
        update(f"CLEAR GRAPH {other}"),
        put(None, f'<{EX}d> <{EX}p> "replaced default" .'),
        lambda: load("qms"),
    ]


def _check_every_state(store: EmbeddedStore, kept: dict[int, tuple[str, tuple[set[str], Counter]]]) -> None:
    for sequence, (time, dump) in sorted(kept.items(), reverse=True):
        instant, state = asof.open_state(store, time)
        try:
            assert instant.sequence == sequence
            got = _dump(state)
            assert got[0] == dump[0], (sequence, sorted(got[0] - dump[0])[:5], sorted(dump[0] - got[0])[:5])
            assert got[1] == dump[1], (sequence, got[1] - dump[1], dump[1] - got[1])
        finally:
            state.close()


def test_the_state_at_each_change_is_the_store_as_it_was_then(exports: Path, tmp_path: Path) -> None:
    work = tmp_path / "exports"
    shutil.copytree(exports, work)
    store = EmbeddedStore(tmp_path / "store")
    kept: dict[int, tuple[str, tuple[set[str], Counter]]] = {}
    sequence_of_writes = _writes(store, work)
    for write in sequence_of_writes:
        write()
        sequence, time = _head(store)
        kept[sequence] = (time, _dump(store))
    assert len(kept) == len(sequence_of_writes)

    _check_every_state(store, kept)
    # by change id too, and from the cache
    _, state = asof.open_state(store, str(min(kept)))
    try:
        assert _dump(state) == kept[min(kept)][1]
    finally:
        state.close()
    assert len(asof.collect(store.path, keep=2)) == len(kept) - 2  # type: ignore[arg-type]  # on disk


def test_an_instant_resolves_to_the_last_change_at_or_before_it(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "store")
    times = []
    for n in range(3):
        writes.audited_update(
            store, f"INSERT DATA {{ GRAPH <{EX}u> {{ <{EX}a> <{EX}p> {n} }} }}", actor="a", reason="r"
        )
        times.append(_head(store)[1])
    first = datetime.fromisoformat(times[0].replace("Z", "+00:00"))
    between = (first + (datetime.fromisoformat(times[1].replace("Z", "+00:00")) - first) / 2).isoformat()
    assert asof.resolve(store, between).sequence == 1
    assert asof.resolve(store, times[2]).sequence == 3
    assert asof.resolve(store, "2").sequence == 2
    with pytest.raises(OutOfHistory, match="before the store's history, which starts at") as before:
        asof.resolve(store, (first - timedelta(seconds=1)).isoformat())
    assert before.value.details() == {"field": "asOf", "first": times[0]}
    with pytest.raises(OutOfHistory, match="in the future"):
        asof.resolve(store, (datetime.now(UTC) + timedelta(minutes=5)).isoformat())
    with pytest.raises(OutOfHistory, match="outside the store's history"):
        asof.resolve(store, "9")
    with pytest.raises(OutOfHistory, match="no history"):
        asof.resolve(EmbeddedStore(tmp_path / "empty"), times[0])


def _random_write(rng: random.Random, store: EmbeddedStore, work: Path, graphs: list[str]) -> None:
    """One write drawn at random: SPARQL Update of each kind on a few user graphs and the default graph, Graph
    Store writes, a snapshot reload or a delta load of MES with some records changed, a token made or revoked."""
    from threadline.sparql.graphstore import Target, merge, replace

    g, h = rng.sample(graphs, 2)
    value = f'"{rng.randrange(4)}"'
    subject = f"<{EX}s{rng.randrange(3)}>"
    into = "" if g == "default" else f"GRAPH <{EX}{g}> "
    pattern = f"{{ {into}{{ {subject} <{EX}p> {value} }} }}" if into else f"{{ {subject} <{EX}p> {value} }}"
    target = None if g == "default" else EX + g
    kinds: dict[str, Callable[[], object]] = {
        "insert": lambda: _update(store, f"INSERT DATA {pattern}"),
        "insert-bnode": lambda: _update(
            store, f"INSERT DATA {{ GRAPH <{EX}{h}> {{ {subject} <{EX}q> [ <{EX}r> {value} ] }} }}"
        ),
        "delete": lambda: _update(store, f"DELETE DATA {pattern}"),
        "modify": lambda: _update(
            store,
            f"DELETE {{ GRAPH <{EX}{h}> {{ ?s <{EX}p> ?o }} }} INSERT {{ GRAPH <{EX}{h}> {{ ?s <{EX}p> {value} }} }} "
            f"WHERE {{ GRAPH <{EX}{h}> {{ ?s <{EX}p> ?o }} }}",
        ),
        "copy": lambda: _update(
            store, f"COPY GRAPH <{EX}{h}> TO {'DEFAULT' if target is None else f'GRAPH <{target}>'}"
        ),
        "move": lambda: _update(
            store, f"MOVE GRAPH <{EX}{h}> TO {'DEFAULT' if target is None else f'GRAPH <{target}>'}"
        ),
        "add": lambda: _update(store, f"ADD GRAPH <{EX}{h}> TO {'DEFAULT' if target is None else f'GRAPH <{target}>'}"),
        "clear": lambda: _update(store, f"CLEAR {'DEFAULT' if target is None else f'GRAPH <{target}>'}"),
        "drop": lambda: _update(store, f"DROP SILENT GRAPH <{EX}{h}>"),
        "put": lambda: replace(
            store, Target(target), f"{subject} <{EX}p> {value} .".encode(), ox.RdfFormat.TURTLE, actor="t", reason="put"
        ),
        "post": lambda: merge(
            store, Target(target), f"{subject} <{EX}p> {value} .".encode(), ox.RdfFormat.TURTLE, actor="t"
        ),
        "gsp-delete": lambda: writes.delete_graph(store, EX + h, actor="t", reason="gone"),
        "reload": lambda: _load(store, work, "snapshot", rng),
        "delta": lambda: _load(store, work, "delta", rng),
        "token": lambda: _token(store, rng),
    }
    chosen = rng.choice(sorted(kinds))
    print("write:", chosen, g, h)  # shown when the test fails: the sequence that broke it
    kinds[chosen]()


def _update(store: EmbeddedStore, text: str) -> None:
    writes.audited_update(store, text, actor="tester", reason="random")


def _load(store: EmbeddedStore, work: Path, mode: Literal["snapshot", "delta"], rng: random.Random) -> None:
    _edit_units(work / "mes", "status", rng.choice(["built", "shipped", "scrapped"]), rows=rng.randrange(1, 4))
    load_files(store, "mes", [work / "mes"], ingest_dir=REPO / "ingest", options=LoadOptions(mode=mode))


def _token(store: EmbeddedStore, rng: random.Random) -> None:
    live = [t for t in tokens.list_tokens(store) if not t.revoked]
    if live and rng.random() < 0.5:
        tokens.revoke_token(store, rng.choice(live).token_id, actor="tester", reason="random")
    else:
        tokens.create_token(store, "reader", actor="tester")


@pytest.mark.parametrize("seed", [3, 15])
def test_random_writes_each_state_is_the_store_as_it_was_then(seed: int, exports: Path, tmp_path: Path) -> None:
    rng = random.Random(seed)
    work = tmp_path / "exports"
    shutil.copytree(exports, work)
    store = EmbeddedStore(tmp_path / "store")
    for system in ("plm", "mes"):
        load_files(store, system, [work / system], ingest_dir=REPO / "ingest")
    kept = {_head(store)[0]: (_head(store)[1], _dump(store))}
    graphs = ["g1", "g2", "g3", "default"]
    for _ in range(20):
        with contextlib.suppress(ThreadlineError):  # refused (a graph that is not there): nothing recorded
            _random_write(rng, store, work, graphs)
        sequence, time = _head(store)
        kept.setdefault(sequence, (time, _dump(store)))
    _check_every_state(store, kept)


def test_query_as_of_on_the_command_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from threadline.cli import main
    from threadline.store import open_store

    url = f"oxigraph:{tmp_path / 'store'}"
    store = open_store(url)
    times = []
    for n in range(3):
        writes.audited_update(
            store, f"INSERT DATA {{ GRAPH <{EX}u> {{ <{EX}a> <{EX}p> {n} }} }}", actor="a", reason="r"
        )
        times.append(_head(store))
    store.close()  # the command opens the store itself
    text = f"SELECT ?o WHERE {{ GRAPH <{EX}u> {{ <{EX}a> <{EX}p> ?o }} }} ORDER BY ?o"
    args = ["query", "--sparql", text, "--format", "json", "--store", url]
    then = CliRunner().invoke(main, [*args, "--as-of", times[1][1]])
    assert then.exit_code == 0, then.output
    assert [row["o"] for row in json.loads(then.stdout)["rows"]] == [0, 1]
    assert f"the state after change {times[1][0]}, recorded at {times[1][1]}" in then.stderr
    now = CliRunner().invoke(main, args)
    assert [row["o"] for row in json.loads(now.stdout)["rows"]] == [0, 1, 2]
    by_id = CliRunner().invoke(main, [*args, "--as-of", str(times[0][0])])
    assert [row["o"] for row in json.loads(by_id.stdout)["rows"]] == [0]
    dumped = tmp_path / "then.nq"
    dump = CliRunner().invoke(main, ["dump", "--store", url, "--as-of", times[0][1], "-o", str(dumped)])
    assert dump.exit_code == 0, dump.output
    lines = dumped.read_text().splitlines()
    values = {line.split(" ")[2] for line in lines if line.startswith(f"<{EX}a> <{EX}p> ") and f"<{EX}u> ." in line}
    assert values == {'"0"^^<http://www.w3.org/2001/XMLSchema#integer>'}
    future = CliRunner().invoke(main, [*args, "--as-of", "2999-01-01T00:00:00Z"])
    assert future.exit_code == 2 and "in the future" in future.output
    memory = CliRunner().invoke(main, ["query", "--sparql", text, "--store", "memory:", "--as-of", times[0][1]])
    assert memory.exit_code == 2 and "embedded on-disk store" in memory.output


def test_sparql_as_of_over_http_for_an_admin_and_a_scoped_reader(serve_app: Any, tmp_path: Path) -> None:
    import httpx

    from threadline.config import Settings
    from threadline.web.app import create_app

    store = EmbeddedStore(tmp_path / "store")
    settings = Settings(store=f"oxigraph:{tmp_path / 'store'}", write_token="s3cret", var_dir=tmp_path / "var")
    server = serve_app(create_app(settings, store=store))
    _, scoped = tokens.create_token(store, "reader", scopes=[EX + "g1"], actor="test")
    _, reader = tokens.create_token(store, "reader", actor="test")
    _update(store, f"INSERT DATA {{ GRAPH <{EX}g1> {{ <{EX}a> <{EX}p> 1 }} GRAPH <{EX}g2> {{ <{EX}a> <{EX}p> 2 }} }}")
    then = _head(store)
    _update(store, f"DROP GRAPH <{EX}g1>")
    _update(store, f"INSERT DATA {{ GRAPH <{EX}g2> {{ <{EX}a> <{EX}p> 3 }} }}")

    def ask(token: str, text: str, as_of: str | None = None, header: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/sparql-results+json"}
        headers |= {"X-Threadline-As-Of": header} if header else {}
        params = {"query": text} | ({"asOf": as_of} if as_of else {})
        return httpx.get(server.url + "/sparql", params=params, headers=headers, timeout=60)

    def values(answer: httpx.Response) -> list[str]:
        assert answer.status_code == 200, answer.text
        return sorted(b["o"]["value"] for b in answer.json()["results"]["bindings"])

    data = f"SELECT ?o WHERE {{ <{EX}a> <{EX}p> ?o }}"
    entries = f"SELECT ?o WHERE {{ GRAPH <{AUDIT_GRAPH}> {{ ?e <{TL}auditSequence> ?o }} }}"
    assert values(ask("s3cret", data)) == ["2", "3"]
    at = ask("s3cret", data, as_of=then[1])
    assert values(at) == ["1", "2"]
    assert at.headers["x-threadline-change"] == str(then[0]) and at.headers["x-threadline-as-of"] == then[1]
    assert values(ask("s3cret", data, header=then[1])) == ["1", "2"]
    assert len(values(ask("s3cret", entries, as_of=then[1]))) == then[0], "the audit trail as it was"
    # a scoped reader: its graph existed then, not now (the dataset is cut from the graphs of that time)
    assert values(ask(scoped, data)) == []
    assert values(ask(scoped, data, as_of=then[1])) == ["1"]
    assert values(ask(reader, data, as_of=then[1])) == ["1", "2"]
    assert values(ask(reader, entries, as_of=then[1])) == [], "no audit trail for a reader, then or now"
    for wrong, status in (("2999-01-01T00:00:00Z", 400), ("yesterday", 400), ("1999-01-01T00:00:00Z", 400)):
        refused = ask("s3cret", data, as_of=wrong)
        assert refused.status_code == status, refused.text
        assert refused.json()["field"] == "asOf"
    clash = ask("s3cret", data, as_of=then[1], header="1")
    assert clash.status_code == 400
    named = httpx.get(server.url + "/queries", headers={"Authorization": "Bearer s3cret"}).json()["queries"]
    simple = next(
        q["name"] for q in named if not any(p.get("required") or p["name"] == "asOf" for p in q.get("parameters", []))
    )
    at_named = httpx.get(
        server.url + f"/queries/{simple}", params={"asOf": then[1]}, headers={"Authorization": f"Bearer {reader}"}
    )
    assert at_named.status_code == 200, at_named.text
    assert at_named.json()["asOf"] == {"change": then[0], "time": then[1]} and at_named.json()["source"] == "query"
    future = httpx.get(server.url + f"/queries/{simple}", params={"asOf": "2999-01-01T00:00:00Z"})
    assert future.status_code == 400 and future.json()["field"] == "asOf"
    for change in range(1, then[0] + 3):  # more instants than the cache keeps: the service collects the rest
        assert ask("s3cret", data, as_of=str(change)).status_code == 200
    states = [p for p in asof.cache_root(tmp_path / "store").iterdir() if not p.name.startswith(".")]
    assert asof.KEEP <= len(states) <= asof.KEEP + settings.sparql_workers, states


def test_a_named_query_with_its_own_asof_parameter_keeps_it(serve_app: Any, tmp_path: Path) -> None:
    """capa-aging ages open CAPAs to its ``asOf`` parameter: that stays its parameter; the header asks for history."""
    import httpx

    from threadline.config import Settings
    from threadline.web.app import create_app

    store = EmbeddedStore(tmp_path / "store")
    settings = Settings(store=f"oxigraph:{tmp_path / 'store'}", write_token="s3cret", var_dir=tmp_path / "var")
    server = serve_app(create_app(settings, store=store))
    _update(store, f"INSERT DATA {{ GRAPH <{EX}g> {{ <{EX}a> <{EX}p> 1 }} }}")
    url, admin = server.url + "/queries/capa-aging", {"Authorization": "Bearer s3cret"}
    plain = httpx.get(url, params={"asOf": "1999-01-01T00:00:00Z"}, headers=admin)
    assert plain.status_code == 200 and "asOf" not in plain.json(), plain.text
    then = httpx.get(url, headers=admin | {"X-Threadline-As-Of": _head(store)[1]})
    assert then.status_code == 200 and then.json()["asOf"]["change"] == _head(store)[0], then.text
