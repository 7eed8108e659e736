"""The demo's working folder (``THREADLINE_VAR_DIR/demo``): exports, store, and a record of what was loaded.

``threadline serve --demo`` (and so ``sh bin/run``) keeps the demo store across restarts: what users add to it
(tokens, signatures, stored reports, their own loads) must survive a restart as on any plant's server. The
demo is generated and loaded only when there is no complete one yet, or when asked (``--fresh``).
``loaded.json`` is written last, after every system's exports are in, so a start interrupted mid-load is seen
as incomplete and rebuilt rather than served half-loaded. Asking for another size or seed than the kept demo
holds is refused rather than silently serving the wrong thread.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from threadline.config import Settings
from threadline.errors import DemoError

RECORD = "loaded.json"


def demo_root(settings: Settings) -> Path:
    return settings.var_dir / "demo"


def kept(root: Path) -> dict[str, Any] | None:
    """What the complete demo kept in ``root`` holds (units, seed, store), or None."""
    try:
        record = json.loads((root / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and {"units", "seed", "store"} <= record.keys() else None


def prepare(settings: Settings, store_url: str | None, units: int, seed: int, fresh: bool, console: Any) -> str:
    """The store URL to serve: the kept demo if it matches, else a freshly generated and loaded one."""
    root = demo_root(settings)
    url = store_url or str(root / "store")
    record = None if fresh else kept(root)
    if record is not None:
        if (record["units"], record["seed"], record["store"]) != (units, seed, url):
            raise DemoError(
                f"{root} keeps the demo of {record['units']:,} units (seed {record['seed']}) in {record['store']}, "
                f"not {units:,} units (seed {seed}) in {url}: add --fresh to replace it"
            )
        console.print(
            f"Serving the demo thread kept in {url} ({units:,} units, seed {seed}, with everything added since); "
            "add --fresh to start again from a new one",
            highlight=False,
            soft_wrap=True,
        )
        return url
    if root.exists():
        console.print(f"Replacing {root}" + ("" if fresh else " (its last load did not finish)"), highlight=False)
        shutil.rmtree(root)
    _build(settings, root, url, units, seed, console)
    return url


def _build(settings: Settings, root: Path, url: str, units: int, seed: int, console: Any) -> None:
    """Generate the exports and load them through the mapping pack, like any plant's."""
    from threadline import features
    from threadline.auth.commands import operator
    from threadline.cli.console import load_with_progress
    from threadline.demo import generate
    from threadline.ingest import LoadOptions, open_recovered

    exports = root / "exports"
    console.print(f"Generating a demo thread of {units:,} units (seed {seed}) in {exports}", highlight=False)
    generate(exports, units=units, seed=seed)
    features.install(settings)  # the KPI summaries and validation gate watch these loads, as any other
    store = open_recovered(url, settings)
    try:
        for system in ("plm", "erp", "mes", "qms"):
            load_with_progress(
                store,
                system,
                [exports / system],
                ingest_dir=settings.ingest_dir,
                options=LoadOptions(
                    agent=operator(), staging_dir=settings.staging_dir, disk_reserve=settings.disk_reserve_bytes
                ),
            )
    finally:
        store.close()
    record = {"units": units, "seed": seed, "store": url}
    (root / RECORD).write_text(json.dumps(record) + "\n", encoding="utf-8")
