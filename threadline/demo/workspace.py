"""The demo's working folder (``THREADLINE_VAR_DIR/demo``): exports, store, and a record of what was loaded.

``threadline serve --demo`` (and so ``sh bin/run``) keeps the demo store across restarts: what users add to it
(tokens, signatures, stored reports, their own loads) must survive a restart as on any plant's server. The
demo is generated and loaded only when there is no complete one yet, or when asked (``--fresh``).
``loaded.json`` is written last, after every system's exports are in, so a start interrupted mid-load is seen
as incomplete and rebuilt rather than served half-loaded. Asking for another size or seed than the kept demo
holds is refused rather than silently serving the wrong thread; another number of history days is only noted,
so that a kept demo made before the setting changed is not lost with what users added to it.

With history days, the base exports are loaded first, then each day's delta exports in order (``--mode delta``,
as a plant's daily feeds would be), so the store's archives and audit trail hold the thread's past.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from threadline.config import Settings
from threadline.errors import DemoError

if TYPE_CHECKING:  # imported where used: serving a kept demo needs neither the loader nor the generator
    from threadline.ingest import LoadOptions
    from threadline.ingest.provenance import Activity
    from threadline.store import Store

RECORD = "loaded.json"
SYSTEMS = ("plm", "erp", "mes", "qms")


def demo_root(settings: Settings) -> Path:
    return settings.var_dir / "demo"


def kept(root: Path) -> dict[str, Any] | None:
    """What the complete demo kept in ``root`` holds (units, seed, store), or None."""
    try:
        record = json.loads((root / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and {"units", "seed", "store"} <= record.keys() else None


def prepare(
    settings: Settings, store_url: str | None, units: int, seed: int, fresh: bool, console: Any, history: int = 0
) -> str:
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
        kept_days = record.get("history", 0)
        days = f", {kept_days} history days" if kept_days else ""
        console.print(
            f"Serving the demo thread kept in {url} ({units:,} units, seed {seed}{days}, with everything added since); "
            "add --fresh to start again from a new one"
            + (f" with {history} history days" if history != kept_days else ""),
            highlight=False,
            soft_wrap=True,
        )
        return url
    if root.exists():
        console.print(f"Replacing {root}" + ("" if fresh else " (its last load did not finish)"), highlight=False)
        shutil.rmtree(root)
    _build(settings, root, url, units, seed, history, console)
    return url


def _build(settings: Settings, root: Path, url: str, units: int, seed: int, history: int, console: Any) -> None:
    """Generate the exports and load them through the mapping pack, like any plant's."""
    from threadline import features
    from threadline.auth.commands import operator
    from threadline.cli.console import load_with_progress
    from threadline.demo import generate
    from threadline.ingest import LoadOptions, open_recovered

    exports = root / "exports"
    days = f" and {history} days of history after it" if history else ""
    console.print(f"Generating a demo thread of {units:,} units (seed {seed}){days} in {exports}", highlight=False)
    manifest = generate(exports, units=units, seed=seed, history_days=history)
    features.install(settings)  # the KPI summaries and validation gate watch these loads, as any other
    store = open_recovered(url, settings)
    options = LoadOptions(agent=operator(), staging_dir=settings.staging_dir, disk_reserve=settings.disk_reserve_bytes)
    try:
        for system in SYSTEMS:
            load_with_progress(store, system, [exports / system], ingest_dir=settings.ingest_dir, options=options)
        if history:
            _load_days(settings, store, exports, manifest.history, replace(options, mode="delta"), console)
    finally:
        store.close()
    record = {"units": units, "seed": seed, "store": url, "history": history}
    (root / RECORD).write_text(json.dumps(record) + "\n", encoding="utf-8")


def _load_days(
    settings: Settings, store: Store, exports: Path, history: dict[str, Any], options: LoadOptions, console: Any
) -> None:
    """The history days with one KPI summary refresh after the last, not one per load: a day's delta loads take
    about a second, and refreshing the summaries after each tripled that at 1,000 units (docs/demo.md)."""
    from threadline import features, kpi

    features.install(settings.model_copy(update={"kpi_summaries": False}))
    try:
        load_history(store, exports, history, settings.ingest_dir, options, console)
    finally:
        features.install(settings)
    if settings.kpi_summaries:
        kpi.refresh(store)


def load_history(
    store: Store, exports: Path, history: dict[str, Any], ingest_dir: Path, options: LoadOptions, console: Any
) -> list[Activity]:
    """Each history day's delta exports, in day order and per system, as delta loads; one line per day."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from threadline.ingest import load_files

    activities = []
    days = history["day"]
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("loading history days", total=len(days))
        for day in days:
            folder = exports / day["folder"]
            records = 0
            systems = [s for s in SYSTEMS if (folder / s).is_dir()]
            for system in systems:
                progress.update(task, description=f"loading history day {day['day']:02d} ({system})")
                activity = load_files(store, system, [folder / system], ingest_dir=ingest_dir, options=options)
                records += sum(batch.records for batch in activity.batches)
                activities.append(activity)
            progress.console.print(
                f"history day {day['day']:02d} (exported {day['exportedAt']}): {len(systems)} delta loads, "
                f"{records:,} records, {len(day['changes'])} changed fields",
                highlight=False,
            )
            progress.advance(task)
    return activities
