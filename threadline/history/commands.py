"""``threadline changes``: the change-set stream as RDF Patch, to a file or standard output."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click


@click.command(name="changes")
@click.option("--since", default=None, help="A change id (N or its IRI) or an xsd:dateTime with its zone.")
@click.option("--until", default=None, help="A change id or an xsd:dateTime: changes up to it (inclusive).")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None, help="File to write.")
@click.option("--store", "store_url", default=None, help="Store URL (default: THREADLINE_STORE).")
def changes_command(since: str | None, until: str | None, output: Path | None, store_url: str | None) -> None:
    """Export the change sets after --since (all by default) as RDF Patch, one patch per change set."""
    from threadline.audit.commands import open_store
    from threadline.history.export import page

    with open_store(store_url) as store:
        found = page(store, since, until, None)
    with found.body:
        if output is None:
            shutil.copyfileobj(found.body, sys.stdout.buffer)
        else:
            try:
                with output.open("wb") as handle:
                    shutil.copyfileobj(found.body, handle)
            except OSError as exc:
                click.echo(f"error: cannot write {output}: {exc.strerror or exc}", err=True)
                sys.exit(2)
    first = found.first_iri or "none yet"
    click.echo(f"{found.count} change set(s) written; the store's history starts at {first}", err=True)
