# ruff: noqa: E501  (hand-written SPARQL reads better unwrapped)
"""GraphQL benchmark: questions 1, 2 and 3 through the schema in-process vs one hand-tuned SPARQL query each.

    .venv/bin/python bench/graphql.py [--units 10000 100000] [--seed 42] [--reps 30] [--work var/bench-graphql]

For each size: generate the demo exports (seed 42), load them through the mapping pack into an on-disk store
(kept under ``--work`` and reused by later runs), ``optimize()`` it, then for each question run
  1. graphql: the committed example operation (graphql/examples/N-*.graphql) executed by the schema
     in-process, with the variables of that size's manifest ground truth (fresh loaders per request);
  2. limit: one hand-written SPARQL query returning the same facts (rows instead of nested JSON),
and print the first request of each side on a freshly opened store (cold caches), the warm median and p95
latency of each (the two sides alternating), the ratio graphql/limit (goal: at most 1.5x) and the store round
trips of one GraphQL request.

Both sides must hold the same facts: the identifiers each answer names (operations with their step and
equipment, operators, genealogy items, suppliers, certificates, inspection results, NCRs, dispositions, CAPAs,
source files; lots, derived lots and units; changed units with their NCRs and CAPAs) are extracted from the
GraphQL JSON and from the SPARQL rows and compared; the run stops with the difference when they disagree, since
a fast wrong answer is no result.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder is sys.path[0], and this file is named graphql.py: drop the folder so
# ``import graphql`` finds graphql-core, not this benchmark.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO))

from threadline.graphql_api.compiler import LINKS, LOT_LINKS, PREFIXES  # noqa: E402

SYSTEMS = ("plm", "erp", "mes", "qms")

# The limits are hand-tuned: every branch starts with its own VALUES block binding the subject (@U, @LOT,
# @ECO; for question 3 also the from-revision and the effectivity instant, read from the manifest), so each branch starts from the bound node, and optional parts are UNION branches, not OPTIONAL
# (pyoxigraph evaluated an OPTIONAL's right side unbound: 100-200 ms per branch at 1k units). Measured on pyoxigraph 0.5.13: one VALUES block outside
# the UNION (the branches then run unbound) took 6-10 s at 1k units, and a constant IRI as the subject of a
# `*` path 11 s, against under a millisecond for a VALUES-bound subject.
Q1 = (
    PREFIXES
    + f"""
SELECT * WHERE {{
  {{ @VU ?u tl:serialNumber ?serial ; tl:unitStatus ?status ; tl:builtTo ?rev ; tl:builtUnder ?wo ; tl:location ?location ;
       tl:startedAt ?started ; tl:completedAt ?done .
     ?rev tl:revisionLabel ?revLabel ; tl:lifecycleState ?revState ; tl:revisionOf ?part .
     ?part tl:partNumber ?partNumber ; tl:name ?partName . ?wo tl:workOrderNumber ?woNumber ; tl:workOrderStatus ?woStatus }}
  UNION
  {{ @VU ?op tl:onUnit ?u ; tl:startedAt ?opStart ; tl:endedAt ?opEnd ; tl:operationResult ?opResult ; tl:executesStep ?step ;
       tl:onEquipment ?eq . ?step tl:sequence ?seq ; tl:operationName ?opName . ?eq tl:equipmentId ?eqId ; tl:name ?eqName }}
  UNION
  {{ @VU ?op tl:onUnit ?u ; tl:performedBy ?who . ?who tl:personId ?whoId ; tl:name ?whoName }}
  UNION
  {{ @VU ?u ({LINKS})* ?a . ?a ?rel ?b . VALUES ?rel {{ tl:consumed tl:splitFrom tl:mergedFrom tl:derivedFrom }}
     {{ ?b tl:lotNumber ?bId ; tl:ofPart/tl:partNumber ?bPart ; tl:quantity ?bQty ; tl:unitOfMeasure ?bUom }}
     UNION {{ ?b tl:serialNumber ?bId ; tl:ofPart/tl:partNumber ?bPart ; tl:unitStatus ?bStatus ; tl:builtTo/tl:revisionLabel ?bRev }} }}
  UNION
  {{ @VU ?u ({LINKS})* ?x . ?x tl:consumed ?b . ?b ({LOT_LINKS})* ?src . ?src tl:lotNumber ?srcLot ; tl:suppliedBy ?sup .
     ?sup tl:supplierId ?supId ; tl:name ?supName }}
  UNION
  {{ @VU ?u ({LINKS})* ?x . ?x tl:consumed ?b . ?b ({LOT_LINKS})* ?src . ?src tl:receivedIn/tl:hasCertificate ?coc .
     ?coc tl:certificateNumber ?cocNumber ; tl:issuedAt ?cocAt }}
  UNION
  {{ @VU ?ir tl:inspectedItem ?u ; tl:resultId ?rid ; tl:measuredValue ?value ; tl:inspectionStatus ?irStatus ;
       tl:inspectedAt ?irAt ; tl:forCharacteristic ?ch . ?ch tl:characteristicId ?chId ; tl:name ?chName .
     ?ir tl:lowerLimit ?lo ; tl:upperLimit ?hi ; tl:inspectedBy/tl:personId ?inspector }}
  UNION
  {{ @VU ?n tl:concernsItem ?u ; tl:ncrNumber ?ncr ; tl:ncrStatus ?ncrStatus ; tl:defectCode ?defect }}
  UNION
  {{ @VU ?n tl:concernsItem ?u ; tl:hasDisposition ?d . ?d tl:dispositionType ?dType ; tl:approvedBy/tl:personId ?dBy }}
  UNION
  {{ @VU ?n tl:concernsItem ?u ; tl:capa ?capa . ?capa tl:capaNumber ?capaNumber ; tl:capaStatus ?capaStatus }}
  UNION
  {{ @VU GRAPH ?g {{ ?u tl:sourceRecord ?rec . ?rec tl:inFile ?file ; tl:sourceSystem ?system ; tl:locator ?locator }} }}
}}
"""
)

Q2 = (
    PREFIXES
    + f"""
