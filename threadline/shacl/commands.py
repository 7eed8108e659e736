"""``threadline validate``: check the store (or any data file) against a profile or any shapes file.

Exit status: 0 conforms, 1 does not conform, 2 the validation could not run (message names file and line).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import pyoxigraph as ox

from threadline.config import Settings
from threadline.errors import StoreUnavailable
from threadline.store import Store


@click.command(name="validate")
@click.option("--profile", default=None, help="Validation profile in the shapes folder (default: core).")
@click.option(
    "--shapes",
    "shapes_files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Validate against this shapes file instead of a profile (repeatable).",
)
@click.option(
    "--data",
    "data_files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Validate this RDF file instead of the store (repeatable).",
)
@click.option(
    "--engine",
    type=click.Choice(["native", "pyshacl"]),
    default="native",
    show_default=True,
    help="native: SPARQL in the store, pyshacl for what it does not compile; pyshacl: pyshacl alone.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["turtle", "html", "csv", "json", "xlsx"]), default="turtle", show_default=True
)
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None, help="Write here (default: stdout).")
@click.option("--store", "store_url", default=None, help="Store URL (default: THREADLINE_STORE).")
@click.option("--allow-empty", is_flag=True, help="Validate an empty or missing store instead of refusing (exit 2).")
@click.option(
    "--as-of",
    "as_of",
    default=None,
    metavar="INSTANT",
    help="Validate the store as it stood at this xsd:dateTime (with its zone) or change id (docs/history.md).",
)
def validate_command(
    profile: str | None,
    shapes_files: tuple[Path, ...],
    data_files: tuple[Path, ...],
    engine: str,
    fmt: str,
    output: Path | None,
    store_url: str | None,
    allow_empty: bool,
    as_of: str | None,
) -> None:
    """Validate the store or data files with SHACL; exit 0 conforms, 1 does not, 2 error."""
    from threadline.history import asof
    from threadline.shacl import service

    settings = Settings()
    if profile and shapes_files:
        raise click.UsageError("give --profile or --shapes, not both")
    if as_of and data_files:
        raise click.UsageError("--as-of reads the store's history: it cannot be given with --data")
    shapes = service.choose_shapes(settings, profile, list(shapes_files) or None)
    store, written = _data_store(data_files) if data_files else (_store(store_url, settings, allow_empty), None)
    with store:  # closing releases the on-disk store's lock (and stops a crash cleanup, resumed next open)
        if as_of is None:
            outcome = service.validate(store, shapes, engine, written=written)
            payload = service.render(outcome, shapes, fmt, store, written)
        else:  # "did it conform then?": the report states the instant, its change and the data state
            with asof.at(store, as_of) as (instant, state):
                stamp = service.as_of(instant, state)
                click.echo(service.as_of_line(stamp), err=True)
                outcome = service.validate(state, shapes, engine)
                payload = service.render(outcome, shapes, fmt, state, stamp=stamp)
    if output is None:
        if fmt == "xlsx":
            click.echo("error: xlsx is binary; write it to a file with -o", err=True)
            sys.exit(2)
        click.echo(payload.decode(), nl=False)
    else:
        output.write_bytes(payload)
        click.echo(f"{len(outcome.results)} result(s); report written to {output}", err=True)
    sys.exit(0 if outcome.conforms else 1)


def _store(url: str | None, settings: Settings, allow_empty: bool) -> Store:
    """The store to validate. An empty thread conforms to every shape, so "conforms" about a store that was
    never loaded (or a path typed wrong, which opening would create) is refused unless asked for. Beside a
    running service, its latest published snapshot is read (and the command says so)."""
    from threadline.store import disk_path
    from threadline.store.published import open_for_reading
    from threadline.upgrades.record import has_data

    url = url if url is not None else settings.store
    path = disk_path(url)
    if path is not None and not path.is_dir() and not allow_empty:
        raise StoreUnavailable(f"there is no store at {path}: nothing to validate (give --store or THREADLINE_STORE)")
    store = open_for_reading(url, settings, lambda text: click.echo(text, err=True))
    if not allow_empty and not has_data(store):  # the store's own version record is no data
        store.close()
        raise StoreUnavailable(f"the store at {path or url} is empty: nothing to validate (load data first)")
    return store


def _data_store(files: tuple[Path, ...]) -> tuple[Store, Any]:
    """An in-memory store holding the data files, and the data as written when the store would alter some of
    its literals (``engine.as_written``); parse errors name file and line."""
    from threadline.shacl.engine import as_written
    from threadline.shacl.shapes import ShapesError
    from threadline.store import EmbeddedStore

    store = EmbeddedStore(None)
    everything: list[ox.Quad] = []
    for path in files:
        try:
            rdf_format = ox.RdfFormat.from_extension(path.suffix.lstrip(".")) or ox.RdfFormat.TURTLE
        except ValueError:
            rdf_format = ox.RdfFormat.TURTLE
        try:
            quads = [
                ox.Quad(q.subject, q.predicate, q.object)
                for q in ox.parse(path=str(path), format=rdf_format, base_iri=path.resolve().as_uri())
            ]
            data = ox.serialize(quads, format=ox.RdfFormat.N_QUADS) or b""
        except SyntaxError as exc:
            raise ShapesError(f"data file {path}: {str(exc).replace('Parser error at ', 'syntax error at ')}") from exc
        except OSError as exc:
            raise ShapesError(f"cannot read data file {path}: {exc.strerror or exc}") from exc
        store.load(data, "urn:threadline:validate:" + path.name)
        everything += quads
    return store, as_written(everything)
