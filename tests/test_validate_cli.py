"""``threadline validate`` on files: exit codes, formats, and a malformed shapes file named by line."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from threadline.cli import main
from threadline.shacl.commands import validate_command

SHAPES = """@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix ex: <http://example.org/> .
ex:S a sh:NodeShape ; sh:targetClass ex:Unit ;
  sh:property [ sh:path ex:serial ; sh:minCount 1 ; sh:message "Unit has no serial." ] .
"""
DATA = """@prefix ex: <http://example.org/> .
ex:u1 a ex:Unit ; ex:serial "SN-1" .
ex:u2 a ex:Unit .
"""


def _files(tmp_path: Path, data: str = DATA) -> tuple[Path, Path]:
    (tmp_path / "shapes.ttl").write_text(SHAPES)
    (tmp_path / "data.ttl").write_text(data)
    return tmp_path / "shapes.ttl", tmp_path / "data.ttl"


def test_nonconforming_json_exit_1(tmp_path: Path) -> None:
    shapes, data = _files(tmp_path)
    result = CliRunner().invoke(validate_command, ["--shapes", str(shapes), "--data", str(data), "--format", "json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["conforms"] is False
    assert [r["focus"] for r in report["results"]] == ["http://example.org/u2"]
    assert report["results"][0]["message"] == "Unit has no serial."


def test_conforming_exit_0_both_engines(tmp_path: Path) -> None:
    shapes, data = _files(tmp_path, DATA.replace("ex:u2 a ex:Unit .", ""))
    for engine in ("native", "pyshacl"):
        result = CliRunner().invoke(
            validate_command, ["--shapes", str(shapes), "--data", str(data), "--engine", engine]
        )
        assert result.exit_code == 0, result.output
        assert "sh:conforms true" in result.stdout


def test_formats_written_to_file(tmp_path: Path) -> None:
    shapes, data = _files(tmp_path)
    for fmt in ("html", "csv", "xlsx", "turtle"):
        out = tmp_path / f"report.{fmt}"
        result = CliRunner().invoke(
            validate_command, ["--shapes", str(shapes), "--data", str(data), "--format", fmt, "-o", str(out)]
        )
        assert result.exit_code == 1, result.output
        assert out.stat().st_size > 0
    assert "u2" in (tmp_path / "report.csv").read_text()
    assert (tmp_path / "report.xlsx").read_bytes()[:2] == b"PK"


def test_malformed_shapes_names_line(tmp_path: Path) -> None:
    shapes, data = _files(tmp_path)
    shapes.write_text(SHAPES.replace("sh:minCount 1 ;", "sh:minCount 1 ;;;; ]] ."))
    # through the `threadline` command: its error boundary turns the error into exit status 2
    result = CliRunner().invoke(main, ["validate", "--shapes", str(shapes), "--data", str(data)])
    assert result.exit_code == 2
    assert "shapes.ttl" in result.stderr and "line 4" in result.stderr


def test_literals_reported_as_the_file_writes_them(tmp_path: Path) -> None:
    """The store keeps typed literals by value ("300"^^xsd:byte would become an xsd:integer, 2.50 would become
    2.5): the shapes that read such values are validated on the file as written, by both engines alike."""
    (tmp_path / "shapes.ttl").write_text(
        """@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix ex: <http://example.org/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
ex:S a sh:NodeShape ; sh:targetClass ex:Unit ;
  sh:property [ sh:path ex:level ; sh:datatype xsd:byte ] ;
  sh:property [ sh:path ex:weight ; sh:pattern "^[0-9]+[.][0-9]{2}$" ] ;
  sh:property [ sh:path ex:serial ; sh:minCount 1 ] .
"""
    )
    (tmp_path / "data.ttl").write_text(
        """@prefix ex: <http://example.org/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
ex:u1 a ex:Unit ; ex:level "300"^^xsd:byte ; ex:weight 2.50 .
"""
    )
    reports = {}
    files = ["--shapes", str(tmp_path / "shapes.ttl"), "--data", str(tmp_path / "data.ttl")]
    for engine in ("native", "pyshacl"):
        result = CliRunner().invoke(validate_command, [*files, "--format", "json", "--engine", engine])
        assert result.exit_code == 1, result.output
        reports[engine] = sorted((r["path"], r["value"]) for r in json.loads(result.stdout)["results"])
    # the byte is ill-formed as written; 2.50 matches the pattern as written (the store would say "2.5")
    assert reports["native"] == reports["pyshacl"]
    assert sorted(value for _, value in reports["native"]) == ["", "300"], reports
    assert not [path for path, _ in reports["native"] if "weight" in path], reports
