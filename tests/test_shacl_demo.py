"""The shape profiles on the demo thread: every seeded gap found, nothing else; both engines agree."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.shacl_demo import REPO, build_demo, store_from
from threadline.shacl.engine import NativeEngine, PyshaclEngine
from threadline.shacl.shapes import load_profile

CORE = "https://w3id.org/threadline/shapes/core#"
# Which shape reports which kind of seeded gap (one shape per kind, so a gap is reported exactly once).
GAP_SHAPES = {
    "unit-missing-final-inspection": CORE + "UnitFinalInspectionShape",
    "ncr-without-disposition": CORE + "NcrDispositionShape",
    "disposition-approved-by-non-mrb": CORE + "DispositionApproverShape",
    "capa-closed-without-effectiveness-check": CORE + "CapaClosureShape",
    "lot-received-without-coc": CORE + "ReceiptCertificatePropertyShape",
    "operation-without-operator": CORE + "OperationOperatorShape",
    "inspection-out-of-limits-passed": CORE + "InspectionConsistencyShape",
    "released-revision-without-signature": CORE + "RevisionSignatureShape",
    "unit-built-to-unreleased-revision": CORE + "UnitBuiltToReleasedShape",
}
PROFILES = ("core", "as9100", "cfr820")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    return build_demo(tmp_path_factory.mktemp("demo-120"), units=120)


@pytest.mark.parametrize("profile", PROFILES)
def test_seeded_gaps_found_exactly(demo: tuple[Path, dict], profile: str) -> None:
    dump, manifest = demo
    outcome = NativeEngine(store_from(dump), load_profile(REPO / "shapes", profile)).validate()
    found = Counter((str(r.shape), str(r.focus)) for r in outcome.results)
    expected = Counter((GAP_SHAPES[g["kind"]], g["focus"]) for g in manifest["gaps"])
    assert found == expected
    assert not outcome.fallback
    assert len(manifest["gaps"]) >= len(GAP_SHAPES)


def test_results_carry_annotations(demo: tuple[Path, dict]) -> None:
    dump, _ = demo
    shapes = load_profile(REPO / "shapes", "as9100")
    outcome = NativeEngine(store_from(dump), shapes).validate()
    for result in outcome.results:
        notes = shapes.annotations(result.shape)
        assert notes["clause"] and notes["ownerRole"] and notes["fixHint"], result.shape
        assert notes["profile"] == "core"
        assert result.messages, result.shape


@pytest.mark.parametrize("units", [40, 120])
@pytest.mark.parametrize("profile", PROFILES)
def test_native_equals_pyshacl(
    tmp_path_factory: pytest.TempPathFactory, demo: tuple[Path, dict], units: int, profile: str
) -> None:
    dump = demo[0] if units == 120 else _small(tmp_path_factory, units)
    store = store_from(dump)
    shapes = load_profile(REPO / "shapes", profile)
    native = Counter(r.key() for r in NativeEngine(store, shapes, fallback=False).validate().results)
    reference = Counter(r.key() for r in PyshaclEngine(store, shapes).validate().results)
    assert native == reference
    assert native


_SMALL: dict[int, Path] = {}


def _small(factory: pytest.TempPathFactory, units: int) -> Path:
    if units not in _SMALL:
        _SMALL[units] = build_demo(factory.mktemp(f"demo-{units}"), units=units)[0]
    return _SMALL[units]
