"""Materialised KPI summaries: indicator answers precomputed after each load, so they answer in milliseconds.

Aggregates over every unit or operation are linear in the data (about 2 s per 100k units on disk for one
first-pass-yield query, and several such queries make a dashboard); point queries are not. So each named
query marked ``materialise: true`` is run once after every committed load (an ``after_commit`` hook from
``threadline.ingest.hooks``), and its rows are written, atomically, into the summary graph
``https://w3id.org/threadline/graph/kpi``: one resource per row, one ``kpi:{variable}`` triple per bound cell, the
terms exactly as the plain query returned them. Reading them back is a lookup of a few dozen triples.

The summary records how many ingest activities the store held when it was computed; when that number differs
(a load happened and the hook was not installed, or failed), readers fall back to the plain query. Writes
through the SPARQL endpoint or the Graph Store Protocol drop the summary for the same reason.
``threadline kpi refresh`` rebuilds it by hand.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import click
import pyoxigraph as ox

from threadline.namespaces import GRAPH, ID, TL

if TYPE_CHECKING:
    from threadline.queries import NamedQuery
    from threadline.store import SelectResult, Store

KPI_GRAPH = GRAPH + "kpi"
K = "https://w3id.org/threadline/kpi#"
SUMMARY = ID + "kpi/summary"
XSD = "http://www.w3.org/2001/XMLSchema#"

ACTIVITIES = f"SELECT (COUNT(DISTINCT ?a) AS ?n) WHERE {{ ?a a <{TL}IngestActivity> }}"
FRESH = f"""ASK {{
  GRAPH <{KPI_GRAPH}> {{ <{SUMMARY}> <{K}activities> ?n }}
  {{ {ACTIVITIES} }}
}}"""
VARIABLES = f"""SELECT ?variables WHERE {{
  GRAPH <{KPI_GRAPH}> {{ ?q <{K}name> ?__kpi ; <{K}variables> ?variables }}
}}"""


def materialised_queries() -> list[NamedQuery]:
    from threadline.queries import catalogue

    return [q for q in catalogue().values() if q.materialise]


def refresh(store: Store, activity: Any = None) -> dict[str, int]:
    """Recompute every materialised KPI and replace the summary graph in one step; returns rows per KPI."""

    now = ox.Literal(dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), datatype=ox.NamedNode(XSD + "dateTime"))
    activities = store.select(ACTIVITIES).rows[0][0]
    triples = [
        _t(SUMMARY, K + "activities", activities),
        _t(SUMMARY, K + "refreshedAt", now),
    ]
    counts: dict[str, int] = {}
    for query in materialised_queries():
        result = store.select(query.text, query.bindings({}))
        node = f"{ID}kpi/{query.name}"
        triples += [
            _t(node, K + "name", ox.Literal(query.name)),
            _t(node, K + "variables", ox.Literal(" ".join(result.variables))),
            _t(node, K + "refreshedAt", now),
        ]
        for index, row in enumerate(result.rows):
            subject = f"{node}/{index}"
            triples += [
                _t(subject, K + "query", ox.Literal(query.name)),
                _t(subject, K + "index", ox.Literal(str(index), datatype=ox.NamedNode(XSD + "integer"))),
            ]
            triples += [_t(subject, K + var, term) for var, term in zip(result.variables, row, strict=True) if term]
        counts[query.name] = len(result.rows)
    data = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b""
    store.replace_graph(KPI_GRAPH, data, ox.RdfFormat.N_TRIPLES)
    return counts


def _t(subject: str, predicate: str, obj: Any) -> ox.Triple:
    return ox.Triple(ox.NamedNode(subject), ox.NamedNode(predicate), obj)


def fresh(store: Store) -> bool:
    """Whether the summary was computed after the latest load."""
    return store.ask(FRESH)


def invalidate(store: Store) -> None:
    """Drop the summary (after a write the loader did not see); readers use the plain queries meanwhile."""
    store.drop_graph(KPI_GRAPH)


def read_query(store: Store, name: str) -> tuple[str, dict[str, Any]] | None:
    """A query returning the stored rows of ``name`` as the plain query would, or None if not stored."""
    found = store.select(VARIABLES, {"__kpi": name})
    if not found.rows:
        return None
    variables = found.rows[0][0].value.split()  # type: ignore[union-attr]
    # the KPI's own variables are projected; ours carry a __ prefix no named query uses
    optional = " ".join(f"OPTIONAL {{ ?__row <{K}{v}> ?{v} }}" for v in variables)
    projection = " ".join(f"?{v}" for v in variables) or "?__row"
    text = (
        f"SELECT {projection} WHERE {{ GRAPH <{KPI_GRAPH}> {{ ?__row <{K}query> ?__kpi ; <{K}index> ?__index . "
        f"{optional} }} }} ORDER BY ?__index"
    )
    return text, {"__kpi": ox.Literal(name)}


def read(store: Store, name: str) -> SelectResult | None:
    """The materialised rows of ``name`` if the summary is fresh, else None."""
    if not fresh(store):
        return None
    prepared = read_query(store, name)
    return store.select(*prepared) if prepared else None


def refresh_after_load(store: Store, activity: Any) -> None:
    refresh(store, activity)


def install() -> None:
    """Keep the summary fresh after every committed load (call once at app/CLI start-up)."""
    from threadline.ingest import hooks

    hooks.after_commit(refresh_after_load)


def uninstall() -> None:
    from threadline.ingest import hooks

    hooks.unregister(refresh_after_load)


@click.group(name="kpi")
def kpi_command() -> None:
    """Materialised KPI summaries (refreshed after every load)."""


@kpi_command.command(name="refresh")
@click.option("--store", "store_url", default=None, help="Store URL (default: THREADLINE_STORE).")
def refresh_command(store_url: str | None) -> None:
    """Recompute the KPI summary graph now."""
    import time

    from threadline.config import Settings
    from threadline.errors import ThreadlineError
    from threadline.store import open_store

    started = time.perf_counter()
    try:
        with open_store(store_url, Settings()) as store:
            counts = refresh(store)
    except ThreadlineError as exc:
        raise click.ClickException(str(exc)) from exc
    for name, rows in counts.items():
        click.echo(f"{name}: {rows} rows")
    click.echo(f"refreshed in {time.perf_counter() - started:.2f} s", err=True)
