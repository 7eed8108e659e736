"""`sh bin/run` keeps the demo store across restarts (`--fresh` starts again), set-up runs only when something
changed, and `threadline validate` refuses to call an empty or missing store "conforms"."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from tests.conftest import REPO
from threadline.cli import main
from threadline.config import Settings
from threadline.demo.workspace import demo_root, prepare
from threadline.errors import DemoError
from threadline.queries import Parameter
from threadline.store import open_store

MARK = "INSERT DATA { GRAPH <urn:test:mine> { <urn:test:a> <urn:test:b> 'kept' } }"
ASK = "ASK { GRAPH <urn:test:mine> { <urn:test:a> <urn:test:b> 'kept' } }"
UNITS = 25  # the smallest demo: these tests are about the store's lifetime, not its content


def _prepare(settings: Settings, *, fresh: bool = False, units: int = UNITS) -> str:
    return prepare(settings, None, units, 42, fresh, Console(stderr=True, quiet=True))


def test_the_demo_store_and_what_users_add_survive_a_restart(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path)
    url = _prepare(settings)
    with open_store(url) as store:
        units = store.select(
            "SELECT (COUNT(*) AS ?n) WHERE { ?u <https://w3id.org/threadline/ontology#serialNumber> ?s }"
        )
        assert int(units.rows[0][0].value) >= UNITS
        store.update(MARK)
    assert _prepare(settings) == url  # a restart
    with open_store(url) as store:
        assert store.ask(ASK), "the user's own data was wiped by a restart"
    _prepare(settings, fresh=True)
    with open_store(url) as store:
        assert not store.ask(ASK), "--fresh kept the old store"
        assert store.ask("ASK { ?u <https://w3id.org/threadline/ontology#serialNumber> 'FC-0000001' }")


def test_another_size_than_the_kept_demo_is_refused_not_served(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path)
    _prepare(settings)
    with pytest.raises(DemoError, match=r"keeps the demo of 25 units .* --fresh"):
        _prepare(settings, units=30)


def test_a_demo_whose_load_did_not_finish_is_rebuilt(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path)
    url = _prepare(settings)
    with open_store(url) as store:
        store.update(MARK)
    (demo_root(settings) / "loaded.json").unlink()  # as if the first start had been stopped mid-load
    _prepare(settings)
    with open_store(url) as store:
        assert not store.ask(ASK)
        assert store.ask("ASK { ?u <https://w3id.org/threadline/ontology#serialNumber> 'FC-0000001' }")


def test_fresh_needs_demo() -> None:
    result = CliRunner().invoke(main, ["serve", "--fresh"])
    assert result.exit_code == 2 and "--fresh only applies to --demo" in result.output


def _validate(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "threadline", "validate", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_validate_without_a_store_is_an_error_naming_the_path(tmp_path: Path) -> None:
    result = _validate(tmp_path)
    assert result.returncode == 2, result.stdout[-500:]
    assert "no store at var/store" in result.stderr
    assert not (tmp_path / "var").exists(), "validate created a store"


def test_validate_an_empty_store_is_an_error_unless_allowed(tmp_path: Path) -> None:
    open_store(str(tmp_path / "empty")).close()
    result = _validate(tmp_path, "--store", str(tmp_path / "empty"))
    assert result.returncode == 2 and f"{tmp_path / 'empty'} is empty" in result.stderr
    allowed = _validate(tmp_path, "--store", str(tmp_path / "empty"), "--allow-empty", "--format", "csv")
    assert allowed.returncode == 0, allowed.stderr


@pytest.mark.parametrize(
    ("given", "instant"),
    [
        ("2024-12-01", "2024-12-01T00:00:00+00:00"),
        ("2024-12-01T00:00:00", "2024-12-01T00:00:00+00:00"),
        ("2024-12-01T00:00:00Z", "2024-12-01T00:00:00+00:00"),
        ("2024-12-01T01:00:00+01:00", "2024-12-01T01:00:00+01:00"),
    ],
)
def test_a_datetime_parameter_is_always_an_instant(given: str, instant: str) -> None:
    assert Parameter("asOf", "dateTime").convert(given).isoformat() == instant  # type: ignore[union-attr]


@pytest.mark.parametrize("given", ["2024-13-01", "yesterday", "2024-12-01 00:00", "20241201"])
def test_a_malformed_datetime_parameter_is_refused(given: str) -> None:
    from threadline.errors import QueryError

    with pytest.raises(QueryError, match="asOf"):
        Parameter("asOf", "dateTime").convert(given)


def _fake_checkout(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of bin/ and the set-up inputs, with a .venv whose python and threadline only log their calls:
    the scripts' decisions are what is tested, not pip."""
    root = tmp_path / "checkout"
    (root / "threadline").mkdir(parents=True)
    shutil.copytree(REPO / "bin", root / "bin")
    for name in ("pyproject.toml", "setup.py", "constraints.txt"):
        shutil.copy(REPO / name, root / name)
    shutil.copy(REPO / "threadline" / "vendor.json", root / "threadline" / "vendor.json")
    calls = tmp_path / "calls.log"
    venv_bin = root / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    for tool in ("python", "threadline"):
        script = venv_bin / tool
        script.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{calls}"\n')
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return root, calls


def test_setup_installs_only_when_something_changed(tmp_path: Path) -> None:
    root, calls = _fake_checkout(tmp_path)

    def setup() -> list[str]:
        calls.unlink(missing_ok=True)
        result = subprocess.run(["sh", "bin/setup"], cwd=root, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
        return [c for c in (calls.read_text().splitlines() if calls.exists() else []) if "pip install" in c]

    assert setup(), "the first set-up installed nothing"
    assert setup() == [], "set-up reinstalled although nothing changed"
    with (root / "constraints.txt").open("a") as handle:
        handle.write("# changed\n")
    assert setup(), "set-up ignored a change of constraints.txt"


def test_run_passes_fresh_to_serve(tmp_path: Path) -> None:
    root, calls = _fake_checkout(tmp_path)
    result = subprocess.run(["sh", "bin/run", "--fresh"], cwd=root, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "threadline serve --demo --fresh" in calls.read_text().splitlines()
