"""What a person sees in the terminal while a load runs: a live progress bar, then a summary table."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from threadline.ingest import LoadOptions, describe, load_files
from threadline.ingest.provenance import Activity
from threadline.store import Store

err = Console(stderr=True)


def load_with_progress(
    store: Store, system: str, files: list[Path], *, ingest_dir: Path, options: LoadOptions, mapping: Path | None = None
) -> Activity:
    """``load_files`` with a progress bar (records per batch as they are mapped) and a summary table after."""
    label = f"loading {system}"
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[records]:,} records"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=None, records=0)

        def report(batch: str, records: int) -> None:
            progress.update(task, description=f"{label}: {batch}", records=records)

        activity = load_files(
            store, system, files, ingest_dir=ingest_dir, mapping=mapping, options=replace(options, progress=report)
        )
    print_summary(activity)
    return activity


def print_summary(activity: Activity) -> None:
    table = Table(title=f"load {activity.activity_id} ({activity.system})")
    for column in ("batch", "records", "triples", "rejected", "seconds", "status"):
        table.add_column(column, justify="left" if column in ("batch", "status") else "right")
    rows = describe(activity)
    for row in rows:
        table.add_row(*(f"{v:,}" if isinstance(v, int) else str(v) for v in row.values()))
    if len(rows) > 1:
        totals = (f"{sum(int(r[k]) for r in rows):,}" for k in ("records", "triples", "rejected"))  # type: ignore[call-overload]  # rows are the loader's dicts of numbers
        table.add_row("total", *totals, f"{sum(float(r['seconds']) for r in rows):.3f}", "")  # type: ignore[arg-type,misc]  # rows are the loader's dicts of numbers
    err.print(table)
    if activity.reject_file:
        err.print(f"[yellow]rejected records written to {activity.reject_file}[/]")
    for error in activity.hook_errors:
        err.print(f"[yellow]after the load: {error}[/]")
