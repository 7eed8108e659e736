"""``threadline audit verify`` and ``threadline audit export``.

Exit status of ``verify``: 0 the chain is intact, 1 it is broken (the first broken entry is named), 2 the
check could not run (store unreachable, ...): the ``threadline`` command's error boundary, as for every verb.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from threadline.store import Store


def open_store(store_url: str | None) -> Store:
    """The store named by ``--store`` or THREADLINE_STORE, with a crashed load's leftovers dropped."""
    from threadline.config import Settings
    from threadline.ingest import open_recovered

    return open_recovered(store_url, Settings())


@click.group(name="audit")
def audit_group() -> None:
    """The audit trail: verify its hash chain, export it for inspectors."""


@audit_group.command(name="verify")
@click.option("--store", "store_url", default=None, help="Store URL (default: THREADLINE_STORE).")
def verify_command(store_url: str | None) -> None:
    """Recompute the hash chain; exit 0 intact, 1 broken (names the first broken entry)."""
    from threadline.audit import verify

    with open_store(store_url) as store:
        result = verify(store)
    if result.intact:
        click.echo(str(result))
        click.echo("Record the head hash outside the store: it is what shows a truncated trail.")
        sys.exit(0)
    click.echo(str(result), err=True)
    sys.exit(1)


@audit_group.command(name="export")
@click.option("--format", "fmt", type=click.Choice(["csv", "pdf"]), default="csv", show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), required=True, help="File to write.")
@click.option("--store", "store_url", default=None, help="Store URL (default: THREADLINE_STORE).")
def export_command(fmt: str, output: Path, store_url: str | None) -> None:
    """Export every audit entry as CSV (exact) or PDF (readable, for inspectors)."""
    from threadline.audit import export

    try:
        with open_store(store_url) as store:
            result = export(store, fmt, output)
    except OSError as exc:
        click.echo(f"error: cannot write {output}: {exc.strerror or exc}", err=True)
        sys.exit(2)
    click.echo(f"{result.entries} entries written to {output} ({'intact' if result.intact else 'BROKEN'})", err=True)
