"""A loaded demo thread for the SHACL tests (until the shared ``demo_thread`` fixture exists)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from threadline.store import EmbeddedStore, Store

REPO = Path(__file__).resolve().parent.parent
SYSTEMS = ("plm", "erp", "mes", "qms")


def build_demo(out: Path, units: int, seed: int = 42) -> tuple[Path, dict[str, Any]]:
    """Generate the demo exports and load them into an N-Quads file tests can copy into any store."""
    from threadline.demo import generate
    from threadline.ingest import load_files

    generate(out, units=units, seed=seed)
    store = EmbeddedStore(None)
    for system in SYSTEMS:
        load_files(store, system, [out / system], ingest_dir=REPO / "ingest")
    dump = out / "thread.nq"
    with dump.open("wb") as handle:
        store.dump(handle)
    return dump, json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def store_from(dump: Path, store: Store | None = None) -> Store:
    store = store or EmbeddedStore(None)
    store.load(dump)
    return store
