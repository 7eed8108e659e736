"""Issue #14's property test over HTTP, and history across a backup and restore.

Random writes — SPARQL Updates and Graph Store writes sent to the real app, snapshot and delta loads beside it —
with the store dumped after each; then, for every commit, ``/sparql`` with ``asOf`` at its time must give that
dump: everything for an admin (the quads of the named graphs by SELECT, every triple by CONSTRUCT), and for a
reader scoped to two graphs the same dump cut to them. Then a backup is taken, the original moves on, and the
store restored from the backup answers every earlier instant as the original does, and as it was then."""

from __future__ import annotations

import csv
import random
import re
import shutil
from collections import Counter
from pathlib import Path
from time import monotonic
from typing import Any

import httpx
import pyoxigraph as ox
import pytest
from click.testing import CliRunner

from tests.shacl_demo import REPO
from tests.test_asof import _head
from threadline.auth import tokens
from threadline.config import Settings
from threadline.history import asof
from threadline.ingest import load_files
from threadline.ingest.loader import LoadOptions
from threadline.namespaces import KPI_GRAPH
from threadline.store import EmbeddedStore
from threadline.web.app import create_app

EX = "http://example.org/"
GRAPHS = [EX + "g1", EX + "g2", EX + "g3"]
SCOPE = GRAPHS[:2]
TOKEN = "s3cret"
QUADS = "SELECT ?g ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } }"
TRIPLES = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"
_BLANK = re.compile(r"_:[A-Za-z0-9]+")

Dump = tuple[Counter[tuple[str, ...]], set[tuple[str, ...]]]


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from threadline.demo import generate

    out = tmp_path_factory.mktemp("asof-http") / "exports"
    generate(out, units=25, seed=5)
    return out


def _term(term: Any) -> str:
    """A term as N-Triples, blank node labels blanked: the server may show other labels than the store's own,
    and archived reified statements of equal content are interchangeable (``tests/test_asof.py``)."""
    return _BLANK.sub("_:b", str(term))


def _dumps(store: EmbeddedStore) -> tuple[Dump, Dump]:
    """What an admin and what the scoped reader may read: (quads of the named graphs, triples of every graph),
    KPI summary aside, as N-Triples terms (quads counted)."""
    return _dump(store), _dump(store, SCOPE)


def _dump(store: EmbeddedStore, graphs: list[str] | None = None) -> Dump:
    """The store's quads, only those of ``graphs`` when given (a scoped reader's dataset)."""
    quads: Counter[tuple[str, ...]] = Counter()
    triples: set[tuple[str, ...]] = set()
    for quad in store.native:
        graph = quad.graph_name
        name = graph.value if isinstance(graph, ox.NamedNode) else None
        if name == KPI_GRAPH or (graphs is not None and name not in graphs):
            continue
        triple = (_term(quad.subject), _term(quad.predicate), _term(quad.object))
        triples.add((str(quad.subject), str(quad.predicate), str(quad.object)))
        if name is not None:
            quads[(f"<{name}>", *triple)] += 1
    return quads, {tuple(_BLANK.sub("_:b", t) for t in triple) for triple in triples}


def _answers(url: str, token: str, instant: str) -> Dump:
    headers = {"Authorization": f"Bearer {token}"}
    selected = httpx.get(
        url + "/sparql",
        params={"query": QUADS, "asOf": instant},
        headers=headers | {"Accept": "application/sparql-results+json"},
        timeout=120,
    )
    assert selected.status_code == 200, selected.text
    quads: Counter[tuple[str, ...]] = Counter()
    for row in selected.json()["results"]["bindings"]:
        quads[tuple(_json_term(row[v]) for v in ("g", "s", "p", "o"))] += 1
    built = httpx.post(
        url + "/sparql",
        data={"query": TRIPLES},
        headers=headers | {"Accept": "application/n-triples", "X-Threadline-As-Of": instant},
        timeout=120,
    )
    assert built.status_code == 200, built.text
    assert built.headers["x-threadline-as-of"] and built.headers["x-threadline-change"]
    triples = {
        tuple(_term(t) for t in (q.subject, q.predicate, q.object))
        for q in ox.parse(built.content, format=ox.RdfFormat.N_TRIPLES)
    }
    return quads, triples


