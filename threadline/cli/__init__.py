"""The ``threadline`` command: verbs people know from ``oxigraph`` (serve, load, dump, backup, ...).

Every verb opens the store named by ``--store`` or ``THREADLINE_STORE``; errors from below arrive as
``ThreadlineError`` and ``Verbs``, the command group, is the one place that turns them into one red line and
the class's exit status (``threadline.errors``: 2; 1 is reserved for "ran, but found problems").
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click
import pyoxigraph as ox
from rich.console import Console
from rich.table import Table

from threadline.auth.commands import operator
from threadline.config import Settings
from threadline.errors import ThreadlineError
from threadline.store import Store

err = Console(stderr=True)
out = Console()

DUMP_FORMATS = {"nquads": ox.RdfFormat.N_QUADS, "trig": ox.RdfFormat.TRIG}


class Verbs(click.Group):
    """The CLI's error boundary: a ``ThreadlineError`` from any verb, a feature's verbs included, is printed as
    one line (never as rich markup: a message may hold brackets) and exits with the class's ``exit_code``."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ThreadlineError as exc:
            click.echo(click.style("error:", fg="red", bold=True) + f" {exc}", err=True)
            sys.exit(exc.exit_code)


def _open(store_url: str | None) -> Store:
    from threadline import features
    from threadline.ingest import open_recovered

    settings = Settings()
    features.install(settings)
    return open_recovered(store_url, settings)


def _open_reading(store_url: str | None) -> Store:
    """For commands that only read: beside a running service, its latest published snapshot (and say so)."""
    from threadline import features
    from threadline.store.published import open_for_reading

    settings = Settings()
    features.install(settings)
    return open_for_reading(store_url, settings, lambda text: err.print(text, highlight=False, soft_wrap=True))


store_option = click.option("--store", "store_url", default=None, help="Store URL (default: THREADLINE_STORE).")
as_of_option = click.option(
    "--as-of",
    "as_of",
    default=None,
    metavar="INSTANT",
    help="As the store stood at this xsd:dateTime (with its zone) or change id (docs/history.md).",
)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``--version``: the package, and the ontology and store format it reads and writes (docs/upgrades.md)."""
    if not value or ctx.resilient_parsing:
        return
    from threadline.upgrades.versions import describe

    click.echo(describe())
    ctx.exit()


@click.group(cls=Verbs, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the package, ontology and store format versions and exit.",
)
def main() -> None:
    """Threadline: a knowledge-graph digital thread for manufacturing."""
    from threadline.observability import logs

    try:
        settings: Settings | None = Settings()
    except ValueError:  # a bad setting: the verb that reads it reports it; log with the defaults meanwhile
        settings = None
    logs.configure(settings)  # once, for every verb: THREADLINE_LOG_LEVEL / THREADLINE_LOG_FORMAT


@main.command()
@click.option("--host", default=None, help="Address to listen on (default: THREADLINE_HOST, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: THREADLINE_PORT, 8000).")
@store_option
@click.option("--demo", is_flag=True, help="Generate a demo thread, load it into a fresh store and serve it.")
@click.option("--units", type=int, default=None, help="With --demo: number of as-built units.")
@click.option("--seed", type=int, default=None, help="With --demo: generator seed.")
@click.option(
    "--history",
    "history_days",
    type=click.IntRange(0, 366),
    default=None,
    help="With --demo: days of delta exports loaded after the base (default: THREADLINE_DEMO_HISTORY_DAYS, 7).",
)
@click.option("--fresh", is_flag=True, help="With --demo: discard the kept demo store and generate it again.")
def serve(
    host: str | None,
    port: int | None,
    store_url: str | None,
    demo: bool,
    units: int | None,
    seed: int | None,
    history_days: int | None,
    fresh: bool,
) -> None:
    """Serve the store over HTTP (GraphQL, SPARQL, ontology, health)."""
    import gc

    import uvicorn

    from threadline.web.app import create_app

    settings = Settings()
    if (fresh or history_days is not None) and not demo:
        raise click.UsageError(f"--{'fresh' if fresh else 'history'} only applies to --demo")
    if demo:
        from threadline.demo.workspace import prepare

        days = settings.demo_history_days if history_days is None else history_days
        units, seed = units or settings.demo_units, seed or settings.demo_seed
        store_url = prepare(settings, store_url, units, seed, fresh, err, history=days)
    settings = settings.model_copy(update={"store": store_url or settings.store})
    _open(settings.store).close()
    _print_tools(host or settings.host, port or settings.port)
    app = create_app(settings)
    app.state.start_query_workers = True  # a server answers its first SPARQL query without starting processes
    # everything imported and built so far lives as long as the server: keep it out of the cyclic garbage
    # collector's full passes, which otherwise pause a 600-unit GraphQL trace for 40-60 ms (docs/performance.md)
    gc.collect()
    gc.freeze()
    uvicorn.run(
        app,
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,  # uvicorn's loggers go through the handler main() installed: one format
        log_level=settings.log_level,
        access_log=False,  # our access line (threadline.access) carries the route template and request id
    )


def _print_tools(host: str, port: int) -> None:
    """Where to open the tools, before uvicorn's own start-up lines (a log record: in JSON mode every line on
    standard error is one JSON object)."""
    import logging

    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    logging.getLogger("threadline.serve").info(
        "Open %s/ : GraphiQL %s/graphql, SPARQL editor %s/sparql, named queries %s/queries, API %s/docs, "
        "ontology %s/ontology",
        *([base] * 6),
    )


@main.command()
@click.argument("system")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--mapping", type=click.Path(path_type=Path), default=None, help="Run this mapping file only.")
@click.option(
    "--mode",
    type=click.Choice(["snapshot", "delta"]),
    default="snapshot",
    show_default=True,
    help="snapshot: files are the full export (replace); delta: changed records only (upsert).",
)
@click.option(
    "--on-error",
    type=click.Choice(["fail", "skip"]),
    default="fail",
    show_default=True,
    help="fail: load nothing on a bad record; skip: reject bad records to a file, load the rest.",
)
@click.option("--reject-dir", type=click.Path(path_type=Path), default=None, help="Folder for reject files.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Map, check and gate the files; show what the load would add, replace and retire; commit nothing.",
)
@click.option(
    "--actor",
    default=None,
    help="Person responsible for the load, as the audit trail records it (default: THREADLINE_ACTOR, else the "
    "operating-system user).",
)
@click.option(
    "--staging-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the mapped N-Triples before they enter the store (default: THREADLINE_STAGING_DIR, else "
    "<store>.staging beside an on-disk store).",
)
@store_option
def load(
    system: str,
    files: tuple[Path, ...],
    mapping: Path | None,
    mode: str,
    on_error: str,
    reject_dir: Path | None,
    dry_run: bool,
    actor: str | None,
    staging_dir: Path | None,
    store_url: str | None,
) -> None:
    """Map SYSTEM's export FILES (or folders) with the mapping pack and load them as one batch."""
    from threadline.cli.console import load_with_progress
    from threadline.ingest import LoadOptions

    settings = Settings()
    store = _open(store_url)
    options = LoadOptions(
        mode=mode,  # type: ignore[arg-type]  # click.Choice admits only the Literal's values
        on_error=on_error,  # type: ignore[arg-type]  # click.Choice admits only the Literal's values
        agent=operator(actor),
        reject_dir=reject_dir or settings.var_dir / "rejects",
        staging_dir=staging_dir or settings.staging_dir,
        disk_reserve=settings.disk_reserve_bytes,
        dry_run=dry_run,
    )
    started = time.perf_counter()
    try:
        activity = load_with_progress(
            store, system, list(files), ingest_dir=settings.ingest_dir, options=options, mapping=mapping
        )
    finally:
        store.close()
    if dry_run:
        err.print(f"dry run, nothing committed; gate: {activity.gate_verdict}", highlight=False, markup=False)
        if activity.gate_verdict and activity.gate_verdict.startswith("would reject"):
            sys.exit(1)  # ran, and found that the load would be refused
    err.print(f"done in {time.perf_counter() - started:.1f} s")


