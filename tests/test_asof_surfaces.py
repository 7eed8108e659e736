"""As-of reads on the surfaces beyond /sparql: GraphQL's ``asOf`` argument, "did it conform then?" (``validate
--as-of``, ``POST /validate?asOf=``) and ``kpi --as-of`` — each on a real on-disk store, over HTTP through the real
app where there is a route, compared with what the store answered right after the change asked for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from threadline.audit import writes
from threadline.auth import tokens
from threadline.config import Settings
from threadline.history import asof
from threadline.namespaces import AUDIT_GRAPH, ID, TL
from threadline.store import EmbeddedStore, Store, open_store
from threadline.web.app import create_app

EX = "http://example.org/"
UNIT = "query($serial: String!, $at: String) { unit(serial: $serial, asOf: $at) { serialNumber status } }"


def _head(store: Store) -> tuple[int, str]:
    row = store.select(
        f"SELECT ?seq ?time WHERE {{ GRAPH <{AUDIT_GRAPH}> {{ ?e <{TL}auditSequence> ?seq ; "
        f"<{TL}recordedAt> ?time }} }} ORDER BY DESC(?seq) LIMIT 1"
    ).rows[0]
    return int(row[0].value), row[1].value  # type: ignore[union-attr]  # bound by the query


def _update(store: Store, text: str) -> tuple[int, str]:
    writes.audited_update(store, text, actor="tester", reason="as-of surfaces")
    return _head(store)


def _unit(serial: str, status: str, part: str = "P-1") -> str:
    unit = f"<{ID}unit/{serial}>"
    return (
        f'{unit} a <{TL}SerializedUnit> ; <{TL}serialNumber> "{serial}" ; <{TL}unitStatus> "{status}" ; '
        f'<{TL}ofPart> <{ID}part/{part}> . <{ID}part/{part}> a <{TL}Part> ; <{TL}partNumber> "{part}" .'
    )


def _graphql(server: Any, token: str | None, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = httpx.post(
        server.url + "/graphql", json={"query": query, "variables": variables}, headers=headers, timeout=60
    )
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]  # a JSON object


def test_graphql_as_of_for_an_admin_and_a_scoped_reader(serve_app: Any, tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "store")
    settings = Settings(store=f"oxigraph:{tmp_path / 'store'}", write_token="s3cret", var_dir=tmp_path / "var")
    server = serve_app(create_app(settings, store=store))
    _, scoped = tokens.create_token(store, "reader", scopes=[EX + "g1"], actor="test")
    then = _update(
        store,
        f"INSERT DATA {{ GRAPH <{EX}g1> {{ {_unit('A', 'built')} }} GRAPH <{EX}g2> {{ {_unit('B', 'built')} }} }}",
    )
    _update(store, f"DROP GRAPH <{EX}g1>")
    _update(store, f'DELETE DATA {{ GRAPH <{EX}g2> {{ <{ID}unit/B> <{TL}unitStatus> "built" }} }}')
    _update(store, f'INSERT DATA {{ GRAPH <{EX}g2> {{ <{ID}unit/B> <{TL}unitStatus> "shipped" }} }}')

    now = _graphql(server, "s3cret", UNIT, {"serial": "B"})
    assert now["data"]["unit"]["status"] == "shipped" and "extensions" not in now
    past = _graphql(server, "s3cret", UNIT, {"serial": "B", "at": then[1]})
    assert past["data"]["unit"] == {"serialNumber": "B", "status": "built"}, past
    assert past["extensions"]["asOf"] == {"asked": then[1], "change": then[0], "time": then[1]}
    by_id = _graphql(server, "s3cret", UNIT, {"serial": "A", "at": str(then[0])})
    assert by_id["data"]["unit"]["status"] == "built", "a unit whose graph is gone now"
    # every root field of one request reads the same state, with its own loaders (a list and lookups)
    both = _graphql(
        server,
        "s3cret",
        'query($at: String) { a: unit(serial: "A", asOf: $at) { status } '
        "units(asOf: $at) { nodes { serialNumber status } } }",
        {"at": then[1]},
    )
    assert both["data"]["a"]["status"] == "built", both
    assert both["data"]["units"]["nodes"] == [
        {"serialNumber": "A", "status": "built"},
        {"serialNumber": "B", "status": "built"},
    ]
    mixed = _graphql(
        server, "s3cret", '{ a: unit(serial: "B") { status } b: unit(serial: "B", asOf: "1") { status } }', {}
    )
    assert mixed["data"] is None and mixed["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", mixed
    assert "one request reads one instant" in mixed["errors"][0]["message"]
    for wrong in ("2999-01-01T00:00:00Z", "yesterday", "1999-01-01T00:00:00Z"):
        refused = _graphql(server, "s3cret", UNIT, {"serial": "B", "at": wrong})
        assert refused["data"] is None, refused
        assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", refused
    # a scoped reader: its graph existed then, not now; the other graph was never its own
    assert _graphql(server, scoped, UNIT, {"serial": "A"})["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert _graphql(server, scoped, UNIT, {"serial": "A", "at": then[1]})["data"]["unit"]["status"] == "built"
    outside = _graphql(server, scoped, UNIT, {"serial": "B", "at": then[1]})
    assert outside["errors"][0]["extensions"]["code"] == "NOT_FOUND", outside
    over_get = httpx.get(
        server.url + "/graphql",
        params={"query": f'{{ unit(serial: "A", asOf: "{then[1]}") {{ status }} }}'},
        headers={"Authorization": "Bearer s3cret", "Accept": "application/json"},
    )
    assert over_get.json()["data"]["unit"]["status"] == "built", over_get.text
    assert not asof._OPEN, "every request closed its state"


def test_graphql_as_of_on_a_store_without_history_is_refused_with_its_code(serve_app: Any, tmp_path: Path) -> None:
    settings = Settings(store="memory:", var_dir=tmp_path / "var")
    server = serve_app(create_app(settings))
    refused = _graphql(server, None, UNIT, {"serial": "B", "at": "2026-01-01T00:00:00Z"})
    assert refused["data"] is None
    assert refused["errors"][0]["extensions"] == {"code": "AS_OF_UNSUPPORTED", "status": 501}, refused
    assert "embedded on-disk store" in refused["errors"][0]["message"]
    assert "errors" in _graphql(server, None, UNIT, {"serial": "B"}), "without asOf: the present (NOT_FOUND here)"


SHAPES = f"""@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix tl: <{TL}> .
<{EX}UnitLocation> a sh:NodeShape ; sh:targetClass tl:SerializedUnit ;
    sh:property [ sh:path tl:location ; sh:minCount 1 ] .
