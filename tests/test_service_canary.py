"""SERVICE and LOAD never reach the network, however they are spelled (issue #11).

A generated corpus mutates the token boundaries around SERVICE and LOAD (dots after variables and ``a ?t``,
escapes in strings, IRIs and prefixed names, comments, ``\\u`` escapes, nesting in GRAPH/OPTIONAL/MINUS/EXISTS/
UNION/subqueries) and sends every text over HTTP to the real app, by a reader and by an admin, while a loopback
canary HTTP server counts requests: it must count none, every hostile text must be refused by the parse check
(not merely fail in the engine), and every text without SERVICE/LOAD must answer exactly as pyoxigraph answers
in this process (no false refusals). One app and one memory store serve the whole corpus.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from typing import Any

import httpx
import pyoxigraph as ox
import pytest

from tests.canary import canary as serve_canary
from tests.conftest import LiveServer
from threadline.config import Settings
from threadline.store import open_store
from threadline.web.app import create_app

TOKEN = "canary-token"
DATA = """
<http://e/s1> <http://e/p> "1" .
<http://e/s1> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://e/T> .
<http://e/s2> <http://e/p> <http://x/a#> .
<http://e/s2> <http://x/SERVICE> "service" .
"""
PROLOGUE = "PREFIX ex: <http://x/>\nPREFIX can: <{u}/>\n"

# text placed just before the keyword inside a group: each ends where a lexer might read the boundary wrongly
LEADS = [
    "",
    "?s ?p ?o.",
    "?s ?p ?o .",
    "?s a ?t.",
    "?s a ?t .",
    "?s ?p ex:a\\# .",
    "?s ?p ?o FILTER(?o != ex:a\\#)",
    "?s ?p ex:a\\.\n.",
    "?s ex:p\\.x ?o .",
    'BIND("\\u0022" AS ?q)',
    "BIND('\\u0027' AS ?q)",
    'BIND("""\\u0022""" AS ?q)',
    'BIND("a\\"b" AS ?q)',
    'BIND("a\\\\" AS ?q)',
    "BIND(<http://x/\\u003E> AS ?q)",
    "# a comment \\u000A\n",
    "?s ?p ?o . # ends here\n",
    "{ ?s ?p ?o }",
    'FILTER(?o != "#")',
    "?s ?p ?o ;",
    "?s ?p 1.",
    "?s ?p _:b.",
    '?s ?p "x"@en-gb.',
    "?s ?p true.",
]
KEYWORDS = ["SERVICE", "service", "SeRvIcE", "SERVICE SILENT", "service\tsilent", "\\u0053ERVICE", "SERVICE\n"]
TARGETS = ["<{u}>", "<{u}\\u002Fx>", "can:x", "<{u}#f>", "<{u}/\\u0073>"]
SEPARATORS = [" ", "\n", "", "\t", " #c\n"]
WRAPS = [
    "{x}",
    "OPTIONAL {{ {x} }}",
    "MINUS {{ {x} }}",
    "GRAPH <http://e/graph> {{ {x} }}",
    "GRAPH ?g {{ {x} }}",
    "FILTER EXISTS {{ {x} }}",
    "FILTER NOT EXISTS {{ {x} }}",
    "{{ SELECT * WHERE {{ {x} }} }}",
    "{{ ?s ?p ?o }} UNION {{ {x} }}",
    "OPTIONAL {{ GRAPH ?g {{ {{ SELECT * {{ MINUS {{ {x} }} }} }} }} }}",
]
# harmless spellings of the word: the texts that hold them must answer exactly as pyoxigraph does
BENIGN = [
    "?s <http://x/SERVICE> ?o2",
    "?s ex:SERVICE ?o2",
    "?service ?p2 ?o2",
    'BIND("SERVICE <{u}> {{ ?a ?b ?c }}" AS ?z)',
    "# SERVICE <{u}> {{ ?a ?b ?c }}\n",
    "BIND(<{u}/SERVICE> AS ?z)",
    "FILTER(?o != 'service')",
    'BIND("""load\nSERVICE""" AS ?z)',
]
LOADS = ["LOAD", "load", "LoAd", "\\u004COAD"]
LOAD_TAILS = ["", " INTO GRAPH <http://e/got>", " INTO GRAPH ex:got"]
UPDATE_HEADS = [
    "",
    "INSERT DATA {{ <http://e/a> <http://e/b> ex:a\\# }} ;",
    'INSERT DATA {{ <http://e/a> <http://e/b> "\\u0022" }} ;',
    "INSERT DATA {{ <http://e/a> <http://e/b> '\\u0027' }} ;",
    "INSERT DATA {{ <http://e/a> <http://e/b> <http://x/\\u003E> }} ;",
    "CLEAR SILENT GRAPH <http://e/none> ; # c \\u000A\n",
    "DELETE WHERE {{ ?s <http://e/none> ?o.}} ;",
]
MODIFY = [
    "INSERT {{ GRAPH <http://e/got> {{ ?a ?b ?c }} }} WHERE {{ {x} }}",
    "DELETE {{ GRAPH <http://e/none> {{ ?a ?b ?c }} }}\n"
    "INSERT {{ GRAPH <http://e/got> {{ ?a ?b ?c }} }} WHERE {{ {x} }}",
    "WITH <http://e/graph> INSERT {{ ?a ?b ?c }} WHERE {{ {x} }}",
]


def hostile_queries(u: str) -> list[str]:
    rng = random.Random(11)
    out = []
    for lead, wrap in itertools.product(LEADS, WRAPS):
        for _ in range(3):
            target = rng.choice(TARGETS).format(u=u)
            clause = f"{lead}{rng.choice(SEPARATORS)}{rng.choice(KEYWORDS)} {target} {{ ?a ?b ?c }}"
            out.append(PROLOGUE.format(u=u) + "SELECT * WHERE { " + wrap.format(x=clause) + " }")
    return out


def benign_queries(u: str) -> list[str]:
    out = []
    for lead, wrap, benign in itertools.product(LEADS, WRAPS[:4], BENIGN):
        clause = f"{lead} {benign.format(u=u)}"
        out.append(PROLOGUE.format(u=u) + "SELECT * WHERE { " + wrap.format(x=clause) + " } LIMIT 50")
    return out


def hostile_updates(u: str) -> list[str]:
    rng = random.Random(12)
    out = []
    for head, load, tail in itertools.product(UPDATE_HEADS, LOADS, LOAD_TAILS):
        silent = rng.choice(["", " SILENT", " silent"])
        out.append(PROLOGUE.format(u=u) + f"{head.format()}{rng.choice(SEPARATORS)}{load}{silent} <{u}>{tail}")
    for lead, wrap, _ in itertools.product(LEADS, WRAPS, range(2)):
        modify = rng.choice(MODIFY)
        target = rng.choice(TARGETS).format(u=u)
        clause = f"{lead}{rng.choice(SEPARATORS)}{rng.choice(KEYWORDS)} {target} {{ ?a ?b ?c }}"
        out.append(PROLOGUE.format(u=u) + modify.format(x=wrap.format(x=clause)))
    return out


@pytest.fixture(scope="module")
def canary() -> Iterator[tuple[str, list[str]]]:
    with serve_canary() as (url, hits):
        yield url, hits


@pytest.fixture(scope="module")
def endpoint() -> Iterator[tuple[str, Any]]:
    store = open_store("memory:")
    store.load(DATA.encode(), "http://e/graph", ox.RdfFormat.N_TRIPLES)
    settings = Settings(store="memory:", write_token=TOKEN)
    app = create_app(settings, store=store)
    server = LiveServer(app)
    yield server.url + "/sparql", store
    server.stop()


ADMIN = {"Authorization": f"Bearer {TOKEN}", "X-Threadline-Reason": "canary corpus"}
REFUSED = ("disabled on this endpoint", "could not be verified")


def _refused_by_the_check(response: httpx.Response) -> bool:
    return response.status_code == 400 and any(word in response.json()["error"] for word in REFUSED)


def test_corpus_size(canary: tuple[str, list[str]]) -> None:
    u, _ = canary
    sizes = [len(hostile_queries(u)), len(benign_queries(u)), len(hostile_updates(u))]
    assert sum(sizes) >= 2000, sizes


def test_hostile_queries_never_reach_the_canary(endpoint: tuple[str, Any], canary: tuple[str, list[str]]) -> None:
    url, _ = endpoint
    u, hits = canary
    leaked = []
    with httpx.Client(timeout=60) as reader, httpx.Client(timeout=60, headers=ADMIN) as admin:
        for text in hostile_queries(u):
            for client in (reader, admin):  # the second is answered from the verdict cache
                response = client.post(url, data={"query": text})
                if not _refused_by_the_check(response):
                    leaked.append((text, response.status_code, response.text[:200]))
    assert hits == [], f"{len(hits)} requests reached the canary"
    assert leaked == [], f"{len(leaked)} hostile queries were not refused by the check, e.g. {leaked[:3]}"


def test_hostile_updates_never_reach_the_canary(endpoint: tuple[str, Any], canary: tuple[str, list[str]]) -> None:
    url, store = endpoint
    u, hits = canary
    before = store.graphs()
    leaked = []
    with httpx.Client(timeout=60) as reader, httpx.Client(timeout=60, headers=ADMIN) as admin:
        for text in hostile_updates(u):
            as_reader = reader.post(url, data={"update": text})
            response = admin.post(url, content=text, headers={"Content-Type": "application/sparql-update"})
            if as_reader.status_code != 403 or not _refused_by_the_check(response):
                leaked.append((text, as_reader.status_code, response.status_code, response.text[:200]))
    assert hits == [], f"{len(hits)} requests reached the canary"
    assert leaked == [], f"{len(leaked)} hostile updates were not refused, e.g. {leaked[:3]}"
    assert store.graphs() == before, "a refused update changed the store"


def _rows(body: bytes) -> list[tuple[str, ...]]:
    solutions = ox.parse_query_results(body, ox.QueryResultsFormat.JSON)
    names = [v.value for v in solutions.variables]
    return sorted(tuple(str(row[name]) if row[name] is not None else "" for name in names) for row in solutions)


def test_service_free_queries_answer_as_pyoxigraph_does(
    endpoint: tuple[str, Any], canary: tuple[str, list[str]]
) -> None:
    url, _ = endpoint
    u, hits = canary
    reference = ox.Store()
    reference.load(DATA.encode(), ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode("http://e/graph"))
    differ, answered = [], 0
    with httpx.Client(timeout=60) as reader, httpx.Client(timeout=60, headers=ADMIN) as admin:
        for index, text in enumerate(benign_queries(u)):
            try:
                expected: list[tuple[str, ...]] | None = _rows(
                    reference.query(text, use_default_graph_as_union=True).serialize(format=ox.QueryResultsFormat.JSON)
                )
            except SyntaxError:
                expected = None  # pyoxigraph refuses it too: the endpoint must answer 400
            response = (reader, admin)[index % 2].post(
                url, data={"query": text}, headers={"Accept": "application/sparql-results+json"}
            )
            got = _rows(response.content) if response.status_code == 200 else None
            if got != expected or (expected is None and response.status_code != 400):
                differ.append((text, response.status_code, response.text[:200]))
            answered += expected is not None
    assert hits == []
    assert answered > 300, "the corpus must hold answerable queries"
    assert differ == [], f"{len(differ)} service-free queries answered differently from pyoxigraph, e.g. {differ[:3]}"