@main.command(name="map")
@click.argument("mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--base",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder the mapping's relative source paths resolve against (default: the mapping's folder).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write N-Quads here (default: standard output).",
)
@click.option(
    "--on-error",
    type=click.Choice(["fail", "skip"]),
    default="fail",
    show_default=True,
    help="fail: stop at the first bad record; skip: leave bad records out and list them on standard error.",
)
@click.option("--base-iri", default=None, help="Base IRI for relative IRIs (default: the mapping's own base).")
@click.option("--allow-empty", is_flag=True, help="Accept 0 records from a non-empty source file (default: error).")
def map_command(
    mapping: Path, base: Path | None, output: Path | None, on_error: str, base_iri: str | None, allow_empty: bool
) -> None:
    """Run MAPPING over its source files and write N-Quads, without touching the store."""
    from threadline.ingest.terms import check_terms
    from threadline.mapping import load_mapping

    loaded = load_mapping(mapping)
    check_terms(loaded, mapping)
    execution = loaded.execute(
        base_dir=base or mapping.parent,
        on_error=on_error,  # type: ignore[arg-type]  # click.Choice admits only the Literal's values
        base_iri=base_iri,
        require_records=not allow_empty,
    )
    target = output.open("w", encoding="utf-8", newline="\n") if output else sys.stdout
    try:
        for line in execution:
            target.write(line)
    finally:
        if output:
            target.close()
    for reject in execution.rejects:
        err.print(f"rejected: {reject.file}, {reject.locator}: {reject.reason}", highlight=False, markup=False)
    rejected = f", {execution.stats.rejected:,} rejected" if execution.stats.rejected else ""
    err.print(f"{execution.stats.records:,} records, {execution.stats.triples:,} triples{rejected}")


