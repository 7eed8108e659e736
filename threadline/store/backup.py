"""Verified backups: every backup carries the digest of what it holds, and a restore proves it got it back.

An on-disk store is backed up as a RocksDB checkpoint (consistent while the service keeps writing; the files
are hard links where the file system allows, so it is quick); in-memory and remote stores as N-Quads. The
sidecar ``<backup>.json`` records the dataset digest (``Store.digest``), the quad count and when; ``restore``
rebuilds a store from the backup, recomputes the digest and refuses to hand over a store that differs.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pyoxigraph as ox

from threadline.errors import StoreError
from threadline.store.base import Store
from threadline.store.embedded import EmbeddedStore


class BackupFailed(StoreError):
    """A backup asked for over HTTP could not be made: the message says why, for the admin who asked (server
    folders named as ``threadline.web.errors.public`` names them)."""

    public = True


def sidecar(backup: Path) -> Path:
    return backup.with_name(backup.name + ".json")


def make_backup(store: Store, target: Path, *, made: Path | None = None) -> tuple[Path, str]:
    """Back ``store`` up under ``target`` (or describe ``made``, a backup of it just taken); returns the backup's
    path and the digest it holds."""
    path = made or store.backup(target)
    copy = EmbeddedStore(path, read_only=True) if path.is_dir() else _load_nquads(path)
    try:
        digest, quads = copy.digest(), copy.stats().triples
    finally:
        copy.close()
    meta = {
        "digest": digest,
        "quads": quads,
        "source": store.url,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "format": _kind(path),
    }
    sidecar(path).write_text(json.dumps(meta, indent=2) + "\n")
    return path, digest


def restore(backup: Path, target: Path, *, force: bool = False) -> str:
    """Rebuild an on-disk store at ``target`` from ``backup``; returns the verified digest."""
    meta_path = sidecar(backup)
    if not backup.exists():
        raise StoreError(f"backup not found: {backup}")
    if not meta_path.is_file():
        raise StoreError(f"{meta_path} is missing: cannot verify the backup, refusing to restore it")
    expected = json.loads(meta_path.read_text())["digest"]
    if target.exists() and any(target.iterdir()):
        if not force:
            raise StoreError(f"{target} is not empty: stop the service and pass --force to replace that store")
        shutil.rmtree(target)
    staging = target.with_name(target.name + ".restoring")
    if staging.exists():
        shutil.rmtree(staging)
    if backup.is_dir():
        shutil.copytree(backup, staging)
        restored = EmbeddedStore(staging)
    else:
        restored = EmbeddedStore(staging)
        restored.load(backup, rdf_format=ox.RdfFormat.N_QUADS)
    try:
        actual = restored.digest()
    finally:
        restored.close()
    if actual != expected:
        shutil.rmtree(staging)
        raise StoreError(f"restored data differs from the backup's record (digest {actual[:12]}… ≠ {expected[:12]}…)")
    staging.rename(target)
    return actual


def _load_nquads(path: Path) -> EmbeddedStore:
    store = EmbeddedStore(None)
    store.load(path, rdf_format=ox.RdfFormat.N_QUADS)
    return store


def _kind(path: Path) -> str:
    return "rocksdb-checkpoint" if path.is_dir() else "n-quads"
