"""The committed SDL (graphql/schema.graphql) is exactly what the code builds, and the examples validate."""

from __future__ import annotations

from graphql import build_schema as parse_sdl
from graphql import parse, validate

from tests.conftest import REPO
from threadline.graphql_api.export import SDL_PATH, main
from threadline.graphql_api.schema import sdl


def test_committed_sdl_matches_the_code() -> None:
    committed = SDL_PATH.read_text(encoding="utf-8")
    assert committed == sdl(), "graphql/schema.graphql is stale: run python -m threadline.graphql_api.export"
    assert main(["--check"]) == 0


def test_export_check_detects_a_stale_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    stale = tmp_path / "schema.graphql"
    stale.write_text("type Query { old: Int }\n")
    assert main(["--check", "--out", str(stale)]) == 1
    assert main(["--out", str(stale)]) == 0 and stale.read_text() == sdl()


def test_every_example_validates_against_the_committed_sdl() -> None:
    schema = parse_sdl(SDL_PATH.read_text(encoding="utf-8"))
    examples = sorted((REPO / "graphql" / "examples").glob("*.graphql"))
    assert examples
    for path in examples:
        errors = validate(schema, parse(path.read_text(encoding="utf-8")))
        assert errors == [], f"{path.name}: {errors}"


def test_sdl_covers_every_queried_ontology_class() -> None:
    text = SDL_PATH.read_text(encoding="utf-8")
    for name in (
        "Part",
        "PartRevision",
        "BOMLine",
        "ChangeOrder",
        "WorkOrder",
        "SerializedUnit",
        "MaterialLot",
        "Supplier",
        "OperationExecution",
        "Equipment",
        "Person",
        "InspectionResult",
        "Nonconformance",
        "Disposition",
        "CAPA",
        "SourceRecord",
        "Load",
    ):
        assert f"type {name} " in text, name
    assert "interface Node" in text and "provenance: [SourceRecord!]!" in text
