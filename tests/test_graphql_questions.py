"""The five questions of the GraphQL API, answered by the committed example operations on the demo thread.

Each example in ``graphql/examples/`` runs as-is (its variable defaults exist in the seed-42 demo) and its
answer is compared with the generator's manifest ground truth and with independent hand-written SPARQL.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import REPO, DemoThread
from threadline.graphql_api import execute
from threadline.namespaces import ID, TL

EXAMPLES = REPO / "graphql" / "examples"
PREFIX = f"PREFIX tl: <{TL}>\nPREFIX xsd: <http://www.w3.org/2001/XMLSchema#>\n"


def example(number: int) -> str:
    (path,) = EXAMPLES.glob(f"{number}-*.graphql")
    return path.read_text(encoding="utf-8")


def run(demo: DemoThread, number: int, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    result = execute(demo.store, example(number), variables)
    assert result.errors is None, result.errors
    return result.data


def sparql(demo: DemoThread, query: str) -> list[dict[str, str]]:
    return [{k: v.value for k, v in row.items()} for row in demo.store.select(PREFIX + query).dicts()]


def column(demo: DemoThread, query: str, var: str) -> set[str]:
    return {row[var] for row in sparql(demo, query) if var in row}


def test_examples_are_one_operation_each() -> None:
    files = sorted(EXAMPLES.glob("*.graphql"))
    assert len(files) == 5
    for path in files:
        assert path.read_text().count("query ") == 1, f"{path.name} must hold exactly one operation"


def _ncr_unit(demo: DemoThread) -> str:
    ncr = demo.manifest["groundTruth"]["capaWithSeveralNcrs"]["ncrs"][0]
    (serial,) = column(
        demo, f'SELECT ?sn WHERE {{ ?n tl:ncrNumber "{ncr}" ; tl:concernsItem/tl:serialNumber ?sn }}', "sn"
    )
    return serial


@pytest.mark.parametrize("which", ["example-unit", "unit-with-ncr"])
def test_q1_as_built_record(demo_thread: DemoThread, which: str) -> None:
    truth = demo_thread.manifest["groundTruth"]["exampleUnit"]
    variables = None if which == "example-unit" else {"serial": _ncr_unit(demo_thread)}
    unit = run(demo_thread, 1, variables)["unit"]
    serial = truth["serial"] if variables is None else variables["serial"]
    u = f"<{ID}unit/{serial}>"
    assert unit["serialNumber"] == serial
    if variables is None:
        assert unit["builtTo"]["revision"] == truth["builtTo"]
        assert unit["builtTo"]["part"]["partNumber"] == truth["part"]
        assert unit["workOrder"]["workOrderNumber"] == truth["workOrder"]

    operations = {
        (
            o["step"]["sequence"],
            (o["operator"] or {}).get("personId"),
            o["equipment"]["equipmentId"],
            o["startedAt"][:19],
        )
        for o in unit["operations"]
    }
    expected_ops = {
        (int(r["seq"]), r.get("who"), r["eq"], r["t"][:19])
        for r in sparql(
            demo_thread,
            f"SELECT ?seq ?who ?eq ?t WHERE {{ ?x tl:onUnit {u} ; tl:executesStep/tl:sequence ?seq ; tl:startedAt ?t ; "
            "tl:onEquipment/tl:equipmentId ?eq OPTIONAL { ?x tl:performedBy/tl:personId ?who } }",
        )
    }
    assert operations == expected_ops and operations

    items = {link["item"]["identifier"] for link in unit["genealogy"]}
    below = column(
        demo_thread,
        f"SELECT DISTINCT ?id WHERE {{ {u} (tl:consumed|tl:splitFrom|tl:mergedFrom)+ ?x . "
        "{ ?x tl:serialNumber ?id } UNION { ?x tl:lotNumber ?id } }",
        "id",
    )
    assert items == below
    if variables is None:
        assert set(truth["subassemblies"]) <= items
        assert set(truth["lots"]) <= items and set(truth["supplierLots"]) <= items

    for link in unit["genealogy"]:
        item = link["item"]
        if "suppliers" not in item:
            continue
        lot = f'"{item["identifier"]}"'
        origin = f"?l tl:lotNumber {lot} . ?l (tl:splitFrom|tl:mergedFrom)* ?src ."
        suppliers = column(demo_thread, f"SELECT ?s WHERE {{ {origin} ?src tl:suppliedBy/tl:supplierId ?s }}", "s")
        certificates = column(
            demo_thread,
            f"SELECT ?c WHERE {{ {origin} ?src tl:receivedIn/tl:hasCertificate/tl:certificateNumber ?c }}",
            "c",
        )
        assert {s["supplierId"] for s in item["suppliers"]} == suppliers and suppliers
        assert {c["certificateNumber"] for c in item["certificates"]} == certificates

    inspections = {i["resultId"] for i in unit["inspections"]}
    assert inspections == column(demo_thread, f"SELECT ?id WHERE {{ ?r tl:inspectedItem {u} ; tl:resultId ?id }}", "id")
    assert inspections

    ncrs = {
        (n["ncrNumber"], n["status"], (n["capa"] or {}).get("capaNumber"), (n["capa"] or {}).get("status"))
        for n in unit["ncrs"]
    }
    expected_ncrs = {
        (r["n"], r["st"], r.get("c"), r.get("cs"))
        for r in sparql(
            demo_thread,
            f"SELECT ?n ?st ?c ?cs WHERE {{ ?x tl:concernsItem {u} ; tl:ncrNumber ?n ; tl:ncrStatus ?st "
            "OPTIONAL { ?x tl:capa ?capa . ?capa tl:capaNumber ?c ; tl:capaStatus ?cs } }",
        )
    }
    assert ncrs == expected_ncrs
    if variables is not None:
        assert ncrs and all(n["disposition"] for n in unit["ncrs"])
    assert {p["file"] for p in unit["provenance"]} >= {"units.csv"}


@pytest.mark.parametrize("which", ["sharedSupplierLot", "splitLot", "mergedLot"])
def test_q2_suspect_lot_forward_genealogy(demo_thread: DemoThread, which: str) -> None:
    truth = demo_thread.manifest["groundTruth"][which]
    lot_number = truth["lot"] if which != "mergedLot" else truth["from"][0]
    variables = None if which == "splitLot" else {"lotNumber": lot_number}  # the example's own lot: the split one
    lot = run(demo_thread, 2, variables)["lot"]
    assert lot["lotNumber"] == lot_number
    found = {(u["serialNumber"], u["status"], u["location"]) for u in lot["usedIn"]}
    expected = {
        (r["sn"], r["st"], r.get("loc"))
        for r in sparql(
            demo_thread,
            f'SELECT DISTINCT ?sn ?st ?loc WHERE {{ ?l tl:lotNumber "{lot_number}" . '
            "?u (tl:consumed|tl:splitFrom|tl:mergedFrom)+ ?l . ?u tl:serialNumber ?sn ; tl:unitStatus ?st "
            "OPTIONAL { ?u tl:location ?loc } FILTER NOT EXISTS { ?parent tl:consumed ?u } }",
        )
    }
    assert found == expected and found
    if which == "sharedSupplierLot":
        assert len(found) == truth["unitCount"]
        assert set(truth["firstUnits"]) <= {sn for sn, _, _ in found}
    if which == "splitLot":
        assert set(truth["sublots"]) <= {d["lotNumber"] for d in lot["derivedLots"]}
    if which == "mergedLot":
        assert truth["lot"] in {d["lotNumber"] for d in lot["derivedLots"]}


def test_q3_design_change_impact(demo_thread: DemoThread) -> None:
    truth = demo_thread.manifest["groundTruth"]["eco"]
    eco = run(demo_thread, 3)["changeOrder"]
    assert eco["changeNumber"] == truth["number"] and eco["effectiveFrom"] == truth["effectiveFrom"]
    assert (eco["fromRevision"]["revision"], eco["toRevision"]["revision"]) == (
        truth["fromRevision"],
        truth["toRevision"],
    )
    serials = [i["unit"]["serialNumber"] for i in eco["impact"]]
    assert sorted(serials) == sorted(truth["unitsBuiltToOldAfterEffectivity"])
    rows = sparql(
        demo_thread,
        f'SELECT ?sn ?ncr ?capa WHERE {{ ?e tl:changeNumber "{truth["number"]}" ; tl:fromRevision ?rev ; '
        "tl:effectiveFrom ?eff . ?u tl:builtTo ?rev ; tl:startedAt ?t ; tl:serialNumber ?sn "
        'FILTER(?t >= xsd:dateTime(CONCAT(STR(?eff), "T00:00:00Z"))) '
        'BIND(EXISTS { ?n tl:concernsItem ?u ; tl:ncrStatus "open" } AS ?ncr) '
        'BIND(EXISTS { ?n2 tl:concernsItem ?u ; tl:capa ?c . ?c tl:capaStatus "open" } AS ?capa) }',
    )
    expected = {(r["sn"], r["ncr"] == "true", r["capa"] == "true") for r in rows}
    assert {(i["unit"]["serialNumber"], i["hasOpenNcr"], i["hasOpenCapa"]) for i in eco["impact"]} == expected


def test_q3_impact_flags_open_issues(demo_thread: DemoThread) -> None:
    """The demo's late-B units have no open NCR; revision B's impact since the start shows the flags work."""
    query = (
        '{ revision(partNumber: "FC-1000", revision: "B") '
        '{ impact(since: "2000-01-01") { unit { serialNumber } hasOpenNcr hasOpenCapa } } }'
    )
    result = execute(demo_thread.store, query)
    assert result.errors is None, result.errors
    flagged = {i["unit"]["serialNumber"] for i in result.data["revision"]["impact"] if i["hasOpenNcr"]}
    expected = column(
        demo_thread,
        'SELECT ?sn WHERE { ?u tl:builtTo/tl:revisionLabel "B" ; tl:builtTo/tl:revisionOf/tl:partNumber "FC-1000" ; '
        'tl:serialNumber ?sn . ?n tl:concernsItem ?u ; tl:ncrStatus "open" }',
        "sn",
    )
    assert flagged == expected


def test_q4_capa(demo_thread: DemoThread) -> None:
    truth = demo_thread.manifest["groundTruth"]["capaWithSeveralNcrs"]
    capa = run(demo_thread, 4)["capa"]
    assert capa["capaNumber"] == truth["capa"]
    assert [n["ncrNumber"] for n in capa["ncrs"]] == sorted(truth["ncrs"])
    c = f'?c tl:capaNumber "{truth["capa"]}" .'
    (row,) = sparql(
        demo_thread, f"SELECT ?rc ?done WHERE {{ {c} ?c tl:rootCause ?rc ; tl:effectivenessCheckDone ?done }}"
    )
    assert capa["rootCause"] == row["rc"] and capa["effectivenessCheckDone"] == (row["done"] == "true")
    assert set(capa["actions"]) == column(demo_thread, f"SELECT ?a WHERE {{ {c} ?c tl:action ?a }}", "a")
    units = {(n["item"]["identifier"], n["item"]["builtTo"]["revision"]) for n in capa["ncrs"]}
    expected = {
        (r["sn"], r["rev"])
        for r in sparql(
            demo_thread,
            f"SELECT ?sn ?rev WHERE {{ {c} ?c tl:addresses ?n . ?n tl:concernsItem ?u . "
            "?u tl:serialNumber ?sn ; tl:builtTo/tl:revisionLabel ?rev }",
        )
    }
    assert units == expected and len(units) == len(truth["ncrs"])
    assert {u["serialNumber"] for u in capa["affectedUnits"]} >= {sn for sn, _ in units}


def test_q5_where_used(demo_thread: DemoThread) -> None:
    truth = demo_thread.manifest["groundTruth"]["partAtSeveralBomLevels"]
    part = run(demo_thread, 5)["part"]
    assert part["partNumber"] == truth["part"]
    parents = {
        f"{w['parentRevision']['part']['partNumber']}/{w['parentRevision']['revision']}" for w in part["whereUsed"]
    }
    assert parents >= set(truth["parents"])
    expected = column(
        demo_thread,
        f'SELECT DISTINCT ?id WHERE {{ ?p tl:partNumber "{truth["part"]}" . '
        "?p (^tl:childPart/tl:parentRevision/tl:revisionOf)* ?q . ?line tl:childPart ?q ; tl:parentRevision ?rev . "
        '?rev tl:revisionLabel ?rl ; tl:revisionOf/tl:partNumber ?pn BIND(CONCAT(?pn, "/", ?rl) AS ?id) }',
        "id",
    )
    assert parents == expected
    direct = {
        f"{w['parentRevision']['part']['partNumber']}/{w['parentRevision']['revision']}"
        for w in part["whereUsed"]
        if w["level"] == 1
    }
    assert direct == set(truth["parents"])


def test_example_files_are_listed_in_the_docs() -> None:
    docs = (REPO / "docs" / "graphql.md").read_text(encoding="utf-8")
    for path in sorted(EXAMPLES.glob("*.graphql")):
        assert path.name in docs, f"docs/graphql.md does not show {path.name}"
