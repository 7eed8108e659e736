"""What accumulates beside an on-disk store, and what opening it for writing clears away.

- **RocksDB info logs.** pyoxigraph 0.5's RocksDB starts a new ``LOG`` at every open and keeps up to 1,000 old
  ones (``keep_log_file_num``; 130–150 kB each, measured at 10k units). Every CLI command that opens the store
  adds one, so a plant running a few commands an hour would carry about 140 MB of old logs within weeks — 10 %
  of a 10k-unit store. They are diagnostics only; the newest ``INFO_LOGS_KEPT`` are kept.
- **A crashed load's staged N-Triples** in ``<store>.staging`` (``threadline-load-*``, and a crashed service's
  ``threadline-upload-*``): as large as the mapped batch (637 MB for the 10k-unit MES export).
- **A crashed service's query snapshots** in ``<store>.snapshots``: hard links, free while the store still holds
  the same files, but each pins every file the store later compacts away — up to a whole copy of the store.
  ``threadline serve`` empties the folder when it starts; a CLI load in between no longer leaves it standing.

Opening the store for writing proves that no other process holds it (RocksDB's lock), so what a previous holder
left in those folders is nobody's any more. A configured ``THREADLINE_STAGING_DIR`` may be shared by several
stores, so it is never swept; only the store's own ``<store>.staging`` is.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

INFO_LOGS_KEPT = 4
STAGING_PREFIXES = ("threadline-load-", "threadline-upload-")
log = logging.getLogger(__name__)


def staging_root(store_path: Path) -> Path:
    """The store's own staging folder, beside it (same file system, so staging never fills ``/tmp``)."""
    return store_path.with_name(store_path.name + ".staging")


def clear(store_path: Path) -> None:
    """Remove what earlier holders of the store left behind; call only while holding the store for writing."""
    from threadline.store.snapshots import snapshot_root

    pruned = prune_info_logs(store_path)
    stale = [entry for entry in _entries(staging_root(store_path)) if entry.name.startswith(STAGING_PREFIXES)]
    snapshots = snapshot_root(store_path)
    if snapshots.is_dir():
        stale.append(snapshots)
    for entry in stale:
        shutil.rmtree(entry, ignore_errors=True)
    if pruned or stale:
        log.info(
            "removed %d old RocksDB info log(s) and %d leftover folder(s) beside %s",
            len(pruned),
            len(stale),
            store_path,
            extra={"info_logs": len(pruned), "folders": [str(entry) for entry in stale]},
        )


def prune_info_logs(store_path: Path, keep: int = INFO_LOGS_KEPT) -> list[Path]:
    """Delete all but the newest ``keep`` rotated RocksDB info logs (``LOG.old.<microseconds>``)."""
    old = sorted(
        (entry for entry in _entries(store_path) if entry.name.startswith("LOG.old.")),
        key=lambda entry: _stamp(entry.name),
    )
    doomed = old[: max(0, len(old) - keep)]
    for entry in doomed:
        entry.unlink(missing_ok=True)
    return doomed


def _entries(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError:
        return []


def _stamp(name: str) -> int:
    suffix = name.removeprefix("LOG.old.")
    return int(suffix) if suffix.isdigit() else 0
