"""Opening an on-disk store for writing clears what earlier holders left beside it (issue #13: store size)."""

from __future__ import annotations

import shutil
from pathlib import Path

from threadline.store import EmbeddedStore
from threadline.store.leftovers import INFO_LOGS_KEPT, staging_root


def test_opening_a_store_clears_what_crashed_holders_left(tmp_path: Path) -> None:
    path = tmp_path / "store"
    EmbeddedStore(path).close()
    for _ in range(7):  # every open starts a new RocksDB info log
        EmbeddedStore(path).close()
    assert len(list(path.glob("LOG.old.*"))) <= INFO_LOGS_KEPT
    crashed_load = staging_root(path) / "threadline-load-dead" / "batch-0.nt"
    crashed_load.parent.mkdir(parents=True)
    crashed_load.write_bytes(b"<urn:s> <urn:p> <urn:o> .\n")
    unrelated = staging_root(path) / "notes.txt"
    unrelated.write_text("kept")
    snapshot = path.with_name("store.snapshots") / "00000001"
    snapshot.mkdir(parents=True)
    store = EmbeddedStore(path)
    assert not crashed_load.parent.exists() and not snapshot.parent.exists()
    assert unrelated.read_text() == "kept"
    store.close()
    shutil.rmtree(staging_root(path))
