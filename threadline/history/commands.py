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


@click.command(name="diff")
@click.option("--from", "since", required=True, help="A change id (N or its IRI) or an xsd:dateTime with its zone.")
@click.option("--to", "until", default=None, help="A change id or an xsd:dateTime (default: the last change).")
@click.option("--subject", default=None, help="An IRI: that record's statements only.")
@click.option("--unit", "serial", default=None, help="A unit's serial: its as-built BOM diff instead.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--store", "store_url", default=None, help="Store URL (default: THREADLINE_STORE).")
def diff_command(
    since: str, until: str | None, subject: str | None, serial: str | None, fmt: str, store_url: str | None
) -> None:
    """Statements added and removed between --from and --to (net), by record; or a unit's BOM diff (--unit)."""
    import json

    from threadline.audit.commands import open_store
    from threadline.config import Settings
    from threadline.history import bom, diff_output
    from threadline.history.diff import diff

    if serial is not None and subject is not None:
        raise click.UsageError("give --subject or --unit, not both")
    limit = Settings().diff_max_statements
    with open_store(store_url) as store:
        text: str
        if serial is not None:
            found = bom.bom_diff(store, serial, since, until, limit=limit)
            text = json.dumps(bom.as_json(found), indent=2) + "\n" if fmt == "json" else bom.as_table(found)
        else:
            changed = diff(store, since, until, subject=subject, limit=limit)
            text = json.dumps(diff_output.as_json(changed), indent=2) + "\n" if fmt == "json" else ""
            text = text or diff_output.as_table(changed)
    click.echo(text, nl=False)
