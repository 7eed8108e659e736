"""A built wheel carries the domain content and the fetched front-end assets, so an installed Threadline works."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_wheel_includes_content_and_vendored_assets(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = tmp_path.glob("threadline-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "threadline/_data/ontology/threadline.ttl",
        "threadline/_data/ingest/plm/parts.yarrrml.yml",
        "threadline/_data/shapes/core.ttl",
        "threadline/vendor.json",
    ):
        assert required in names, f"{required} missing from {wheel.name}"
    vendored = REPO / "threadline" / "static" / "vendor"
    for path in vendored.rglob("*"):
        if path.is_file():
            assert f"threadline/static/vendor/{path.relative_to(vendored)}" in names
    assert not any(name.startswith("graphql/") for name in names), "no top-level graphql package may ship"