def _json_term(cell: dict[str, Any]) -> str:
    kind, value = cell["type"], cell["value"]
    if kind == "uri":
        return str(ox.NamedNode(value))
    if kind == "bnode":
        return "_:b"
    if "xml:lang" in cell:
        return str(ox.Literal(value, language=cell["xml:lang"]))
    if "datatype" in cell:
        return str(ox.Literal(value, datatype=ox.NamedNode(cell["datatype"])))
    return str(ox.Literal(value))


def _write(rng: random.Random, url: str, store: EmbeddedStore, work: Path, kind: str | None = None) -> str:
    """One random write (or one of ``kind``), sent to the app (SPARQL Update, Graph Store) or beside it (a delta
    load; a snapshot reload is left to ``tests/test_asof.py``: its archive of the whole batch would make every
    admin answer here ten times larger)."""
    g, h = rng.sample(GRAPHS, 2)
    value, subject = f'"{rng.randrange(4)}"', f"<{EX}s{rng.randrange(3)}>"
    admin = {"Authorization": f"Bearer {TOKEN}", "X-Threadline-Reason": "property test"}
    updates = {
        "insert": f"INSERT DATA {{ GRAPH <{g}> {{ {subject} <{EX}p> {value} }} }}",
        "insert-bnode": f"INSERT DATA {{ GRAPH <{h}> {{ {subject} <{EX}q> [ <{EX}r> {value} ] }} }}",
        "delete": f"DELETE DATA {{ GRAPH <{g}> {{ {subject} <{EX}p> {value} }} }}",
        "modify": f"DELETE {{ GRAPH <{h}> {{ ?s <{EX}p> ?o }} }} INSERT {{ GRAPH <{h}> {{ ?s <{EX}p> {value} }} }} "
        f"WHERE {{ GRAPH <{h}> {{ ?s <{EX}p> ?o }} }}",
        "copy": f"COPY SILENT GRAPH <{h}> TO GRAPH <{g}>",
        "move": f"MOVE SILENT GRAPH <{h}> TO GRAPH <{g}>",
        "add": f"ADD SILENT GRAPH <{h}> TO GRAPH <{g}>",
        "clear": f"CLEAR SILENT GRAPH <{g}>",
    }
    kind = kind or rng.choice([*updates, "put", "post", "gsp-delete"])
    if kind in updates:
        answer = httpx.post(url + "/sparql", data={"update": updates[kind]}, headers=admin, timeout=120)
    elif kind in ("put", "post"):
        body = f"{subject} <{EX}p> {value} .".encode()
        send = httpx.put if kind == "put" else httpx.post
        answer = send(
            url + "/store", params={"graph": g}, content=body, headers=admin | {"Content-Type": "text/turtle"}
        )
    elif kind == "gsp-delete":
        answer = httpx.delete(url + "/store", params={"graph": h}, headers=admin)
    else:  # a delta export holds the changed records only (as the demo's daily deltas do)
        folder = _delta(work, rng)
        load_files(store, "mes", [folder], ingest_dir=REPO / "ingest", options=LoadOptions(mode="delta"))
        return kind
    assert answer.status_code < 500, answer.text  # a DELETE of a graph that is not there: 404, nothing recorded
    return kind


