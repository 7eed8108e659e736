"""``threadline query``: named queries and ad-hoc SPARQL from the command line, as a table, CSV or JSON.

Runs in-process on the store (the operator's own process, so no time limit); materialised indicators are read
from the KPI summary when it is fresh, as over HTTP. Ad-hoc SPARQL runs on the union of every graph unless its
own ``FROM``/``FROM NAMED`` names graphs (as at /sparql, see ``threadline.sparql.dataset``). ``--as-of`` answers
on the store as it stood at a past instant (``threadline.history.asof``); the KPI summary is not kept for past
states, so materialised indicators are computed from the data there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from threadline import kpi, queries
from threadline.history import asof
from threadline.sparql import dataset as datasets

if TYPE_CHECKING:
    from threadline.store import Store


def _parse_params(pairs: tuple[str, ...]) -> dict[str, str]:
    given: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="--param")
        given[name.strip()] = value
    return given


def _sparql_text(value: str) -> str:
    path = Path(value)
    if len(value) < 4096 and "\n" not in value and path.is_file():
        return path.read_text(encoding="utf-8")
    return value


def _emit(variables: list[str], rows: list[dict[str, Any]], fmt: str, title: str | None) -> None:
    if fmt == "json":
        click.echo(json.dumps({"variables": variables, "rows": rows}, indent=2, ensure_ascii=False))
    elif fmt == "csv":
        click.echo(queries.to_csv(variables, rows), nl=False)
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title)
        for name in variables:
            table.add_column(name)
        for row in rows:
            table.add_row(*("" if row[v] is None else str(row[v]) for v in variables))
        Console().print(table)
        click.echo(f"{len(rows)} rows", err=True)


@click.command(name="query")
@click.argument("name", required=False)
@click.option("--param", "-p", "params", multiple=True, help="Parameter as NAME=VALUE (repeatable).")
@click.option("--sparql", "sparql", default=None, help="Run this SPARQL (a file path or the query text) instead.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--list", "list_only", is_flag=True, help="List the named queries and their parameters.")
@click.option(
    "--as-of",
    "as_of",
    default=None,
    metavar="INSTANT",
    help="Answer as the store stood at this xsd:dateTime (with its zone) or change id (docs/history.md).",
)
@click.option("--store", "store_url", default=None, help="Store URL (default: THREADLINE_STORE).")
def query_command(
    name: str | None,
    params: tuple[str, ...],
    sparql: str | None,
    fmt: str,
    list_only: bool,
    as_of: str | None,
    store_url: str | None,
) -> None:
    """Run the named query NAME (see --list) or ad-hoc SPARQL (--sparql FILE_OR_TEXT)."""
    from threadline.config import Settings
    from threadline.store import SelectResult
    from threadline.store.published import open_for_reading

    if list_only or (name is None and sparql is None):
        for query in queries.catalogue().values():
            args = ", ".join(f"{p.name}:{p.type}{'' if p.required else '?'}" for p in query.parameters)
            click.echo(f"{query.name}({args})  {query.title}")
        return
    if name and sparql:
        raise click.UsageError("give a query NAME or --sparql, not both")
    given = _parse_params(params)
    notice = lambda text: click.echo(text, err=True)  # noqa: E731 - one line, used once
    with open_for_reading(store_url, Settings(), notice) as current, asof.reading(current, as_of, notice) as store:
        result, title = _run(store, name, sparql, given)
    if isinstance(result, bool):
        variables, rows = ["boolean"], [{"boolean": result}]
    elif isinstance(result, SelectResult):
        variables, rows = result.variables, queries.rows_as_dicts(result.variables, result.rows)
    else:  # CONSTRUCT/DESCRIBE: print N-Triples whatever the format
        for triple in result:
            click.echo(f"{triple} .")
        return
    _emit(variables, rows, fmt, title)


def _run(store: Store, name: str | None, sparql: str | None, given: dict[str, str]) -> tuple[Any, str | None]:
    if sparql is not None:
        text = _sparql_text(sparql)
        default, named_graphs = datasets.requested([], [], datasets.clause(text))
        return store.query(text, given or None, default_graphs=default, named_graphs=named_graphs), None
    named = queries.get(name or "")
    bindings = named.bindings(given)
    result = kpi.read(store, named.name) if named.materialise and not given else None
    if result is None:
        result = store.select(named.text, bindings)
    return result, named.title