SELECT * WHERE {{
  {{ @VL ?lot tl:lotNumber ?lotNumber ; tl:ofPart ?part . ?part tl:partNumber ?partNumber ; tl:name ?partName }}
  UNION {{ @VL ?lot ({LOT_LINKS})* ?src . ?src tl:suppliedBy ?sup . ?sup tl:supplierId ?supId ; tl:name ?supName }}
  UNION {{ @VL ?d tl:splitFrom|tl:mergedFrom ?lot . ?d tl:lotNumber ?derived }}
  UNION {{ @VL ?u ({LINKS})+ ?lot . FILTER EXISTS {{ ?u a tl:SerializedUnit }} FILTER NOT EXISTS {{ ?parent tl:consumed ?u }}
      ?u tl:serialNumber ?sn ; tl:unitStatus ?status . OPTIONAL {{ ?u tl:location ?location }}
      OPTIONAL {{ ?u tl:builtTo/tl:revisionLabel ?rev }} }}
}}
"""
)

Q3 = (
    PREFIXES
    + """
SELECT * WHERE {
  { @VE ?eco tl:changeNumber ?number ; tl:changeStatus ?status ; tl:effectiveFrom ?eff ; tl:affectsPart/tl:partNumber ?part ;
         tl:fromRevision/tl:revisionLabel ?fromLabel ; tl:toRevision/tl:revisionLabel ?toLabel }
  UNION
  { @VR ?u tl:builtTo ?from ; tl:startedAt ?t . FILTER(?t >= @SINCE)
    ?u tl:serialNumber ?sn ; tl:unitStatus ?unitStatus .
    OPTIONAL { ?n tl:concernsItem ?u ; tl:ncrNumber ?ncr ; tl:ncrStatus ?ncrStatus .
               OPTIONAL { ?n tl:capa ?capa . ?capa tl:capaNumber ?capaNumber ; tl:capaStatus ?capaStatus } } }
}
"""
)


def prepare(units: int, seed: int, work: Path) -> tuple[Any, dict[str, Any]]:
    from threadline.demo import generate
    from threadline.ingest import load_files
    from threadline.store import EmbeddedStore

    root = work / f"{units}-{seed}"
    exports, store_dir, done = root / "exports", root / "store", root / "loaded"
    if not done.exists() and store_dir.exists():
        import shutil

        shutil.rmtree(store_dir)  # an interrupted earlier load
    store = EmbeddedStore(store_dir)
    if not done.exists():
        print(f"[{units}] generating and loading (once; kept in {root})", file=sys.stderr)
        generate(exports, units=units, seed=seed)
        for system in SYSTEMS:
            load_files(store, system, [exports / system], ingest_dir=REPO / "ingest")
        store.native.optimize()
        done.write_text("ok\n")
    manifest = json.loads((exports / "manifest.json").read_text())
    return store, manifest


class CountingStore:
    """The store, counting the queries that reach it (the round trips of one GraphQL request)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    def select(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.inner.select(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


# -- the facts each side names (compared before anything is timed) ----------------------------------------


def _walk(value: Any, key: str) -> list[Any]:
    """Every value of ``key`` anywhere under ``value`` (GraphQL JSON)."""
    found: list[Any] = []
    if isinstance(value, dict):
        for name, inner in value.items():
            if name == key and not isinstance(inner, dict | list):
                found.append(inner)
            found += _walk(inner, key)
    elif isinstance(value, list):
        for inner in value:
            found += _walk(inner, key)
    return found


def _rows(result: Any, *names: str) -> set[tuple[str, ...]]:
    """Distinct tuples of the named variables over the rows where all of them are bound."""
    index = [result.variables.index(n) for n in names]
    out = set()
    for row in result.rows:
        terms = [row[i] for i in index]
        if all(t is not None for t in terms):
            out.add(tuple(str(t.value) for t in terms))
    return out


def graphql_facts(number: int, data: dict[str, Any]) -> set[tuple[str, ...]]:
    facts: set[tuple[str, ...]] = set()
    if number == 1:
        unit = data["unit"]
        facts.add(("unit", unit["serialNumber"], unit["builtTo"]["revision"], unit["workOrder"]["workOrderNumber"]))
        for op in unit["operations"]:
            step, equipment = op["step"], op["equipment"]
            facts.add(("op", str(step["sequence"]), step["operationName"], equipment["equipmentId"]))
            if op["operator"]:
                facts.add(("operator", op["operator"]["personId"]))
        facts |= {("item", v) for v in _walk(unit["genealogy"], "identifier") if v != unit["serialNumber"]}
        facts |= {("supplier", v) for v in _walk(unit["genealogy"], "supplierId")}
        facts |= {("coc", v) for v in _walk(unit["genealogy"], "certificateNumber")}
        facts |= {("inspection", i["resultId"]) for i in unit["inspections"]}
        for ncr in unit["ncrs"]:
            facts.add(("ncr", ncr["ncrNumber"]))
            if ncr["disposition"]:
                facts.add(("disposition", ncr["disposition"]["dispositionType"]))
            if ncr["capa"]:
                facts.add(("capa", ncr["capa"]["capaNumber"]))
        facts |= {("file", p["file"]) for p in unit["provenance"]}
    elif number == 2:
        lot = data["lot"]
        facts.add(("lot", lot["lotNumber"], lot["part"]["partNumber"]))
        facts |= {("supplier", s["supplierId"]) for s in ([lot["supplier"]] if lot["supplier"] else [])}
        facts |= {("derived", d["lotNumber"]) for d in lot["derivedLots"]}
        facts |= {("unit", u["serialNumber"]) for u in lot["usedIn"]}
    else:
        change = data["changeOrder"]
        facts.add(("eco", change["changeNumber"], change["fromRevision"]["revision"], change["toRevision"]["revision"]))
        for impact in change["impact"]:
            unit = impact["unit"]
            facts.add(("unit", unit["serialNumber"]))
            for ncr in unit["ncrs"]:
                facts.add(("ncr", unit["serialNumber"], ncr["ncrNumber"]))
                if ncr["capa"]:
                    facts.add(("capa", ncr["capa"]["capaNumber"]))
    return facts


def sparql_facts(number: int, result: Any) -> set[tuple[str, ...]]:
    if number == 1:
        facts = {("unit", *t) for t in _rows(result, "serial", "revLabel", "woNumber")}
        facts |= {("op", *t) for t in _rows(result, "seq", "opName", "eqId")}
        facts |= {("operator", *t) for t in _rows(result, "whoId")}
        facts |= {("item", *t) for t in _rows(result, "bId")}
        facts |= {("supplier", *t) for t in _rows(result, "supId")}
        facts |= {("coc", *t) for t in _rows(result, "cocNumber")}
        facts |= {("inspection", *t) for t in _rows(result, "rid")}
        facts |= {("ncr", *t) for t in _rows(result, "ncr")}
        facts |= {("disposition", *t) for t in _rows(result, "dType")}
        facts |= {("capa", *t) for t in _rows(result, "capaNumber")}
        return facts | {("file", *t) for t in _rows(result, "file")}
    if number == 2:
        facts = {("lot", *t) for t in _rows(result, "lotNumber", "partNumber")}
        facts |= {("supplier", *t) for t in _rows(result, "supId")}
        facts |= {("derived", *t) for t in _rows(result, "derived")}
        return facts | {("unit", *t) for t in _rows(result, "sn")}
    facts = {("eco", *t) for t in _rows(result, "number", "fromLabel", "toLabel")}
    facts |= {("unit", *t) for t in _rows(result, "sn")}
    facts |= {("ncr", *t) for t in _rows(result, "sn", "ncr")}
    return facts | {("capa", *t) for t in _rows(result, "capaNumber")}


def same_facts(label: str, graphql: set[tuple[str, ...]], sparql: set[tuple[str, ...]]) -> None:
    if graphql != sparql:
        only_g, only_s = sorted(graphql - sparql)[:20], sorted(sparql - graphql)[:20]
        raise SystemExit(f"{label}: the two answers differ\n  only in GraphQL: {only_g}\n  only in SPARQL: {only_s}")
    if not graphql:
        raise SystemExit(f"{label}: both answers are empty")


def ask_graphql(
    loop: asyncio.AbstractEventLoop, schema: Any, query: str, variables: dict[str, Any], label: str, target: Any
) -> Any:
    from threadline.graphql_api import execute_async

    result = loop.run_until_complete(execute_async(target, query, variables, schema=schema))
    if result.errors:
        raise SystemExit(f"{label}: {result.errors}")
    return result.data


def ask_sparql(sparql: str, target: Any) -> Any:
    from threadline.store import SelectResult

    result = target.select(sparql)
    assert isinstance(result, SelectResult)
    return result


def first(path: Path, ask: Callable[[Any], Any]) -> tuple[float, Any, Any]:
    """One request on a freshly opened store (what the first user after a restart waits); returns the time, the
    answer and the store, left open."""
    from threadline.store import EmbeddedStore

    store = EmbeddedStore(path)
    started = time.perf_counter()
    answer = ask(store)
    return (time.perf_counter() - started) * 1000, answer, store


def timed(runs: list[Callable[[], Any]], reps: int) -> list[tuple[float, float]]:
    """Median and p95 of each run, the runs interleaved so that load from other processes on the machine
    (it is shared) falls on both sides of a ratio alike."""
    for run in runs:
        for _ in range(2):
            run()
    samples: list[list[float]] = [[] for _ in runs]
    for _ in range(reps):
        for run, into in zip(runs, samples, strict=True):
            started = time.perf_counter()
            run()
            into.append((time.perf_counter() - started) * 1000)
    out = []
    for series in samples:
        series.sort()
        out.append((statistics.median(series), series[max(0, round(0.95 * len(series)) - 1)]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--work", type=Path, default=REPO / "var" / "bench-graphql")
    args = parser.parse_args()

    import pyoxigraph as ox

    from threadline.graphql_api.schema import build_schema
    from threadline.namespaces import data_iri
    from threadline.store.params import values_block

    xsd_datetime = ox.NamedNode("http://www.w3.org/2001/XMLSchema#dateTime")

    schema = build_schema()
    examples = {int(p.name.split("-")[0]): p.read_text() for p in (REPO / "graphql" / "examples").glob("*.graphql")}
    print(
        f"{'units':>8} {'question':<22} {'graphql 1st':>12} {'sparql 1st':>11} {'graphql p50':>12} {'p95':>9}"
        f" {'sparql p50':>11} {'p95':>9} {'ratio':>6} {'trips':>6} {'facts':>6}"
    )
    for units in args.units:
        store, manifest = prepare(units, args.seed, args.work)
        truth = manifest["groundTruth"]
        old_rev = values_block(
            {"from": ox.NamedNode(data_iri("rev", truth["eco"]["part"], truth["eco"]["fromRevision"]))}
        )
        since = str(ox.Literal(truth["eco"]["effectiveFrom"] + "T00:00:00Z", datatype=xsd_datetime))
        serial, lot, eco = truth["exampleUnit"]["serial"], truth["sharedSupplierLot"]["lot"], truth["eco"]["number"]
        cases = [
            (
                "1 as-built record",
                1,
                {"serial": serial},
                Q1.replace("@VU", values_block({"u": ox.NamedNode(data_iri("unit", serial))})),
            ),
            (
                "2 suspect lot",
                2,
                {"lotNumber": lot},
                Q2.replace("@VL", values_block({"lot": ox.NamedNode(data_iri("lot", lot))})),
            ),
            (
                "3 change impact",
                3,
                {"number": eco},
                Q3.replace("@VE", values_block({"eco": ox.NamedNode(data_iri("eco", eco))}))
                .replace("@SINCE", since)
                .replace("@VR", old_rev),
            ),
        ]
        loop = asyncio.new_event_loop()
        path = store.path
        for label, number, variables, sparql in cases:
            ask_g = functools.partial(ask_graphql, loop, schema, examples[number], variables, label)
            ask_s = functools.partial(ask_sparql, sparql)
            store.close()
            g1, data, store = first(path, ask_g)
            store.close()
            s1, rows, store = first(path, ask_s)
            facts = graphql_facts(number, data)
            same_facts(f"{units} units, {label}", facts, sparql_facts(number, rows))
            (g50, g95), (s50, s95) = timed(
                [functools.partial(ask_g, store), functools.partial(ask_s, store)], args.reps
            )
            counted = CountingStore(store)
            ask_g(counted)
            print(
                f"{units:>8} {label:<22} {g1:>10.1f}ms {s1:>9.1f}ms {g50:>10.1f}ms {g95:>7.1f}ms {s50:>9.1f}ms"
                f" {s95:>7.1f}ms {g50 / s50:>5.2f}x {counted.calls:>6} {len(facts):>6}",
                flush=True,
            )
        loop.close()
        store.close()


if __name__ == "__main__":
    main()
