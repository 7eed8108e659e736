"""Reading commands (``stats``, ``query``, ``validate``, ``dump``) beside a running service.

RocksDB lets one process hold an on-disk store; while ``threadline serve`` runs, opening it again fails with a
lock error. The service already publishes consistent read-only checkpoints for its query workers
(``threadline.store.snapshots``), so a reading command reads the latest of those and says which state it read.

The service deletes a snapshot once none of its workers uses it, which could pull files from under another
process's reader. So the command first hard-links the snapshot's files into a private folder beside the store
(same file system: links, not copies, a few milliseconds) and reads that; a snapshot deleted while being linked
is simply retried with the next one. The private folder is removed on close.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from threadline.config import Settings
from threadline.errors import StoreUnavailable
from threadline.store import disk_path, open_store
from threadline.store.base import Store
from threadline.store.embedded import EmbeddedStore
from threadline.store.snapshots import snapshot_root

ATTEMPTS = 5


def latest(store_path: Path) -> Path | None:
    """The newest snapshot the service published (RocksDB renames a checkpoint into place only once complete)."""
    root = snapshot_root(store_path)
    try:
        names = sorted(entry.name for entry in root.iterdir() if entry.name.isdigit())
    except OSError:
        return None
    return root / names[-1] if names else None


class PublishedView(EmbeddedStore):
    """A read-only store over a private hard-linked copy of the service's latest published snapshot."""

    def __init__(self, store_path: Path) -> None:
        self.store_path = store_path
        self.snapshot, self._folder = _link_latest(store_path)
        self.taken = self.snapshot.stat().st_mtime if self.snapshot.exists() else time.time()
        try:
            super().__init__(self._folder / "store", read_only=True)
        except Exception:
            shutil.rmtree(self._folder, ignore_errors=True)
            raise
        self.url = f"oxigraph:{store_path}"
        atexit.register(self.close)  # commands that exit without closing leave no copy behind

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.taken))
        return (
            f"{self.store_path} is held by a running service: reading its latest published snapshot "
            f"({self.snapshot.name}, taken {when}), read-only; writes the service made after it are not included"
        )

    def close(self) -> None:
        atexit.unregister(self.close)
        try:
            super().close()
        finally:
            shutil.rmtree(self._folder, ignore_errors=True)


def _link_latest(store_path: Path) -> tuple[Path, Path]:
    for _ in range(ATTEMPTS):
        snapshot = latest(store_path)
        if snapshot is None:
            raise StoreUnavailable(
                f"the store at {store_path} is held by another process that has published no snapshot in "
                f"{snapshot_root(store_path)}; stop it, or query the running service over HTTP"
            )
        folder = Path(tempfile.mkdtemp(prefix=f".{store_path.name}.view-", dir=store_path.parent))
        try:
            _link_tree(snapshot, folder / "store")
            return snapshot, folder
        except FileNotFoundError:  # the service collected it meanwhile: take the next one
            shutil.rmtree(folder, ignore_errors=True)
    raise StoreUnavailable(f"the snapshots of {store_path} kept changing while being read; try again")


def _link_tree(source: Path, target: Path) -> None:
    target.mkdir()
    for entry in source.iterdir():
        if entry.is_dir():
            _link_tree(entry, target / entry.name)
        else:
            try:
                os.link(entry, target / entry.name)
            except OSError as exc:
                if isinstance(exc, FileNotFoundError):
                    raise
                shutil.copy2(entry, target / entry.name)  # another file system after all: copy


def open_for_reading(url: str | None, settings: Settings, notice: Callable[[str], None]) -> Store:
    """The store itself (crash leftovers dropped), or, when a running service holds it, a read-only view of its
    latest published snapshot; ``notice`` is told which state is read."""
    url = url if url is not None else settings.store
    try:
        return open_store(url, settings)  # every open recovers (Store.recover)
    except StoreUnavailable:
        path = disk_path(url)
        if path is None or not path.is_dir():
            raise
    view = PublishedView(path)
    notice(view.describe())
    return view