def _delta(work: Path, rng: random.Random) -> Path:
    """A MES delta export: a few unit records of the base export with another status."""
    with (work / "mes" / "units.csv").open(newline="") as handle:
        table = list(csv.DictReader(handle))
    changed = rng.sample(table, rng.randrange(1, 4))
    for record in changed:
        record["status"] = "scrapped" if record["status"] != "scrapped" else "shipped"
    folder = work / f"delta-{rng.randrange(10**6)}"
    folder.mkdir()
    with (folder / "units.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(changed)
    return folder


def test_random_writes_over_http_then_sparql_as_of_each_commit(serve_app: Any, exports: Path, tmp_path: Path) -> None:
    rng = random.Random(14)
    work = tmp_path / "exports"
    shutil.copytree(exports, work)
    store = EmbeddedStore(tmp_path / "store")
    settings = Settings(
        store=f"oxigraph:{tmp_path / 'store'}",
        write_token=TOKEN,
        var_dir=tmp_path / "var",
        sparql_max_rows=10**7,
        kpi_summaries=False,  # not history: a background refresh after each load would only slow the test
    )
    server = serve_app(create_app(settings, store=store))
    _, scoped = tokens.create_token(store, "reader", scopes=SCOPE, actor="test")
    load_files(store, "mes", [work / "mes"], ingest_dir=REPO / "ingest")
    kept: dict[int, tuple[str, Dump, Dump]] = {}
    for step in range(10):
        started = monotonic()
        kind = _write(rng, server.url, store, work, "delta" if step == 5 else None)
        sequence, time = _head(store)
        kept.setdefault(sequence, (time, *_dumps(store)))
        print(f"write: {kind} ({monotonic() - started:.1f} s)")  # shown when the test fails
    assert len(kept) >= 8, "most writes change something"

    for sequence, (time, everything, cut) in sorted(kept.items(), reverse=True):  # a state is built from a later one
        assert _answers(server.url, TOKEN, time) == everything, f"admin, as of change {sequence}"
        assert _answers(server.url, scoped, time) == cut, f"scoped reader, as of change {sequence}"


def test_history_survives_backup_and_restore(tmp_path: Path) -> None:
    from threadline.audit import writes
    from threadline.cli import main
    from threadline.store import open_store

    url = f"oxigraph:{tmp_path / 'store'}"
    store = open_store(url)
    kept: dict[int, tuple[str, Dump]] = {}

    def update(text: str) -> None:
        writes.audited_update(store, text, actor="tester", reason="backup test")
        sequence, time = _head(store)
        kept[sequence] = (time, _dump(store))  # type: ignore[arg-type]  # an EmbeddedStore

    update(f'INSERT DATA {{ GRAPH <{EX}g1> {{ <{EX}a> <{EX}p> "1", "2" . <{EX}b> <{EX}q> [ <{EX}r> "bn" ] }} }}')
    update(f'DELETE DATA {{ GRAPH <{EX}g1> {{ <{EX}a> <{EX}p> "2" }} }}')
    update(f"COPY GRAPH <{EX}g1> TO GRAPH <{EX}g2>")
    update(f"DROP GRAPH <{EX}g1>")
    before = dict(kept)
    store.close()  # the commands open the store themselves
    backup = tmp_path / "backups"
    made = CliRunner().invoke(main, ["backup", "--store", url, "--to", str(backup)])
    assert made.exit_code == 0, made.output
    store = open_store(url)
    update(f'INSERT DATA {{ GRAPH <{EX}g2> {{ <{EX}a> <{EX}p> "after" }} }}')
    update(f"CLEAR GRAPH <{EX}g2>")
    store.close()

    (checkpoint,) = [p for p in backup.iterdir() if p.is_dir()]
    restored_path = tmp_path / "restored"
    done = CliRunner().invoke(main, ["restore", str(checkpoint), "--store", str(restored_path)])
    assert done.exit_code == 0, done.output
    original, restored = EmbeddedStore(tmp_path / "store"), EmbeddedStore(restored_path)
    try:
        for sequence, (time, dump) in sorted(before.items()):
            for which, source in (("original", original), ("restored", restored)):
                instant, state = asof.open_state(source, time)
                try:
                    assert instant.sequence == sequence
                    assert _dump(state) == dump, f"{which}, as of change {sequence}"  # type: ignore[arg-type]
                finally:
                    state.close()
        with pytest.raises(asof.OutOfHistory):  # what came after the backup is not the restored store's
            asof.resolve(restored, str(max(kept)))
    finally:
        original.close()
        restored.close()
    text = f"SELECT ?o WHERE {{ GRAPH <{EX}g1> {{ <{EX}a> <{EX}p> ?o }} }} ORDER BY ?o"
    first = min(before)
    answer = CliRunner().invoke(
        main, ["query", "--sparql", text, "--format", "csv", "--store", str(restored_path), "--as-of", before[first][0]]
    )
    assert answer.exit_code == 0, answer.output
    assert answer.stdout.split() == ["o", "1", "2"]
