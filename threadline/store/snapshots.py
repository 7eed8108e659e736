"""Read-only snapshots of the on-disk store that the writing process publishes for query worker processes.

Query workers (``threadline.sparql.worker``) are separate processes so a runaway query can be killed. They
used to open the live store with ``pyoxigraph.Store.read_only``, which pyoxigraph calls undefined behaviour
beside a writer: RocksDB's compactions delete files such a reader still needs, and during a load's commit
and compaction workers hung until the time limit. A RocksDB *checkpoint* (``pyoxigraph.Store.backup``)
avoids that: it hard-links the immutable table files into a new folder, so nothing the writer does later
changes or removes what the checkpoint sees. Measured on the 100k-unit store (49.7M quads, 169 files):
10–15 ms to create one, 12–15 ms for a worker to open it.

Publication is lazy and consistent:
- the store counts its writes (``EmbeddedStore.generation``, bumped after each write lands); a snapshot is
  published when a query arrives and the count moved since the last one, so a load of many updates costs
  one checkpoint, not one per update, and a caller's own write is visible to its next query;
- not in the middle of a staged write (``Store.staging``): a load's bulk-staged batch graphs are not yet
  part of the thread, so while one is in flight, queries keep the last snapshot (the state before the load)
  instead of waiting — the very wait this module exists to remove;
- old snapshots are deleted once no worker has one open (the executor says which are in use).

Reader views (``reader_view``) are published the same way, one per view and write generation, on the first
query of that view: a checkpoint made in the same quiet moment, then pruned of the graphs the view hides
(outside the lock that base snapshots need, so admin queries do not wait for a pruning).

Snapshots live beside the store, in ``<store>.snapshots/`` (same file system, so links, not copies); the
folder is emptied when a service opens the store, since only one process can hold it for writing.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from threadline.errors import StoreError
from threadline.store.reader_view import View, prune

if TYPE_CHECKING:
    from threadline.store.embedded import EmbeddedStore


def snapshot_root(store_path: Path) -> Path:
    return store_path.with_name(store_path.name + ".snapshots")


class Snapshots:
    """Publishes checkpoints of one on-disk ``EmbeddedStore`` and removes those nobody reads any more."""

    def __init__(self, store: EmbeddedStore) -> None:
        if store.path is None or store.read_only:
            raise StoreError("snapshots are published from an on-disk store opened for writing")
        self.store = store
        self.root = snapshot_root(store.path)
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True)
        self._lock = threading.Lock()
        self._serial = 0
        self._current: Path | None = None
        self._generation = -1
        self.published = 0  # how many checkpoints were made (for tests and operators)
        self.published_at: float | None = None  # time.time() of the current base snapshot (metrics)
        self._view_lock = threading.Lock()
        self._views: dict[View, tuple[Path, int]] = {}  # view -> (its current snapshot, write generation)
        self.pruned: dict[str, list[str]] = {}  # view name -> graphs its last snapshot dropped (for tests)
        self._making: set[str] = set()  # view snapshots being made: not current yet, not the collector's

    def current(self, view: View | None = None) -> str:
        """The freshest consistent snapshot (of ``view``, if given): a new one if the store changed and no
        staged write is in flight, else the last one. Only the first call may wait for a staged write to end
        (there is nothing older)."""
        if view is not None:
            return self._current_view(view)
        with self._lock:
            if self._current is None or self.store.generation != self._generation:
                with self.store.quiet(wait=self._current is None) as quiet:
                    if quiet:
                        self._publish()
            assert self._current is not None
            return str(self._current)

    def _publish(self) -> None:
        generation = self.store.generation  # read before the checkpoint: a write racing it republishes later
        self._serial += 1
        target = self.root / f"{self._serial:08d}"
        self._checkpoint(target)
        self._current, self._generation = target, generation
        self.published += 1
        self.published_at = time.time()

    def behind(self) -> bool:
        """Whether the store was written since the current base snapshot (the next query publishes anew)."""
        return self._current is None or self.store.generation != self._generation

    def _current_view(self, view: View) -> str:
        with self._view_lock:
            last = self._views.get(view)
            if last is None or self.store.generation != last[1]:
                with self._lock:
                    self._serial += 1
                    target = self.root / f"{self._serial:08d}-{view.name}"
                    self._making.add(str(target))
                try:
                    last = self._publish_view(view, target, wait=last is None) or last
                finally:
                    with self._lock:
                        self._making.discard(str(target))
            assert last is not None
            return str(last[0])

    def _publish_view(self, view: View, target: Path, *, wait: bool) -> tuple[Path, int] | None:
        """Checkpoint in a quiet moment, then prune outside it; None if a staged write is in flight."""
        generation = self.store.generation
        with self.store.quiet(wait=wait) as quiet:
            if not quiet:
                return None
            self._checkpoint(target)
        try:
            self.pruned[view.name] = prune(target, view)
        except StoreError:
            shutil.rmtree(target, ignore_errors=True)
            raise
        self._views[view] = (target, generation)
        self.published += 1
        return self._views[view]

    def _checkpoint(self, target: Path) -> None:
        try:
            self.store.native.backup(str(target))
        except OSError as exc:
            raise StoreError(f"could not publish a snapshot of the store to {target}: {exc}") from exc

    def currents(self) -> set[str]:
        """The current base snapshot and reader views: what a worker may keep open between queries."""
        with self._lock:
            paths = {str(path) for path, _ in list(self._views.values())}
            return paths | ({str(self._current)} if self._current is not None else set())

    def collect(self, in_use: Iterable[str]) -> list[str]:
        """Delete every snapshot except the current one and those in ``in_use``; returns what was deleted."""
        with self._lock:
            keep = {str(path) for path in in_use}
            if self._current is not None:
                keep.add(str(self._current))
            keep.update(str(path) for path, _ in list(self._views.values()))
            removed = []
            for entry in sorted(self.root.iterdir()):
                if str(entry) not in keep and str(entry) not in self._making:
                    shutil.rmtree(entry, ignore_errors=True)
                    removed.append(str(entry))
            return removed

    def close(self) -> None:
        with self._lock:
            shutil.rmtree(self.root, ignore_errors=True)
            self._current = None
            self._views.clear()
