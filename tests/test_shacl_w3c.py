"""The W3C SHACL Core test suite on both engines, compared as pySHACL's own suite compares reports.

Each case's data goes into a real in-memory store; the report each engine produces through Threadline's
result model is checked with pyshacl's ``check_sht_result``
(conforms flag, number of results, and a structural comparison of every result). The native path must also
compile every core case itself — a case it handed to pyshacl would not test the compiler — except the cases
listed in ``ROUTED``, which it must hand to pyshacl, as it does for the data files ``threadline validate``
checks: their literals would not survive the store as written.

``test_cli_report`` runs every case through ``threadline validate --format turtle -o FILE`` on both engines (it is
the pyshacl engine's only path here) and compares the file it wrote, parsed back: what a user files is what must
equal the W3C expectation (the annotations Threadline adds must not touch the shapes and data copied into it).
"""

from __future__ import annotations

import logging
from copy import deepcopy

import pyoxigraph as ox
import pytest
from click.testing import CliRunner
from pyshacl.validator_conformance import check_sht_result
from rdflib import Graph

from tests.conftest import conformance_dir
from tests.shacl_w3c_cases import Case, cases
from threadline.shacl.commands import validate_command
from threadline.shacl.engine import NativeEngine, as_written
from threadline.shacl.report import report_graph, store_describer
from threadline.shacl.shapes import load_shapes
from threadline.store import EmbeddedStore

ROOT = conformance_dir() / "w3c-shacl-tests" / "tests" / "core"
CASES = cases(ROOT) if ROOT.is_dir() else []

STORE_CANONICAL = (
    "pyoxigraph's store keeps typed literals by value, not by lexical form, so a compiled query would see "
    "another literal than the test file wrote"
)
# name -> why the native engine must hand the case's shapes to pyshacl (it checks that it does).
ROUTED = {
    "node/maxExclusive-001": STORE_CANONICAL + ' (sh:targetNode 4.0 would be "4"^^xsd:decimal)',
    "node/minExclusive-001": STORE_CANONICAL + ' (sh:targetNode 4.0 would be "4"^^xsd:decimal)',
    "node/maxInclusive-001": STORE_CANONICAL + " (sh:targetNode 4.0; it conforms either way, but is named as written)",
    "property/datatype-ill-formed": STORE_CANONICAL + ' (the data\'s "300"^^xsd:byte would be xsd:integer)',
}
# name -> reason; cases listed here are expected to fail on that engine (strict xfail).
KNOWN_FAILURES: dict[str, dict[str, str]] = {
    "native": {},
    "pyshacl": {
        "property/uniqueLang-002": 'pyshacl 0.40.1 reads sh:uniqueLang "1"^^xsd:boolean as true; the spec only '
        "activates the constraint for true",
    },
}


def _params(path: str, engines: tuple[str, ...] = ()) -> list[object]:
    if not CASES:
        skip = pytest.mark.skip(reason=f"W3C SHACL tests not found at {ROOT}")
        return [pytest.param(*([None] * (1 + bool(engines))), marks=skip)]
    out = []
    for engine in engines or (path,):
        for case in CASES:
            reason = KNOWN_FAILURES[engine].get(case.name)
            marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
            values = (engine, case) if engines else (case,)
            out.append(pytest.param(*values, id=f"{engine}-{case.name}" if engines else case.name, marks=marks))
    return out


def _check(case: Case, report) -> None:  # type: ignore[no-untyped-def]
    ok = check_sht_result(report, deepcopy(case.manifest), case.result, logging.getLogger("w3c"))
    assert ok, f"report differs from the expected result of {case.name}:\n{report.serialize(format='turtle')}"


@pytest.mark.parametrize("case", _params("native"))
def test_native(case: Case) -> None:
    store = EmbeddedStore(None)
    data = list(ox.parse(path=str(case.data), format=ox.RdfFormat.TURTLE, base_iri=case.data.resolve().as_uri()))
    store.load(ox.serialize(data, format=ox.RdfFormat.N_TRIPLES) or b"", "urn:test:data", ox.RdfFormat.N_TRIPLES)
    shapes = load_shapes([case.shapes])
    routed = case.name in ROUTED
    outcome = NativeEngine(store, shapes, fallback=routed, written=as_written(data)).validate()
    assert bool(outcome.fallback) == routed, f"expected the case to go to pyshacl: {ROUTED[case.name]}"
    report, _ = report_graph(outcome, shapes, store_describer(store), annotate=False)
    _check(case, report)


@pytest.mark.parametrize(("engine", "case"), _params("cli", ("native", "pyshacl")))
def test_cli_report(engine: str, case: Case, tmp_path) -> None:  # type: ignore[no-untyped-def]
    written = tmp_path / "report.ttl"
    args = ["--shapes", str(case.shapes), "--data", str(case.data), "--engine", engine, "-o", str(written)]
    run = CliRunner().invoke(validate_command, args)
    assert run.exit_code in (0, 1), run.output
    _check(case, Graph().parse(written, format="turtle"))
