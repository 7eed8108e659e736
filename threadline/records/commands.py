"""``threadline record dhr|fai|release``: a device history record or a first article inspection report as a file,
and a device history record's release.

``dhr`` reads (beside a running service, its latest published snapshot, and says so); its exit status is 0 for a
record without open exceptions, 1 for a record with some (written all the same: review by exception), 2 when it
cannot be made (no such unit or lot). ``release`` signs as the holder of an API token, who types its secret when
asked (21 CFR 11.200(a)(1): each signing is authenticated afresh); 409's refusal is exit 2 with the exceptions.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from threadline.config import Settings
from threadline.errors import Unauthorised

if TYPE_CHECKING:
    from threadline.records.record import Record

MEANING = "released"  # threadline.records.release.MEANING: imported when a verb runs, not at start-up


@click.group(name="record")
def record_group() -> None:
    """Records: device history records, first article inspection reports, release."""


@record_group.command(name="dhr")
@click.argument("identifier")
@click.option("--format", "fmt", type=click.Choice(["html", "pdf", "jsonld"]), default="html", show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None, help="File to write.")
@click.option("--store", "store_url", default=None, help="Store URL (default: THREADLINE_STORE).")
def dhr_command(identifier: str, fmt: str, output: Path | None, store_url: str | None) -> None:
    """The device history record of a unit (serial number) or lot (lot number); exit 1 if it has exceptions."""
    from threadline.records import builder
    from threadline.store.published import open_for_reading

    settings = Settings()
    with open_for_reading(store_url, settings, lambda text: click.echo(text, err=True)) as store:
        record = builder.dhr(store, identifier, settings.shapes_dir)
    _write(record, fmt, output)


def _write(record: Record, fmt: str, output: Path | None) -> None:
    """Write the record (a PDF only to a file), say how many exceptions it has, exit 1 if any."""
    from threadline.records.render import render

    if output is None and fmt == "pdf":
        raise click.UsageError("a PDF is binary: write it to a file with -o")
    payload = render(record, fmt)
    if output is None:
        click.echo(payload.decode("utf-8"), nl=False)
    else:
        output.write_bytes(payload)
    count = len(record.findings)
    click.echo(f"{record.title} {record.id}: {count} open exception(s), content hash {record.content_hash}", err=True)
    sys.exit(1 if count else 0)


@record_group.command(name="fai")
@click.argument("part")
@click.argument("revision")
@click.option("--serial", default=None, help="The first article (default: the first unit built to the revision).")
@click.option("--format", "fmt", type=click.Choice(["html", "pdf", "jsonld"]), default="html", show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None, help="File to write.")
@click.option("--store", "store_url", default=None, help="Store URL (default: THREADLINE_STORE).")
def fai_command(
    part: str, revision: str, serial: str | None, fmt: str, output: Path | None, store_url: str | None
) -> None:
    """The first article inspection report (AS9102 Forms 1-3) of a part revision; exit 1 if it has exceptions."""
    from threadline.records import builder
    from threadline.store.published import open_for_reading

    settings = Settings()
    with open_for_reading(store_url, settings, lambda text: click.echo(text, err=True)) as store:
        record = builder.fai(store, part, revision, serial, settings.shapes_dir)
    _write(record, fmt, output)


@record_group.command(name="release")
@click.argument("identifier")
@click.option("--meaning", default=MEANING, show_default=True, help="What the signature means.")
@click.option("--reason", default=None, help="Why; kept in the signature's audit entry.")
@click.option(
    "--secret", prompt="Your API token's secret", hide_input=True, help="Your token's secret (asked for if not given)."
)
@click.option("--store", "store_url", default=None, help="Store URL (default: THREADLINE_STORE).")
def release_command(identifier: str, meaning: str, reason: str | None, secret: str, store_url: str | None) -> None:
    """Release a unit's or lot's device history record: sign its content hash (compliance role)."""
    from threadline.auth import authenticate
    from threadline.ingest import open_recovered
    from threadline.records.errors import ReleaseBlocked
    from threadline.records.release import release

    settings = Settings()
    with open_recovered(store_url, settings) as store:
        principal = authenticate(store, secret, ttl=0.0)
        if principal is None:
            raise Unauthorised("that secret is no valid API token", challenge="Bearer")
        try:
            signature = release(
                store, principal, identifier, meaning=meaning, reason=reason, shapes_dir=settings.shapes_dir
            )
        except ReleaseBlocked as exc:
            click.echo(click.style("error:", fg="red", bold=True) + f" {exc}", err=True)
            for each in exc.exceptions:
                click.echo(f"  {each['kind']}: {each['about']}: {each['message']}", err=True)
            sys.exit(exc.exit_code)
    click.echo(
        f"released {signature.record} as {signature.signer_name} at {signature.signed_at}: "
        f"content hash {signature.record_hash}"
    )
