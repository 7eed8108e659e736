"""``threadline kpi``: every materialised indicator's answer, now or as the store stood at a past instant.

Now, from the KPI summary when it is fresh (as ``threadline query NAME`` reads it), else the plain query. As of a
past instant (``--as-of``), always the plain aggregate on that state: no summary is kept for past states (the
state drops the summary graph, ``threadline.history.asof``), and the plain query there is exactly what the
indicator answered then.
"""

from __future__ import annotations

import json
from typing import Any

import click

from threadline import kpi, queries


def show(store_url: str | None, as_of: str | None, fmt: str) -> None:
    from threadline.config import Settings
    from threadline.history import asof
    from threadline.store.published import open_for_reading

    answers: dict[str, dict[str, Any]] = {}
    stamp: dict[str, object] | None = None
    with open_for_reading(store_url, Settings(), notice) as store:
        if as_of is None:
            for query in kpi.materialised_queries():
                result = kpi.read(store, query.name)
                source = "materialised" if result is not None else "query"
                answers[query.name] = _answer(query, result or store.select(query.text, query.bindings({})), source)
        else:
            with asof.at(store, as_of) as (instant, state):
                stamp = {"asked": instant.asked, "change": instant.sequence, "time": instant.time}
                notice(f"as of {instant.asked}: the state after change {instant.sequence}, recorded at {instant.time}")
                for query in kpi.materialised_queries():
                    answers[query.name] = _answer(query, state.select(query.text, query.bindings({})), "query")
    _print(answers, stamp, fmt)


def notice(text: str) -> None:
    click.echo(text, err=True)


def _answer(query: queries.NamedQuery, result: Any, source: str) -> dict[str, Any]:
    rows = queries.rows_as_dicts(result.variables, result.rows)
    return {"title": query.title, "source": source, "variables": result.variables, "rows": rows}


def _print(answers: dict[str, dict[str, Any]], stamp: dict[str, object] | None, fmt: str) -> None:
    if fmt == "json":
        body: dict[str, object] = ({"asOf": stamp} if stamp else {}) | {"indicators": answers}
        click.echo(json.dumps(body, indent=2, ensure_ascii=False, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for name, answer in answers.items():
        table = Table(title=f"{answer['title']} ({name}, {answer['source']})")
        for variable in answer["variables"]:
            table.add_column(variable)
        for row in answer["rows"]:
            table.add_row(*("" if row[v] is None else str(row[v]) for v in answer["variables"]))
        console.print(table)