"""


def test_did_it_conform_then_on_the_command_line_and_over_http(serve_app: Any, tmp_path: Path) -> None:
    from threadline.cli import main
    from threadline.shacl.report import data_state

    url = f"oxigraph:{tmp_path / 'store'}"
    store = open_store(url)
    then = _update(store, f"INSERT DATA {{ GRAPH <{EX}g1> {{ {_unit('A', 'built')} }} }}")
    state_then = data_state(store)[0]
    _update(store, f'INSERT DATA {{ GRAPH <{EX}g1> {{ <{ID}unit/A> <{TL}location> "bay 4" }} }}')
    store.close()  # the command opens the store itself
    shapes = tmp_path / "shapes.ttl"
    shapes.write_text(SHAPES)

    args = ["validate", "--store", url, "--shapes", str(shapes), "--format", "json"]
    cli = CliRunner().invoke(main, [*args, "--as-of", then[1]])
    assert cli.exit_code == 1, cli.output
    assert json.loads(cli.stdout)["asOf"] == {
        "asked": then[1],
        "change": then[0],
        "time": then[1],
        "dataState": state_then,
    }
    assert f"the state after change {then[0]}, recorded at {then[1]}; data state {state_then}" in cli.stderr
    assert CliRunner().invoke(main, args).exit_code == 0
    turtle = CliRunner().invoke(main, [*args[:-2], "--as-of", str(then[0])])
    assert turtle.exit_code == 1 and turtle.stdout.startswith(f"# as of {then[0]}: the state after change"), (
        turtle.output
    )

    store = EmbeddedStore(tmp_path / "store")
    settings = Settings(store=url, write_token="s3cret", var_dir=tmp_path / "var")
    server = serve_app(create_app(settings, store=store))

    def validate(**params: str) -> httpx.Response:
        return httpx.post(
            server.url + "/validate",
            params={"format": "json", **params},
            files={"shapes": ("shapes.ttl", SHAPES.encode(), "text/turtle")},
            headers={"Authorization": "Bearer s3cret"},
            timeout=60,
        )

    now = validate()
    assert now.status_code == 200 and now.json()["conforms"] is True, now.text
    past = validate(asOf=then[1], store_report="false")
    assert past.status_code == 200, past.text
    body = past.json()
    assert body["conforms"] is False and body["resultCount"] == 1
    assert body["asOf"] == {"asked": then[1], "change": then[0], "time": then[1], "dataState": state_then}
    assert past.headers["x-threadline-change"] == str(then[0]) and past.headers["x-conforms"] == "false"
    assert past.headers["x-threadline-data-state"] == state_then and "x-report-graph" not in past.headers
    assert validate(asOf=then[1], store_report="true").status_code == 422, "a past state is not filed as evidence"
    assert validate(asOf="2999-01-01T00:00:00Z").json()["field"] == "asOf"
    memory = serve_app(create_app(Settings(store="memory:", var_dir=tmp_path / "m")))
    unsupported = httpx.post(memory.url + "/validate", params={"asOf": then[1]}, timeout=60)
    assert unsupported.status_code == 501, unsupported.text


def test_kpi_as_of_gives_the_plain_aggregates_of_then(tmp_path: Path) -> None:
    from threadline import kpi, queries
    from threadline.cli import main

    url = f"oxigraph:{tmp_path / 'store'}"
    store = open_store(url)
    _update(store, f"INSERT DATA {{ GRAPH <{EX}g1> {{ {_unit('A', 'built')} {_unit('B', 'built')} }} }}")
    then = _update(store, f"INSERT DATA {{ GRAPH <{EX}g1> {{ {_unit('C', 'scrapped', 'P-2')} }} }}")
    expected = {q.name: queries.rows_as_dicts(*_plain(store, q)) for q in kpi.materialised_queries()}
    _update(store, f"INSERT DATA {{ GRAPH <{EX}g1> {{ {_unit('D', 'built')} }} }}")
    _update(store, f"INSERT DATA {{ GRAPH <{EX}g1> {{ {_unit('E', 'scrapped', 'P-2')} }} }}")
    store.close()

    past = CliRunner().invoke(main, ["kpi", "--store", url, "--as-of", then[1], "--format", "json"])
    assert past.exit_code == 0, past.output
    body = json.loads(past.stdout)
    assert body["asOf"] == {"asked": then[1], "change": then[0], "time": then[1]}
    got = {name: answer["rows"] for name, answer in body["indicators"].items()}
    assert got == json.loads(json.dumps(expected, default=str))
    assert {answer["source"] for answer in body["indicators"].values()} == {"query"}
    assert got["scrap-rate"] != [], "the store held units then"
    now = json.loads(CliRunner().invoke(main, ["kpi", "--store", url, "--format", "json"]).stdout)
    assert now["indicators"]["scrap-rate"]["rows"] != got["scrap-rate"], "and another answer now"
    assert "asOf" not in now


def _plain(store: Store, query: Any) -> tuple[list[str], list[tuple[Any, ...]]]:
    result = store.select(query.text, query.bindings({}))
    return result.variables, result.rows


@pytest.mark.parametrize("command", [["query", "scrap-rate"], ["kpi"], ["dump"]])
def test_as_of_commands_refuse_a_store_without_history(command: list[str]) -> None:
    from threadline.cli import main

    refused = CliRunner().invoke(main, [*command, "--store", "memory:", "--as-of", "2026-01-01T00:00:00Z"])
    assert refused.exit_code == 2 and "embedded on-disk store" in refused.output, refused.output


def test_as_of_is_documented_on_every_route_and_root_field_that_takes_it(serve_app: Any, tmp_path: Path) -> None:
    from threadline.graphql_api.schema import build_schema

    settings = Settings(store=f"oxigraph:{tmp_path / 'store'}", var_dir=tmp_path / "var")
    server = serve_app(create_app(settings))
    document = httpx.get(f"{server.url}/openapi.json", timeout=60).json()
    for method, path in (("get", "/sparql"), ("post", "/sparql"), ("get", "/queries/{name}"), ("post", "/validate")):
        parameters = {p["name"]: p for p in document["paths"][path][method]["parameters"]}
        assert "asOf" in parameters and "X-Threadline-As-Of" in parameters, (method, path)
        assert "date-time" in json.dumps(parameters["asOf"]["schema"]), (method, path)
        assert "400" in document["paths"][path][method]["responses"], (method, path)
    form = document["paths"]["/sparql"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
    assert "asOf" in form["schema"]["oneOf"][0]["properties"]
    root = build_schema()._schema.query_type
    assert root is not None
    assert all("asOf" in field.args for field in root.fields.values()), [
        name for name, field in root.fields.items() if "asOf" not in field.args
    ]
