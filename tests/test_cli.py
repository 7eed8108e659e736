"""The CLI's verbs work end to end on a real on-disk store (no stubs behind --help)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyoxigraph as ox
from click.testing import CliRunner

from threadline.cli import main
from threadline.store import EmbeddedStore, open_store

DATA = b'<http://example.org/u1> <http://example.org/serial> "SN-1" <http://example.org/g> .\n'


def _store_with_data(path: Path) -> str:
    store = open_store(str(path))
    store.load(DATA)
    store.close()
    return str(path)


def test_help_lists_the_working_verbs() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for verb in ("serve", "load", "map", "stats", "dump", "backup", "demo"):
        assert verb in result.output


def test_stats_dump_and_backup(tmp_path: Path) -> None:
    url = _store_with_data(tmp_path / "store")
    runner = CliRunner()
    stats = runner.invoke(main, ["stats", "--store", url])
    assert stats.exit_code == 0, stats.output
    # the data, and the store's version record (three statements in graph/store, docs/upgrades.md)
    assert "http://example.org/g" in stats.output and "4 triples in 2 graphs" in stats.output
    assert "https://w3id.org/threadline/graph/store" in stats.output

    out = tmp_path / "dump.nq"
    dumped = runner.invoke(main, ["dump", "--store", url, "-o", str(out)])
    assert dumped.exit_code == 0, dumped.output
    lines = out.read_bytes().splitlines(keepends=True)
    assert [line for line in lines if not line.rstrip().endswith(b"<https://w3id.org/threadline/graph/store> .")] == [
        DATA
    ]

    trig = tmp_path / "dump.trig"
    assert runner.invoke(main, ["dump", "--store", url, "--format", "trig", "-o", str(trig)]).exit_code == 0
    assert len(ox.Dataset(ox.parse(path=str(trig), format=ox.RdfFormat.TRIG))) == 4

    backed = runner.invoke(main, ["backup", "--store", url, "--to", str(tmp_path / "backups")])
    assert backed.exit_code == 0, backed.output
    (backup_dir,) = (p for p in (tmp_path / "backups").iterdir() if p.is_dir())
    original = EmbeddedStore(Path(url)).digest()
    assert EmbeddedStore(backup_dir).digest() == original


def test_backup_and_verified_restore(tmp_path: Path) -> None:
    url = _store_with_data(tmp_path / "store")
    runner = CliRunner()
    assert runner.invoke(main, ["backup", "--store", url, "--to", str(tmp_path / "backups")]).exit_code == 0
    (backup_dir,) = (p for p in (tmp_path / "backups").iterdir() if p.is_dir())
    restored = tmp_path / "restored"
    result = runner.invoke(main, ["restore", str(backup_dir), "--store", str(restored)])
    assert result.exit_code == 0, result.output
    assert EmbeddedStore(restored).digest() == EmbeddedStore(Path(url)).digest()
    # a non-empty target needs --force
    again = runner.invoke(main, ["restore", str(backup_dir), "--store", str(restored)])
    assert again.exit_code == 2 and "--force" in again.output


def test_restore_refuses_a_tampered_backup(tmp_path: Path) -> None:
    import json

    from threadline.errors import StoreError
    from threadline.store.backup import make_backup, restore, sidecar

    store = open_store("memory:")
    store.load(DATA)
    path, _ = make_backup(store, tmp_path / "backups")
    assert path.suffix == ".nq"
    meta = json.loads(sidecar(path).read_text())
    path.write_bytes(path.read_bytes().replace(b"SN-1", b"SN-X"))
    import pytest

    with pytest.raises(StoreError, match="differs"):
        restore(path, tmp_path / "restored")
    assert not (tmp_path / "restored").exists()
    assert meta["quads"] == 1


def test_errors_exit_2_with_one_clear_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "threadline", "stats", "--store", "ftp://nowhere"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "unknown store URL scheme" in result.stderr
    assert "Traceback" not in result.stderr


def test_backup_while_the_service_holds_the_store(tmp_path: Path) -> None:
    """A running service keeps the on-disk store locked; backup takes a read-only snapshot and verifies it."""
    url = _store_with_data(tmp_path / "store")
    held = EmbeddedStore(Path(url))  # stands for the running service's handle (same lock as another process)
    script = Path(sys.executable).parent / "threadline"
    result = subprocess.run(
        [str(script), "backup", "--store", url, "--to", str(tmp_path / "backups")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "read-only snapshot" in result.stderr
    (backup_dir,) = (p for p in (tmp_path / "backups").iterdir() if p.is_dir())
    assert EmbeddedStore(backup_dir).digest() == held.digest()
    held.close()


def test_the_running_service_backs_itself_up_over_http(tmp_path: Path, serve_app) -> None:  # type: ignore[no-untyped-def]
    """``POST /admin/backup``: the service checkpoints the store it holds; the backup restores to the same digest."""
    import httpx

    from threadline.config import Settings
    from threadline.store.backup import restore
    from threadline.web.app import create_app

    url = _store_with_data(tmp_path / "store")
    store = EmbeddedStore(Path(url))
    settings = Settings(store=url, write_token="backup-admin", var_dir=tmp_path / "var")
    server = serve_app(create_app(settings, store=store))
    refused = httpx.post(f"{server.url}/admin/backup")
    assert refused.status_code in (401, 403)
    response = httpx.post(f"{server.url}/admin/backup", headers={"Authorization": "Bearer backup-admin"}, timeout=120)
    assert response.status_code == 201, response.text
    body = response.json()
    assert Path(body["backup"]).parent == tmp_path / "var" / "backups"
    assert body["digest"] == store.digest()
    assert restore(Path(body["backup"]), tmp_path / "restored") == store.digest()
