"""The role x graph leak matrix (issue 7): every token, every read path, every way of naming a graph; 0 leaks.

Two sources' data (ERP and PLM exports of the demo plant) are loaded through the real loader, so they land in
the loader's batch graphs ``graph/batch/erp/…`` and ``graph/batch/plm/…``; a token scoped to one source
stands for a supplier's integration that must not see the other's data. Tokens are made for every role,
unscoped and scoped, so the security graph (token hashes) and the audit graph exist as they do in a plant.

A *leak* is any term in an answer that occurs only in graphs the token may not read (``Principal.may_read_graph``;
the stored default graph counts as readable for unscoped tokens only, as at ``/store?default``). Markers are
computed from the store itself, so the check needs no hand-kept expectations; the admin's answers to the same
attempts must contain other tokens' forbidden terms, which shows that each attempt can reach those graphs and
that the detector can fire.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pyoxigraph as ox
import pytest

from tests.conftest import LiveServer
from threadline.audit import AUDIT_GRAPH
from threadline.auth import SECURITY_GRAPH, Principal, authenticate, create_token
from threadline.config import Settings
from threadline.demo import generate
from threadline.ingest import load_files
from threadline.namespaces import BATCH_GRAPH_PREFIX, PROVENANCE_GRAPH, TL
from threadline.store import EmbeddedStore, open_store
from threadline.web.app import create_app

REPO = Path(__file__).resolve().parents[1]
ERP = BATCH_GRAPH_PREFIX + "erp/"
PLM = BATCH_GRAPH_PREFIX + "plm/"
BOOTSTRAP = "matrix-bootstrap-admin"
DEFAULT = ""  # the stored default graph, as a key of the marker table
DEFAULT_SERIAL = "DEFAULT-GRAPH-SN-0001"
EITHER = "{ ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } }"
_NUMERIC = re.compile(r"^[-+0-9.eE:TZ]*$")

# (name, role, scopes)
TOKENS: list[tuple[str, str, tuple[str, ...]]] = [
    ("reader", "reader", ()),
    ("engineer", "engineer", ()),
    ("compliance", "compliance", ()),
    ("integrator", "integrator", ()),
    ("admin", "admin", ()),
    ("reader@erp", "reader", (ERP + "*",)),
    ("reader@plm", "reader", (PLM + "*",)),
    ("integrator@erp", "integrator", (ERP + "*",)),
    ("compliance@plm", "compliance", (PLM + "*",)),
    ("reader@nothing", "reader", ("https://example.org/no-such-graph/*",)),
]


@dataclass
class Token:
    name: str
    secret: str
    principal: Principal
    forbidden: set[str] = field(default_factory=set)
    readable: set[str] = field(default_factory=set)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"}

    def may_read(self, graph: str) -> bool:
        return not self.principal.scopes if graph == DEFAULT else self.principal.may_read_graph(graph)


@dataclass
class Service:
    url: str
    store: EmbeddedStore
    tokens: dict[str, Token]
    graphs: list[str]
    targets: list[str]  # graphs the attempts name explicitly
    probes: dict[str, str]  # kind -> an IRI exclusive to one graph (for GraphQL node(id:))
    serials: dict[str, str]  # kind -> an identifier exclusive to one graph


def _markers(store: EmbeddedStore) -> dict[str, set[str]]:
    """Per graph: its IRI and the IRIs and distinctive literals it holds."""
    table: dict[str, set[str]] = {}
    for quad in store.native.quads_for_pattern(None, None, None, None):
        key = DEFAULT if isinstance(quad.graph_name, ox.DefaultGraph) else quad.graph_name.value
        terms = table.setdefault(key, {key} if key else set())
        for term in (quad.subject, quad.predicate, quad.object):
            if isinstance(term, ox.NamedNode) or (
                isinstance(term, ox.Literal) and len(term.value) >= 6 and not _NUMERIC.match(term.value)
            ):
                terms.add(term.value)
    return table


def _first(graphs: list[str], prefix: str) -> str:
    return next(g for g in graphs if g.startswith(prefix))


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    tmp = tmp_path_factory.mktemp("matrix")
    generate(tmp / "demo", units=50, seed=42)
    store = open_store(str(tmp / "store"))
    assert isinstance(store, EmbeddedStore)
    for system in ("erp", "plm"):
        load_files(store, system, [tmp / "demo" / system], ingest_dir=REPO / "ingest")
    # something in the stored default graph (as a /store?default write would leave it), shaped like a unit
    store.update(
        f'INSERT DATA {{ <urn:x:default-unit> a <{TL}SerializedUnit> ; <{TL}serialNumber> "{DEFAULT_SERIAL}" }}'
    )
    secrets = {
        name: create_token(store, role, scopes=list(scopes), description=name, actor="matrix")[1]
        for name, role, scopes in TOKENS
    }
    table = _markers(store)
    graphs = sorted(g for g in table if g)
    tokens: dict[str, Token] = {}
    for name, secret in secrets.items():
        principal = authenticate(store, secret, ttl=0)
        assert principal is not None
        token = Token(name, secret, principal)
        for graph, terms in table.items():
            (token.readable if token.may_read(graph) else token.forbidden).update(terms)
        token.forbidden -= token.readable
        tokens[name] = token
    erp, plm = _first(graphs, ERP), _first(graphs, PLM)
    targets = [erp, plm, SECURITY_GRAPH, AUDIT_GRAPH, PROVENANCE_GRAPH]
    lots = store.select(
        f"SELECT ?s ?n WHERE {{ GRAPH ?g {{ ?s <{TL}lotNumber> ?n }} FILTER(STRSTARTS(STR(?g), '{ERP}')) }} LIMIT 1"
    )
    parts = store.select(
        f"SELECT ?s ?n WHERE {{ GRAPH ?g {{ ?s <{TL}partNumber> ?n }} FILTER(STRSTARTS(STR(?g), '{PLM}')) }} LIMIT 1"
    )
    token_iri = next(t for t in table[SECURITY_GRAPH] if t.startswith("https://w3id.org/threadline/id/token/"))
    probes = {
        "lot": lots.rows[0][0].value,  # type: ignore[union-attr]
        "part": parts.rows[0][0].value,  # type: ignore[union-attr]
        "token": token_iri,
        "audit": "https://w3id.org/threadline/id/audit/1",
        "default": "urn:x:default-unit",
    }
    serials = {"lot": lots.rows[0][1].value, "part": parts.rows[0][1].value}  # type: ignore[union-attr]
    settings = Settings(store=str(tmp / "store"), write_token=BOOTSTRAP, sparql_workers=1)
    app = create_app(settings, store=store)
    live = LiveServer(app)
    yield Service(live.url, store, tokens, graphs, targets, probes, serials)
    live.stop()
    store.close()


# -- reading answers as sets of terms ---------------------------------------------------------------------------
def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _sparql_terms(response: httpx.Response) -> set[str]:
    media = response.headers.get("content-type", "").split(";")[0]
    if media == "application/sparql-results+json":
        body = response.json()
        if "boolean" in body:
            return {"ASK:true"} if body["boolean"] else set()
        return {b["value"] for row in body["results"]["bindings"] for b in row.values()}
    fmt = ox.RdfFormat.from_media_type(media)
    assert fmt is not None, media
    return {t.value for q in ox.parse(response.content, fmt) for t in (q.subject, q.predicate, q.object)}


# -- the attempts -------------------------------------------------------------------------------------------------
@dataclass
class Attempt:
    path: str
    label: str
    method: str
    url: str
    params: dict[str, Any] | list[tuple[str, str]] | None = None
    data: dict[str, str] | None = None
    json_body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    target: str | None = None  # the one graph an ASK or a graph-store read names


def sparql_attempts(service: Service) -> list[Attempt]:
    url = service.url + "/sparql"
    ntriples = {"Accept": "application/n-triples"}
    out = [
        Attempt("sparql", "union", "GET", url, {"query": "SELECT * WHERE { ?s ?p ?o }"}),
        Attempt("sparql", "GRAPH ?g", "GET", url, {"query": "SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }"}),
        Attempt("sparql", "graph names", "GET", url, {"query": "SELECT ?g WHERE { GRAPH ?g { } }"}),
        Attempt(
            "sparql",
            "CONSTRUCT GRAPH ?g",
            "GET",
            url,
            {"query": "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }"},
            headers=ntriples,
        ),
        Attempt("sparql", "token hashes", "GET", url, {"query": f"SELECT ?h WHERE {{ ?t <{TL}secretHash> ?h }}"}),
        Attempt("sparql", "default-unit", "GET", url, {"query": f"SELECT ?s ?n WHERE {{ ?s <{TL}serialNumber> ?n }}"}),
    ]
    for probe in service.probes.values():
        out.append(
            Attempt("sparql", f"DESCRIBE {probe}", "GET", url, {"query": f"DESCRIBE <{probe}>"}, headers=ntriples)
        )
    for g in service.targets:
        out += [
            Attempt("sparql", f"FROM {g}", "GET", url, {"query": f"SELECT * FROM <{g}> WHERE {{ ?s ?p ?o }}"}),
            Attempt(
                "sparql",
                f"FROM NAMED {g}",
                "GET",
                url,
                {"query": f"SELECT * FROM NAMED <{g}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}"},
            ),
            Attempt(
                "sparql",
                f"FROM+FROM NAMED {g}",
                "POST",
                url,
                data={"query": f"SELECT * FROM <{g}> FROM NAMED <{g}> WHERE {{ {EITHER} }}"},
            ),
            Attempt(
                "sparql", f"GRAPH <{g}>", "GET", url, {"query": f"SELECT * WHERE {{ GRAPH <{g}> {{ ?s ?p ?o }} }}"}
            ),
            Attempt(
                "sparql", f"ASK GRAPH <{g}>", "GET", url, {"query": f"ASK {{ GRAPH <{g}> {{ ?s ?p ?o }} }}"}, target=g
            ),
            Attempt(
                "sparql",
                f"default-graph-uri {g}",
                "GET",
                url,
                {"query": "SELECT * WHERE { ?s ?p ?o }", "default-graph-uri": g},
            ),
            Attempt(
                "sparql",
                f"named-graph-uri {g}",
                "GET",
                url,
                {"query": f"SELECT * WHERE {{ GRAPH <{g}> {{ ?s ?p ?o }} }}", "named-graph-uri": g},
            ),
            Attempt(
                "sparql",
                f"both uris + FROM {g}",
                "POST",
                url,
                data={
                    "query": f"SELECT * FROM <{g}> WHERE {{ {{ ?s ?p ?o }} UNION {{ GRAPH ?g {{ ?s ?p ?o }} }} }}",
                    "default-graph-uri": g,
                    "named-graph-uri": g,
                },
            ),
        ]
    return out


def store_attempts(service: Service) -> list[Attempt]:
    url = service.url + "/store"
    out = [
        Attempt(
            "store",
            "GET ?default",
            "GET",
            url,
            {"default": ""},
            target=DEFAULT,
            headers={"Accept": "application/n-triples"},
        )
    ]
    out.append(Attempt("store", "HEAD ?default", "HEAD", url, {"default": ""}, target=DEFAULT))
    for g in service.targets:
        out.append(
            Attempt(
                "store", f"GET {g}", "GET", url, {"graph": g}, target=g, headers={"Accept": "application/n-triples"}
            )
        )
        out.append(Attempt("store", f"HEAD {g}", "HEAD", url, {"graph": g}, target=g))
    return out


def named_attempts(service: Service) -> list[Attempt]:
    catalogue = httpx.get(service.url + "/queries", headers={"Authorization": f"Bearer {BOOTSTRAP}"}).json()
    out = []
    for query in catalogue["queries"]:
        params = {p["name"]: p["example"] for p in query["parameters"] if p.get("required") and "example" in p}
        out.append(Attempt("queries", query["name"], "GET", f"{service.url}/queries/{query['name']}", params))
        if query["materialised"]:
            out.append(
                Attempt(
                    "queries",
                    query["name"] + " csv",
                    "GET",
                    f"{service.url}/queries/{query['name']}",
                    {"format": "csv"},
                )
            )
    assert len(out) >= 10
    return out


GRAPHQL_LISTS = """{
  units(first: 200) { totalCount nodes { id serialNumber provenance { id graph sourceSystem file load { id } } } }
  lots(first: 200) { totalCount nodes { id lotNumber provenance { id graph file } } }
  ncrs(first: 200) { totalCount nodes { id ncrNumber status provenance { graph } } }
  capas(first: 200) { totalCount nodes { id } }
  workOrders(first: 200) { totalCount nodes { id } }
  parts(first: 200) { totalCount nodes { id partNumber provenance { graph } } }
  changeOrders(first: 200) { totalCount nodes { id } }
}"""


def graphql_attempts(service: Service) -> list[Attempt]:
    url = service.url + "/graphql"
    out = [Attempt("graphql", "lists", "POST", url, json_body={"query": GRAPHQL_LISTS})]
    for kind, probe in service.probes.items():
        body = {"query": "query($id: ID!) { node(id: $id) { id __typename } }", "variables": {"id": probe}}
        out.append(Attempt("graphql", f"node {kind}", "POST", url, json_body=body))
    out.append(
        Attempt(
            "graphql",
            "lot",
            "POST",
            url,
            json_body={
                "query": "query($n: String!) { lot(lotNumber: $n) { id lotNumber provenance { graph } } }",
                "variables": {"n": service.serials["lot"]},
            },
        )
    )
    out.append(
        Attempt(
            "graphql",
            "part",
            "POST",
            url,
            json_body={
                "query": "query($n: String!) { part(partNumber: $n) { id partNumber provenance { graph } } }",
                "variables": {"n": service.serials["part"]},
            },
        )
    )
    out.append(
        Attempt(
            "graphql",
            "unit in default graph",
            "POST",
            url,
            json_body={
                "query": "query($n: String!) { unit(serial: $n) { id serialNumber } }",
                "variables": {"n": DEFAULT_SERIAL},
            },
        )
    )
    out.append(
        Attempt("graphql", "GET lists", "GET", url, {"query": GRAPHQL_LISTS}, headers={"Accept": "application/json"})
    )
    return out


def run(attempt: Attempt, token: Token | None, client: httpx.Client) -> tuple[int, set[str]]:
    """(status, terms seen) of one attempt made with ``token`` (None: no credentials)."""
    headers = dict(attempt.headers) | (token.headers if token else {})
    response = client.request(
        attempt.method, attempt.url, params=attempt.params, data=attempt.data, json=attempt.json_body, headers=headers
    )
    if response.status_code != 200 or attempt.method == "HEAD":
        return response.status_code, set()
    if attempt.path in ("sparql", "store"):
        return 200, _sparql_terms(response)
    if attempt.path == "queries":
        if "csv" in response.headers.get("content-type", ""):
            return 200, {cell for line in response.text.splitlines() for cell in line.split(",")}
        return 200, set(_strings(response.json()["rows"]))
    return 200, set(_strings(response.json().get("data")))  # errors may echo the id asked for: not data


def all_attempts(service: Service) -> list[Attempt]:
    return sparql_attempts(service) + store_attempts(service) + named_attempts(service) + graphql_attempts(service)


def test_role_by_graph_matrix_leaks_nothing(service: Service) -> None:
    attempts = all_attempts(service)
    leaks: list[str] = []
    cells = 0
    seen_by: dict[str, set[str]] = {name: set() for name in service.tokens}
    spent: dict[str, float] = {}
    with httpx.Client(timeout=60) as client:
        for token in service.tokens.values():
            for attempt in attempts:
                cells += 1
                started = time.perf_counter()
                status, seen = run(attempt, token, client)
                spent[attempt.path] = spent.get(attempt.path, 0.0) + time.perf_counter() - started
                seen_by[token.name] |= seen
                where = f"{token.name} × {attempt.path} × {attempt.label}"
                if attempt.path == "store" and attempt.target is not None:
                    expected = 200 if token.may_read(attempt.target) else 403
                    if status != expected:
                        leaks.append(f"{where}: HTTP {status}, expected {expected}")
                elif attempt.path == "graphql" and attempt.label.startswith(("node", "lot", "part", "unit")):
                    assert status == 200, where  # not found is a GraphQL error inside a 200
                else:
                    assert status == 200, f"{where}: HTTP {status}"
                if attempt.target and "ASK:true" in seen and not token.may_read(attempt.target):
                    leaks.append(f"{where}: ASK true about a graph it may not read")
                found = seen & token.forbidden
                if found:
                    leaks.append(f"{where}: {len(found)} forbidden terms, e.g. {sorted(found)[:3]}")
        # anonymous callers are refused everywhere once tokens exist
        for attempt in attempts:
            cells += 1
            status, seen = run(attempt, None, client)
            if status == 200 and attempt.path != "graphql":
                leaks.append(f"anonymous × {attempt.path} × {attempt.label}: HTTP 200")
            if seen:
                leaks.append(f"anonymous × {attempt.path} × {attempt.label}: {len(seen)} terms")
    print(
        f"\naccess matrix: {len(service.tokens) + 1} principals × {len(attempts)} attempts = {cells} cells; "
        f"{len(leaks)} leaks; seconds per path { ({k: round(v, 1) for k, v in spent.items()}) }"
    )
    assert not leaks, "\n".join(leaks)
    # the attempts reach what they aim at: the admin saw every other token's forbidden terms, and each token
    # saw some of its own data (so 0 leaks is not 0 answers)
    admin = seen_by["admin"]
    for token in service.tokens.values():
        if token.forbidden:
            assert admin & token.forbidden, f"no attempt reached what {token.name} may not read"
        if token.name != "reader@nothing":
            assert seen_by[token.name] & token.readable, f"{token.name} saw none of its own graphs"
    assert {SECURITY_GRAPH, AUDIT_GRAPH} <= admin
    assert DEFAULT_SERIAL in admin and DEFAULT_SERIAL not in seen_by["reader@erp"]


# -- writes ---------------------------------------------------------------------------------------------------------
SCRATCH = ERP + "matrix-scratch"
OTHER = PLM + "matrix-scratch"
BODY = b"<urn:x:a> <urn:x:b> <urn:x:c> ."
SYSTEM = (SECURITY_GRAPH, AUDIT_GRAPH)


def _status(response: httpx.Response) -> int:
    return response.status_code


def test_writes_need_the_right_role_and_scope(service: Service) -> None:
    admin = {"Authorization": f"Bearer {BOOTSTRAP}", "X-Threadline-Reason": "access matrix clean-up"}
    outcomes: list[str] = []
    with httpx.Client(timeout=60) as client:
        for token in [*service.tokens.values(), None]:
            name = token.name if token else "anonymous"
            # writes that replace or delete need a reason (the audit trail's "why"); the role decides the rest
            auth = (token.headers if token else {}) | {"X-Threadline-Reason": "access matrix"}
            role = token.principal if token else None
            may = {
                "integrator": bool(role and role.allows("integrator")),
                "admin": bool(role and role.allows("admin")),
                "compliance": bool(role and role.allows("compliance")),
            }
            turtle = auth | {"Content-Type": "text/turtle"}
            for graph in (SCRATCH, OTHER):
                allowed = may["integrator"] and role is not None and role.in_scope(graph)
                for method in ("PUT", "POST"):
                    status = _status(
                        client.request(
                            method, service.url + "/store", params={"graph": graph}, content=BODY, headers=turtle
                        )
                    )
                    if (status in (201, 204)) != allowed:
                        outcomes.append(f"{name} {method} /store {graph}: HTTP {status}")
                status = _status(client.delete(service.url + "/store", params={"graph": graph}, headers=auth))
                if (status == 204) != allowed:
                    outcomes.append(f"{name} DELETE /store {graph}: HTTP {status}")
            for graph in (SECURITY_GRAPH, AUDIT_GRAPH):  # system graphs: only their own role writes
                status = _status(
                    client.post(service.url + "/store", params={"graph": graph}, content=BODY, headers=turtle)
                )
                if (
                    status in (201, 204)
                    and not may["admin"]
                    and not (graph == AUDIT_GRAPH and may["compliance"] and may["integrator"])
                ):
                    outcomes.append(f"{name} POST /store {graph}: HTTP {status}")
            if may["admin"]:  # undo what an admin may do: these are not meant to stay
                client.post(
                    service.url + "/sparql",
                    data={
                        "update": " ; ".join(
                            f"DELETE DATA {{ GRAPH <{g}> {{ {BODY.decode()[:-2]} }} }}" for g in SYSTEM
                        )
                    },
                    headers=admin,
                )
            # loads: integrator (an invalid mode is refused after the role check, so nothing is loaded)
            upload = {"files": ("x.csv", b"a,b\n1,2\n", "text/csv")}
            status = _status(
                client.post(service.url + "/ingest/erp", params={"mode": "bogus"}, files=upload, headers=auth)
            )
            if (status == 422) != may["integrator"] or status in (200, 201):
                outcomes.append(f"{name} POST /ingest: HTTP {status}")
            # SPARQL Update: admin
            update = f"INSERT DATA {{ GRAPH <{SCRATCH}-update> {{ <urn:x:u> <urn:x:u> <urn:x:u> }} }}"
            status = _status(client.post(service.url + "/sparql", data={"update": update}, headers=auth))
            if (status == 204) != may["admin"]:
                outcomes.append(f"{name} SPARQL Update: HTTP {status}")
            # validation evidence: compliance (asking without it is refused before validating)
            if not may["compliance"]:
                status = _status(client.post(service.url + "/validate", params={"store_report": "true"}, headers=auth))
                if status not in (401, 403):
                    outcomes.append(f"{name} POST /validate?store_report=true: HTTP {status}")
            # token administration: admin
            status = _status(client.get(service.url + "/admin/tokens", headers=auth))
            if (status == 200) != may["admin"]:
                outcomes.append(f"{name} GET /admin/tokens: HTTP {status}")
        # compliance stores evidence (one run: validation is the slow part)
        response = client.post(
            service.url + "/validate", params={"store_report": "true"}, headers=service.tokens["compliance"].headers
        )
        assert response.status_code == 200, response.text
        assert response.headers["x-report-graph"]
        client.post(service.url + "/sparql", data={"update": f"DROP SILENT GRAPH <{SCRATCH}-update>"}, headers=admin)
    assert not outcomes, "\n".join(outcomes)


def test_a_scoped_integrator_cannot_load_another_source(service: Service) -> None:
    upload = {"files": ("x.csv", b"a,b\n1,2\n", "text/csv")}
    token = service.tokens["integrator@erp"]
    response = httpx.post(service.url + "/ingest/qms", params={"mode": "bogus"}, files=upload, headers=token.headers)
    assert response.status_code == 403, response.text


def test_token_listing_never_shows_secrets(service: Service) -> None:
    body = httpx.get(service.url + "/admin/tokens", headers={"Authorization": f"Bearer {BOOTSTRAP}"}).text
    hashes = {t for t in service.tokens["reader"].forbidden if re.fullmatch(r"[0-9a-f]{64}", t)}
    assert hashes and not any(h in body for h in hashes)
    assert not any(token.secret in body for token in service.tokens.values())
    assert json.loads(body)["tokens"]