@main.command()
@store_option
def stats(store_url: str | None) -> None:
    """Count triples per named graph."""
    with _open_reading(store_url) as store:
        result = store.stats()
    table = Table(title=f"{store.url}: {result.triples:,} triples in {len(result.graphs)} graphs")
    table.add_column("graph")
    table.add_column("triples", justify="right")
    for graph, count in sorted(result.graphs.items()):
        table.add_row(graph or "(default graph)", f"{count:,}")
    out.print(table)


@main.command()
@store_option
@click.option("--format", "fmt", type=click.Choice(sorted(DUMP_FORMATS)), default="nquads", show_default=True)
@click.option("--graph", default=None, help="Dump only this named graph (as N-Triples/Turtle-compatible quads).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File to write (default: standard output).",
)
@as_of_option
def dump(store_url: str | None, fmt: str, graph: str | None, output: Path | None, as_of: str | None) -> None:
    """Write the whole dataset (or one graph) as N-Quads or TriG."""
    from threadline.history import asof

    notice = lambda text: err.print(text, highlight=False, soft_wrap=True)  # noqa: E731 - one line, used once
    with _open_reading(store_url) as current, asof.reading(current, as_of, notice) as store:
        if output:
            with output.open("wb") as handle:
                store.dump(handle, DUMP_FORMATS[fmt], graph)
        else:
            store.dump(sys.stdout.buffer, DUMP_FORMATS[fmt], graph)


@main.command()
@store_option
@click.option(
    "--to",
    "target",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for backups (default: THREADLINE_VAR_DIR/backups).",
)
def backup(store_url: str | None, target: Path | None) -> None:
    """Write a consistent, verified copy of the store (safe while the service runs)."""
    from threadline.errors import StoreUnavailable
    from threadline.store.backup import make_backup

    try:
        store = _open(store_url)
    except StoreUnavailable:
        store = _running_store_snapshot(store_url)
    path, digest = make_backup(store, target or Settings().var_dir / "backups")
    err.print(f"backup written to {path} (digest {digest[:16]}…, recorded in {path.name}.json)")


def _running_store_snapshot(store_url: str | None) -> Store:
    """The service holds the on-disk store open: back up a read-only snapshot of it instead."""
    from threadline.store import EmbeddedStore

    url = store_url or Settings().store
    path = Path(url.removeprefix("oxigraph:"))
    err.print(f"{path} is held by a running service: backing up a read-only snapshot")
    return EmbeddedStore(path, read_only=True)


@main.command()
@click.argument("backup_path", metavar="BACKUP", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--store",
    "store_path",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="On-disk store folder to rebuild (default: THREADLINE_STORE).",
)
@click.option("--force", is_flag=True, help="Replace a non-empty store (stop the service first).")
def restore(backup_path: Path, store_path: Path | None, force: bool) -> None:
    """Rebuild an on-disk store from BACKUP and verify it holds exactly what was backed up."""
    from threadline.store.backup import restore as restore_backup

    target = store_path or Path(Settings().store.removeprefix("oxigraph:"))
    digest = restore_backup(backup_path, target, force=force)
    err.print(f"restored {backup_path} to {target}; digest verified ({digest[:16]}…)")


@main.group()
def demo() -> None:
    """The demo digital thread."""


@demo.command(name="generate")
@click.option("--units", type=int, default=1000, show_default=True, help="Number of as-built units.")
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed (same seed, same bytes).")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write the PLM/ERP/MES/QMS exports and manifest.json into.",
)
@click.option(
    "--history",
    "history_days",
    type=click.IntRange(0, 366),
    default=0,
    show_default=True,
    help="Days of delta exports after the base one, in OUT/history/day-NN/ (new production and corrections).",
)
def demo_generate(units: int, seed: int, out_dir: Path, history_days: int) -> None:
    """Write the exports a plant's PLM, ERP, MES and QMS would produce, with seeded compliance gaps."""
    from threadline.demo import generate

    started = time.perf_counter()
    manifest = generate(out_dir, units=units, seed=seed, history_days=history_days)
    days = f" and {history_days} history days" if history_days else ""
    err.print(
        f"wrote {units:,} units{days} to {out_dir} in {time.perf_counter() - started:.1f} s "
        f"({len(getattr(manifest, 'gaps', []) or [])} seeded gaps in manifest.json)"
    )


def _add_feature_commands() -> None:
    """Verbs that live with their feature's package."""
    from threadline.audit.commands import audit_group
    from threadline.auth.commands import token_group
    from threadline.history.commands import changes_command, diff_command
    from threadline.kpi import kpi_command
    from threadline.records.commands import record_group
    from threadline.shacl.commands import validate_command
    from threadline.sparql.commands import query_command
    from threadline.upgrades.commands import migrate_command

    main.add_command(validate_command)
    main.add_command(query_command)
    main.add_command(kpi_command)
    main.add_command(token_group)
    main.add_command(audit_group)
    main.add_command(changes_command)
    main.add_command(diff_command)
    main.add_command(migrate_command)
    main.add_command(record_group)


_add_feature_commands()
