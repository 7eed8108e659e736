"""The W3C SPARQL 1.1 query and update evaluation suites, replayed through /sparql over HTTP.

Each test's data goes in through the Graph Store Protocol (``PUT /store?graph=`` / ``?default``, as N-Triples
parsed on the client with the file's IRI as base, since the files use relative IRIs), its query or update goes
through /sparql on the real app over HTTP, and the answer is compared with pyoxigraph evaluating the same text
on the same data in-process, with SPARQL's standard dataset (``qt:data`` in the default graph, ``qt:graphData``
as named graphs). SELECT answers are compared in JSON, XML, CSV and TSV, ASK in JSON and XML, CONSTRUCT in
N-Triples and Turtle; an update is compared by the graphs it leaves. A text pyoxigraph refuses must be a 400.

Query tests name their dataset with the protocol (``default-graph-uri`` = the ``qt:data`` graphs,
``named-graph-uri`` = the ``qt:graphData`` graphs), except those whose query has its own FROM / FROM NAMED
(``construct/constructwhere04``): there the query's clause must apply (SPARQL 1.1 Protocol §2.1.4). Data files
are loaded once per app and shared by every test naming them. Every case runs on the in-memory store; the
``ON_DISK`` handful (marked ``e2e``) also on the on-disk store (worker processes), or on `oxigraph serve` when
THREADLINE_TEST_STORE=remote. Queries are sent as an anonymous reader, so the limited view of a non-admin
(audit graphs exist once data is written) is what is exercised; a decoy graph (and, on embedded stores, decoy
data in the stored default graph) would show in any answer computed on the wrong dataset.

Not replayed, by name (``SKIPS``, and every ``service/`` test): SERVICE and LOAD are refused at /sparql (checked
in ``tests/test_sparql_safety.py``); tests whose files are absent from this copy of the suite would be skipped
with that reason (none are: each folder's manifest lists only the tests present).
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pyoxigraph as ox
import pytest
from rdflib import Graph, Namespace
from rdflib.collection import Collection
from rdflib.compare import isomorphic

from tests.conftest import LiveServer, conformance_dir
from threadline.config import Settings
from threadline.namespaces import system_role
from threadline.sparql import dataset as datasets
from threadline.store import RemoteStore, open_store
from threadline.web.app import create_app

SUITE = "w3c-sparql11-query"
REMOTE = os.environ.get("THREADLINE_TEST_STORE") == "remote"
MANIFESTS = (
    "manifest-sparql11-query.ttl",
    "manifest-sparql11-results.ttl",
    "manifest-sparql11-update.ttl",
    "manifest-sparql11-fed.ttl",
)
MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
QT = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-query#")
UT = Namespace("http://www.w3.org/2009/sparql/tests/test-update#")
RDFS = Namespace("http://www.w3.org/2000/01/rdf-schema#")
QUERY_TYPES = {MF.QueryEvaluationTest, MF.CSVResultFormatTest}
TOKEN = "w3c-replay-admin"
ADMIN = {"Authorization": f"Bearer {TOKEN}", "X-Threadline-Reason": "W3C replay"}
EMPTY = "urn:w3c-replay:no-graph"  # names no graph: an empty default graph
DECOY = "urn:w3c-replay:decoy"
DECOY_DATA = b'<http://example.org/decoy> <http://example.org/p> "no test names this graph" .\n'
ON_DISK = {
    "construct/constructwhere04",
    "aggregates/agg-groupconcat-02",
    "property-path/pp06",
    "functions/bnode01",
    "csv-tsv-res/csv01",
    "basic-update/insert-data-spo1",
}
_LOAD = "LOAD is refused at /sparql (it would make the server fetch URLs; see tests/test_sparql_safety.py)"
SKIPS: dict[str, str] = {  # name -> reason, for cases that exist but are not replayed
    "update-silent/load-silent": _LOAD,
    "update-silent/load-into-silent": _LOAD,
}
SELECT_FORMATS = {
    "application/sparql-results+json": ox.QueryResultsFormat.JSON,
    "application/sparql-results+xml": ox.QueryResultsFormat.XML,
    "text/tab-separated-values": ox.QueryResultsFormat.TSV,
    "text/csv": None,  # CSV drops types: compared as text with pyoxigraph's own CSV
}
GRAPH_FORMATS = {"application/n-triples": "nt", "text/turtle": "turtle"}


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # "query" or "update"
    text_file: Path
    data: tuple[Path, ...] = ()  # default graph
    graph_data: tuple[tuple[Path, str], ...] = ()  # (file, graph IRI)
    result_data: tuple[Path, ...] = ()
    result_graph_data: tuple[tuple[Path, str], ...] = field(default=())

    @property
    def text(self) -> str:
        return f"BASE <{self.text_file.as_uri()}>\n" + self.text_file.read_text(encoding="utf-8")


def _path(node: Any) -> Path:
    return Path(str(node).removeprefix("file://"))


def _manifest(path: Path) -> Graph:
    return Graph().parse(path, format="turtle", publicID=path.as_uri())


def _graph_data(graph: Graph, node: Any, predicate: Any) -> tuple[tuple[Path, str], ...]:
    out = []
    for entry in graph.objects(node, predicate):
        if (entry, UT.graph, None) in graph:  # update tests: [ ut:graph <file> ; rdfs:label "iri" ]
            out.append((_path(graph.value(entry, UT.graph)), str(graph.value(entry, RDFS.label))))
        else:
            out.append((_path(entry), _path(entry).as_uri()))
    return tuple(sorted(out))


def _case(graph: Graph, test: Any, folder: str) -> tuple[Case | None, str | None]:
    """The case, or (None, reason) when it cannot be replayed."""
    name = f"{folder}/{str(test).rsplit('#', 1)[-1]}"
    kinds = set(graph.objects(test, RDF_TYPE))
    action = graph.value(test, MF.action)
    if kinds & QUERY_TYPES:
        if folder == "service" or (action, QT.serviceData, None) in graph:
            return None, "SERVICE is refused at /sparql (federation would make the server fetch URLs)"
        case = Case(
            name,
            "query",
            _path(graph.value(action, QT.query)),
            tuple(sorted(_path(d) for d in graph.objects(action, QT.data))),
            _graph_data(graph, action, QT.graphData),
        )
    elif MF.UpdateEvaluationTest in kinds:
        result = graph.value(test, MF.result)
        case = Case(
            name,
            "update",
            _path(graph.value(action, UT.request)),
            tuple(sorted(_path(d) for d in graph.objects(action, UT.data))),
            _graph_data(graph, action, UT.graphData),
            tuple(sorted(_path(d) for d in graph.objects(result, UT.data))),
            _graph_data(graph, result, UT.graphData),
        )
    else:
        return None, None  # syntax tests: not evaluation tests
    files = [case.text_file, *case.data, *(f for f, _ in case.graph_data), *case.result_data]
    files += [f for f, _ in case.result_graph_data]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        return None, f"{', '.join(missing)} absent from this copy of the suite"
    return case, None


RDF_TYPE = Namespace("http://www.w3.org/1999/02/22-rdf-syntax-ns#").type


def _cases() -> list[Any]:
    root = conformance_dir() / SUITE
    if not root.is_dir():
        return [pytest.param(None, "memory", id="suite-missing")]
    params = []
    for top in MANIFESTS:
        manifest = _manifest(root / top)
        for includes in manifest.objects(None, MF.include):
            for include in Collection(manifest, includes):
                path = _path(include)
                if not path.is_file():
                    continue  # the top-level manifests name folders this copy does not hold
                graph = _manifest(path)
                for entries in graph.objects(None, MF.entries):
                    for test in Collection(graph, entries):
                        case, reason = _case(graph, test, path.parent.name)
                        name = f"{path.parent.name}/{str(test).rsplit('#', 1)[-1]}"
                        reason = SKIPS.get(name, reason)
                        if case is None and reason is None:
                            continue
                        marks = [pytest.mark.skip(reason=reason)] if reason else []
                        params.append(pytest.param(case, "memory", id=f"memory-{name}", marks=marks))
                        if name in ON_DISK:  # the end-to-end handful, rerun on `oxigraph serve` by .ci/run
                            kind = "remote" if REMOTE else "disk"
                            e2e = [*marks, pytest.mark.e2e]
                            params.append(pytest.param(case, kind, id=f"{kind}-{name}", marks=e2e))
    return params


# -- the app under test -----------------------------------------------------------------------------------


class Server:
    """One app on one store; remembers which data files it already holds."""

    def __init__(self, url: str) -> None:
        self.store = open_store(url)
        self.remote = isinstance(self.store, RemoteStore)
        if self.remote:
            self.store.update("CLEAR ALL")  # the session's shared `oxigraph serve`
        settings = Settings(write_token=TOKEN, store=url, sparql_timeout=30.0)
        app = create_app(settings, store=self.store)
        self.live = LiveServer(app)
        self.client = httpx.Client(base_url=self.live.url, timeout=60)
        self.loaded: set[str] = set()

    def add_decoys(self) -> None:
        """Data no query test names, in a named graph and in the stored default graph: a query that ran on
        anything but the dataset it names (the union, say, ignoring its FROM) would see it."""
        # a remote store refuses data for its default graph (see threadline.sparql.graphstore)
        for params in ({"graph": DECOY},) if self.remote else ({"graph": DECOY}, {"default": ""}):
            response = self.client.put("/store", params=params, content=DECOY_DATA, headers=_NT | ADMIN)
            assert response.status_code in (201, 204), response.text

    def put(self, path: Path, graph: str | None) -> None:
        params = {"graph": graph} if graph else {"default": ""}
        response = self.client.put("/store", params=params, content=_ntriples(path), headers=_NT | ADMIN)
        assert response.status_code in (201, 204), f"PUT {path.name} -> {response.status_code} {response.text}"

    def ensure(self, path: Path) -> None:
        if path.as_uri() not in self.loaded:
            self.put(path, path.as_uri())
            self.loaded.add(path.as_uri())

    def close(self) -> None:
        self.client.close()
        self.live.stop()
        self.store.close()


_NT = {"Content-Type": "application/n-triples"}


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[dict[str, Server]]:
    made: dict[str, Server] = {}

    class Lazy(dict):  # type: ignore[type-arg]
        def __missing__(self, kind: str) -> Server:
            if kind.startswith("remote"):
                for other in [k for k in made if k.startswith("remote")]:  # one app on the shared server at once
                    made.pop(other).close()
                url = request.getfixturevalue("oxigraph_server").url
            elif kind.startswith("memory"):
                url = "memory:"
            else:
                url = str(tmp_path_factory.mktemp("w3c-replay") / "store")
            made[kind] = self[kind] = Server(url)
            if not kind.endswith("update"):
                made[kind].add_decoys()
            return made[kind]

    yield Lazy()
    for server in made.values():
        server.close()


# -- pyoxigraph in-process: the reference ------------------------------------------------------------------


def _format(path: Path) -> ox.RdfFormat:
    return {".rdf": ox.RdfFormat.RDF_XML, ".nt": ox.RdfFormat.N_TRIPLES}.get(path.suffix, ox.RdfFormat.TURTLE)


def _ntriples(path: Path) -> bytes:
    triples = [q.triple for q in ox.parse(path=str(path), format=_format(path), base_iri=path.as_uri())]
    return ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b""


def _reference(data: tuple[Path, ...], graph_data: tuple[tuple[Path, str], ...]) -> ox.Store:
    store = ox.Store()
    for path in data:
        store.load(path=str(path), format=_format(path), base_iri=path.as_uri())
    for path, name in graph_data:
        store.load(path=str(path), format=_format(path), base_iri=path.as_uri(), to_graph=ox.NamedNode(name))
    return store


# -- comparing answers -------------------------------------------------------------------------------------


def _row_key(values: list[str]) -> tuple[str, ...]:
    """A row with blank node labels dropped: labels differ between answers, only their places must match."""
    return tuple("_:" if v.startswith("_:") else v for v in values)


def _terms(solutions: Any) -> tuple[list[str], Counter[tuple[str, ...]]]:
    names = [v.value for v in solutions.variables]
    rows = Counter(_row_key(["" if s[i] is None else str(s[i]) for i in range(len(names))]) for s in solutions)
    return names, rows


def _csv(body: bytes) -> tuple[list[str], Counter[tuple[str, ...]]]:
    """Header and rows; pyoxigraph writes a row whose one value is unbound as an empty line, we as ``""``."""
    reader = list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))
    width = len(reader[0])
    return reader[0], Counter(_row_key(row + [""] * (width - len(row))) for row in reader[1:])


def _graph(body: bytes, fmt: str) -> Graph:
    return Graph().parse(data=body.decode("utf-8"), format=fmt)


def _http_query(server: Server, case: Case, accept: str) -> httpx.Response:
    text = case.text
    form: dict[str, Any] = {"query": text}
    if datasets.clause(text) is None:  # else the query's own FROM / FROM NAMED must apply
        form["default-graph-uri"] = [p.as_uri() for p in case.data] or [EMPTY]
        form["named-graph-uri"] = [name for _, name in case.graph_data]
    return server.client.post("/sparql", data=form, headers={"Accept": accept})


@dataclass
class Expected:
    """pyoxigraph's answer as plain Python values: no pyoxigraph result object may be alive while the test makes
    HTTP calls to the server in this process. pyoxigraph results are bound to the thread that made them; one
    kept alive by a frame in a reference cycle is collected by whichever thread runs the cyclic GC next — often
    a server thread — where pyo3 refuses to drop it. The resulting "unraisable" warning makes pytest keep that
    server thread's frames, whose memory-store iterators then never drop either, and every later write to the
    in-memory store waits for their locks for ever (CI: nine replay tests timed out behind one such write)."""

    boolean: bool | None = None
    solutions: tuple[list[str], Counter[tuple[str, ...]]] | None = None
    csv: tuple[list[str], Counter[tuple[str, ...]]] | None = None
    graph: bytes | None = None
    refused: str | None = None


def _expected(case: Case) -> Expected:
    reference = _reference(case.data, case.graph_data)
    try:
        result = reference.query(case.text)
        if isinstance(result, ox.QueryBoolean):
            return Expected(boolean=bool(result))
        if isinstance(result, ox.QuerySolutions):
            solutions = _terms(result)
            again = reference.query(case.text)
            assert isinstance(again, ox.QuerySolutions)
            return Expected(solutions=solutions, csv=_csv(again.serialize(format=ox.QueryResultsFormat.CSV) or b""))
        return Expected(graph=ox.serialize(list(result), format=ox.RdfFormat.N_TRIPLES) or b"")
    except (SyntaxError, ValueError, RuntimeError, OSError) as exc:
        return Expected(refused=str(exc))
    finally:
        result = again = None  # dropped here, on this thread, before any frame can keep them


def _replay_query(server: Server, case: Case) -> None:
    for path in case.data:
        server.ensure(path)
    for path, _ in case.graph_data:
        server.ensure(path)
    expected = _expected(case)
    if expected.refused is not None:
        response = _http_query(server, case, "application/sparql-results+json")
        status = response.status_code
        assert status == 400, f"pyoxigraph refused it ({expected.refused}); over HTTP: {status}"
        return
    if expected.boolean is not None:
        for accept in ("application/sparql-results+json", "application/sparql-results+xml"):
            response = _ok(_http_query(server, case, accept), accept)
            assert bool(ox.parse_query_results(response.content, SELECT_FORMATS[accept])) == expected.boolean, accept
    elif expected.solutions is not None:
        for accept, fmt in SELECT_FORMATS.items():
            response = _ok(_http_query(server, case, accept), accept)
            if fmt is None:
                assert _csv(response.content) == expected.csv, accept
            else:
                assert _terms(ox.parse_query_results(response.content, fmt)) == expected.solutions, accept
    else:
        want = _graph(expected.graph or b"", "nt")
        for accept, fmt in GRAPH_FORMATS.items():
            response = _ok(_http_query(server, case, accept), accept)
            got = _graph(response.content, fmt)
            assert len(got) == len(want) and isomorphic(got, want), f"{accept}: {response.text[:2000]}"


def _ok(response: httpx.Response, accept: str) -> httpx.Response:
    assert response.status_code == 200, f"{accept}: {response.status_code} {response.text[:500]}"
    assert response.headers["content-type"].split(";")[0] == accept
    return response


# -- updates -----------------------------------------------------------------------------------------------


def _data_graphs(server: Server) -> list[str]:
    response = server.client.post(
        "/sparql", data={"query": "SELECT DISTINCT ?g WHERE { GRAPH ?g { } }"}, headers={"Accept": "text/csv"} | ADMIN
    )
    assert response.status_code == 200, response.text
    names = [row[0] for row in csv.reader(io.StringIO(response.text))][1:]
    return sorted(g for g in names if system_role(g) is None and not g.startswith("urn:threadline:"))


def _read(server: Server, graph: str | None) -> Graph:
    params = {"graph": graph} if graph else {"default": ""}
    response = server.client.get("/store", params=params, headers={"Accept": "application/n-triples"} | ADMIN)
    assert response.status_code == 200, response.text
    return _graph(response.content, "nt")


def _ref_graph(store: ox.Store, graph: ox.NamedNode | ox.DefaultGraph) -> Graph:
    triples = [q.triple for q in store.quads_for_pattern(None, None, None, graph)]
    return _graph(ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b"", "nt")


def _replay_update(server: Server, case: Case) -> None:
    for graph in _data_graphs(server):  # a clean dataset: drop what the previous case left
        response = server.client.delete("/store", params={"graph": graph}, headers=ADMIN)
        assert response.status_code == 204, response.text
    assert server.client.delete("/store", params={"default": ""}, headers=ADMIN).status_code == 204
    for path in case.data:
        server.put(path, None)
    for path, name in case.graph_data:
        server.put(path, name)
    reference = _reference(case.data, case.graph_data)
    response = server.client.post("/sparql", data={"update": case.text}, headers=ADMIN)
    try:
        reference.update(case.text)
    except (SyntaxError, ValueError, RuntimeError, OSError) as exc:
        assert response.status_code == 400, f"pyoxigraph refused it ({exc}); over HTTP: {response.status_code}"
        return
    assert response.status_code == 204, response.text
    want_graphs = sorted(
        g.value for g in reference.named_graphs() if any(reference.quads_for_pattern(None, None, None, g))
    )
    got_graphs = [g for g in _data_graphs(server) if len(_read(server, g))]
    assert got_graphs == want_graphs
    assert isomorphic(_read(server, None), _ref_graph(reference, ox.DefaultGraph())), "default graph"
    for name in want_graphs:
        assert isomorphic(_read(server, name), _ref_graph(reference, ox.NamedNode(name))), name


@pytest.mark.parametrize(("case", "kind"), _cases())
def test_w3c_evaluation(case: Case | None, kind: str, servers: dict[str, Server]) -> None:
    if case is None:
        pytest.skip(f"conformance set {SUITE!r} not found under {conformance_dir()} (set THREADLINE_CONFORMANCE_DIR)")
    if case.kind == "query":
        _replay_query(servers[kind], case)
    else:
        _replay_update(servers[f"{kind}-update"], case)


def test_the_replay_covers_the_suite() -> None:
    """The data-driven list must not silently shrink: every evaluation test is a case or a named skip."""
    if not (conformance_dir() / SUITE).is_dir():
        pytest.skip("suite missing")
    params = _cases()
    names = {re.sub(r"^(memory|disk|remote)-", "", p.id) for p in params}
    assert "construct/constructwhere04" in names and len(names) > 250
    run = {re.sub(r"^(memory|disk|remote)-", "", p.id) for p in params if not p.marks}
    assert "construct/constructwhere04" in run and len(run) > 230
    assert run >= ON_DISK
    assert {n for n in names - run if n.startswith("service/")} == {n for n in names if n.startswith("service/")}
