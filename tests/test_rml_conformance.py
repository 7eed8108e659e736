"""Data-driven conformance: legacy RML (RMLio rml-test-cases), RML-Core and RML-IO file sources.

One pytest case per case folder that is present (manifests name folders we do not ship). A case passes
when the engine's output is isomorphic (as a dataset: blank nodes and named graphs) to the expected
output, or, for error cases, when the engine raises a ThreadlineError. Logical-target cases (RML-IO
RMLTTC*) are compared against the union of all their expected outputs: our engine streams one N-Quads
output and the loader, not the mapping, decides where it goes. Known failures are listed by name with a
reason in ``KNOWN_FAILURES`` and run as strict xfails; docs/conformance.md mirrors them.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import lzma
import os
import re
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from rdflib import Dataset, Graph

from threadline.errors import ThreadlineError
from threadline.mapping import load_mapping

try:
    from rdfcompare import Quad, assert_same_quads, from_rdflib, parse_nquads
except ImportError:  # pragma: no cover - when tests is imported as a package
    from tests.rdfcompare import Quad, assert_same_quads, from_rdflib, parse_nquads

REPO = Path(__file__).resolve().parents[1]
CONFORMANCE = Path(os.environ.get("THREADLINE_CONFORMANCE_DIR", REPO.parent / "shared" / "conformance"))

# name -> reason; these run as strict xfails so a fix is noticed.
KNOWN_FAILURES: dict[str, str] = {
    "rml/RMLTC0002g-JSON": (
        "not in metadata.csv; ships an empty output.nq for a mapping whose source file is absent and whose "
        "iterator '$.students[*]]' is invalid JSONPath - we raise, as RML-Core's RMLTC0002g-JSON expects"
    ),
    "rml/RMLTC0007h-CSV": (
        "expects empty output for 'rr:graph [ ... rr:termType rr:Literal ]' (a term map where a constant "
        "IRI is required) - we reject the invalid mapping, as RML-Core's RMLTC0007h-JSON expects"
    ),
    "rml/RMLTC0007h-JSON": "same as rml/RMLTC0007h-CSV: invalid graph map rejected, manifest expects empty output",
    "rml/RMLTC0007h-XML": "same as rml/RMLTC0007h-CSV: invalid graph map rejected, manifest expects empty output",
    "rml-io/RMLSTC0009a": (
        "metadata.csv says error=true but the case ships output.nq for a valid RFC 4180 file with a quoted "
        "header; we produce exactly that output rather than fail on valid CSV"
    ),
}


@dataclass
class Case:
    suite: str
    name: str
    folder: Path
    expect_error: bool
    outputs: list[str] = field(default_factory=list)
    base_iri: str | None = None
    on_error: str = "fail"
    skip: str | None = None

    @property
    def id(self) -> str:
        return f"{self.suite}/{self.name}"


def _rows(path: Path, key: str) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return {row[key]: row for row in csv.DictReader(handle)}


def _legacy_cases() -> list[Case]:
    root = CONFORMANCE / "rmlio-rml-test-cases"
    if not (root / "metadata.csv").exists():
        return []
    meta = _rows(root / "metadata.csv", "RML id")
    cases = []
    for folder in sorted(p for p in (root / "test-cases").iterdir() if p.is_dir()):
        row = meta.get(folder.name)
        has_output = (folder / "output.nq").exists()
        error = row["error expected?"].strip().lower() == "true" if row else not has_output
        case = Case("rml", folder.name, folder, error, ["output.nq"] if has_output else [])
        if row and not error and "data error" in row["title"]:
            case.on_error = "skip"  # R2RML data errors: the bad record is dropped, the rest is expected
        cases.append(case)
    return cases


def _core_cases() -> list[Case]:
    root = CONFORMANCE / "rml-core-tests"
    if not (root / "metadata.csv").exists():
        return []
    meta = _rows(root / "metadata.csv", "ID")
    cases = []
    for name, row in sorted(meta.items()):
        folder = root / name
        if not folder.is_dir():
            continue
        outputs = [row[k] for k in ("output1", "output2", "output3") if row.get(k)]
        error = row["error"].strip().lower() == "true"
        cases.append(Case("rml-core", name, folder, error, outputs, base_iri=row.get("base_iri") or None))
    return cases


def _io_cases() -> list[Case]:
    root = CONFORMANCE / "rml-io-tests"
    if not (root / "metadata.csv").exists():
        return []
    meta = _rows(root / "metadata.csv", "ID")
    cases = []
    for name, row in sorted(meta.items()):
        folder = root / name
        if not folder.is_dir():
            continue
        outputs = [row[k] for k in ("output1", "output2", "output3") if row.get(k)]
        outputs = [o for o in outputs if (folder / o).exists()] or (
            ["output.nq"] if (folder / "output.nq").exists() else []
        )
        error = row["error"].strip().lower() == "true"
        case = Case("rml-io", name, folder, error, outputs)
        text = (folder / "mapping.ttl").read_text(encoding="utf-8")
        if "d2rq:" in text or "SQL2008" in text:
            case.skip = "database sources are out of scope"
        elif "SPARQL" in text:
            case.skip = "SPARQL sources are out of scope"
        elif re.match(r"RMLTTC000[456]", name):
            case.skip = (
                "logical-target serialisation format / encoding / compression is out of scope: the engine "
                "streams N-Quads to the loader, which decides where they go"
            )
        cases.append(case)
    return cases


CASES = _legacy_cases() + _core_cases() + _io_cases()


def _params() -> list[object]:
    if not CASES:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"conformance suites not found at {CONFORMANCE}"))]
    params = []
    for case in CASES:
        marks = []
        if case.skip:
            marks.append(pytest.mark.skip(reason=case.skip))
        elif case.id in KNOWN_FAILURES:
            marks.append(pytest.mark.xfail(reason=KNOWN_FAILURES[case.id], strict=True))
        params.append(pytest.param(case, id=case.id, marks=marks))
    return params


def _decompress(path: Path) -> bytes:
    data = path.read_bytes()
    name = path.name
    if name.endswith((".tar.gz", ".tar.xz")):
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            member = next(m for m in archive.getmembers() if m.isfile())
            handle = archive.extractfile(member)
            assert handle is not None
            return handle.read()
    if name.endswith(".gz"):
        return gzip.decompress(data)
    if name.endswith(".xz"):
        return lzma.decompress(data)
    if name.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.read(next(n for n in archive.namelist() if not n.endswith("/")))
    return data


_FORMATS = {
    ".ttl": "turtle",
    ".n3": "n3",
    ".jsonld": "json-ld",
    ".rdfxml": "xml",
    ".rdf": "xml",
}


def _rdfjson(data: bytes) -> set[Quad]:
    quads: set[Quad] = set()
    for s, props in json.loads(data).items():
        subject = ("B", s[2:]) if s.startswith("_:") else ("I", s)
        for p, objects in props.items():
            for o in objects:
                if o["type"] == "uri":
                    obj = ("I", o["value"])
                elif o["type"] == "bnode":
                    obj = ("B", o["value"][2:])
                else:
                    dt = o.get("datatype", "")
                    obj = ("L", o["value"], "" if dt.endswith("#string") else dt, o.get("lang", "").lower())
                quads.add((subject, ("I", p), obj, None))
    return quads


def _expected(case: Case) -> set[Quad]:
    quads: set[Quad] = set()
    for output in case.outputs:
        path = case.folder / output
        data = _decompress(path)
        stem = re.sub(r"\.(gz|xz|zip|tar)$", "", re.sub(r"\.tar\.(gz|xz)$", "", output))
        suffix = Path(stem).suffix
        if suffix in (".nq", ".nt", ""):
            text = data.decode("utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else data.decode("utf-8")
            quads |= parse_nquads(text)
        elif suffix == ".rdfjson":
            quads |= _rdfjson(data)
        else:
            graph: Graph = Dataset() if suffix == ".jsonld" else Graph()
            graph.parse(data=data, format=_FORMATS[suffix])
            quads |= {
                (from_rdflib(s), from_rdflib(p), from_rdflib(o), None) for s, p, o in graph.triples((None, None, None))
            }
    return quads


def _mapping_file(case: Case) -> Path:
    for name in ("mapping.ttl", "mapping.yml", "mapping.yaml"):
        if (case.folder / name).exists():
            return case.folder / name
    raise FileNotFoundError(f"no mapping in {case.folder}")


def run_case(case: Case) -> str:
    mapping = load_mapping(_mapping_file(case))
    run = mapping.execute(base_dir=case.folder, on_error=case.on_error, base_iri=case.base_iri)  # type: ignore[arg-type]
    return "".join(run)


@pytest.mark.parametrize("case", _params())
def test_conformance(case: Case) -> None:
    if case.expect_error:
        with pytest.raises(ThreadlineError):
            output = run_case(case)
            pytest.fail(f"{case.id}: expected an error, got output:\n{output}")
        return
    output = run_case(case)
    assert_same_quads(_expected(case), parse_nquads(output), case.id)
