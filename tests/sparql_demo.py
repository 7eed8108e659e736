"""A 200-unit demo thread (seed 42) for the SPARQL tests: generated and loaded once per test process.

Built here rather than taken from a shared session store because the KPI tests write the summary graph; the
data goes only through the real generator and the real mapping pack.
"""

from __future__ import annotations

import functools
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from threadline.store import Store, open_store

REPO = Path(__file__).resolve().parent.parent
UNITS, SEED = 200, 42


@dataclass
class DemoThread:
    store: Store
    exports: Path
    manifest: dict[str, Any]


@functools.lru_cache(maxsize=1)
def demo_thread() -> DemoThread:
    from threadline import kpi
    from threadline.demo import generate
    from threadline.ingest import load_files

    root = Path(tempfile.mkdtemp(prefix="threadline-sparql-demo-"))
    exports = root / "exports"
    generate(exports, units=UNITS, seed=SEED)
    store = open_store(str(root / "store"))
    for system in ("plm", "erp", "mes", "qms"):
        load_files(store, system, [exports / system], ingest_dir=REPO / "ingest")
    kpi.refresh(store)
    return DemoThread(store, exports, json.loads((exports / "manifest.json").read_text()))
