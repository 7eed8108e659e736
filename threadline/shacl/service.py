"""One entry point the CLI, the HTTP routes and the load gate share: pick shapes, run an engine, render."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from threadline.config import REPO_ROOT
from threadline.errors import ValidationError
from threadline.shacl.engine import NativeEngine, PyshaclEngine, Written
from threadline.shacl.model import Outcome
from threadline.shacl.report import data_state, either, graph_describer, report_graph, store_describer
from threadline.shacl.rows import rows
from threadline.shacl.shapes import Shapes, load_profile, load_shapes
from threadline.store import Store

if TYPE_CHECKING:
    from threadline.history.asof import Instant

FORMATS = ("turtle", "html", "csv", "json", "xlsx")
ENGINES = ("native", "pyshacl")
DEFAULT_PROFILE = "core"


def shapes_dir(settings: object | None) -> Path:
    return Path(getattr(settings, "shapes_dir", REPO_ROOT / "shapes"))


def choose_shapes(settings: object | None, profile: str | None, shapes: list[Path] | None) -> Shapes:
    if shapes:
        return load_shapes(shapes)
    return load_profile(shapes_dir(settings), profile or getattr(settings, "validation_profile", DEFAULT_PROFILE))  # type: ignore[arg-type]  # Settings always has validation_profile


def validate(
    store: Store,
    shapes: Shapes,
    engine: str = "native",
    default_graphs: list[str] | None = None,
    written: Written | None = None,
) -> Outcome:
    """Validate the store (or just ``default_graphs``, e.g. the graphs a scoped caller may read), and add one
    result per record changed after it was signed in Threadline (``integrity``), whatever the engine.
    ``written``: data files in the store as written, when the store keeps some of their literals in another
    form; the shapes reading those are validated on the files' own triples (``engine.as_written``)."""
    from threadline.shacl import integrity

    if engine == "native" and not store.compiles_shapes:
        # the engine's SPARQL compiler rejects the compiled shape queries (Virtuoso 7.2: SP031 on nested
        # sub-SELECT + MINUS): pyshacl on the store's triples gives the same results (tests/test_engine_parity.py)
        engine = "pyshacl"
    if engine == "native":
        outcome = NativeEngine(store, shapes, default_graphs=default_graphs, written=written).validate()
    elif engine == "pyshacl":
        data = written.graph if written is not None else store
        outcome = PyshaclEngine(data, shapes, default_graphs=default_graphs).validate()
    else:
        raise ValidationError(f"unknown engine {engine!r}: use native or pyshacl")
    return integrity.add(store, shapes, outcome, default_graphs)


def as_of(instant: Instant, state: Store) -> dict[str, object]:
    """What a report of a past state says about it ("did it conform then?"): the instant asked, the change it
    resolved to and that change's time, and the data state validated (``report.data_state`` of the state)."""
    return {"asked": instant.asked, "change": instant.sequence, "time": instant.time, "dataState": data_state(state)[0]}


def as_of_line(stamp: dict[str, object]) -> str:
    return (
        f"as of {stamp['asked']}: the state after change {stamp['change']}, recorded at {stamp['time']}; "
        f"data state {stamp['dataState']}"
    )


def render(
    outcome: Outcome,
    shapes: Shapes,
    fmt: str,
    store: Store | None,
    written: Written | None = None,
    stamp: dict[str, object] | None = None,
) -> bytes:
    """The report in ``fmt``; ``store`` supplies identifiers (serial, lot, NCR number) and data state;
    ``written``: the data files as ``validate`` gave them to pyshacl, whose blank nodes results may name;
    ``stamp``: the past state validated (``as_of``), stated in the JSON, HTML and Turtle reports (CSV and XLSX
    are rows alone: HTTP gives it in headers, the command on standard error)."""
    if fmt == "turtle":
        describe = either(
            store_describer(store) if store is not None else None,
            graph_describer(written.graph) if written is not None else None,
        )
        graph, _ = report_graph(outcome, shapes, describe)
        body = graph.serialize(format="turtle", encoding="utf-8")
        return (f"# {as_of_line(stamp)}\n".encode() + body) if stamp else body
    table = rows(outcome, shapes, store)
    if fmt == "csv":
        from threadline.shacl.render_csv import to_csv

        return to_csv(table).encode()
    if fmt == "json":
        from threadline.shacl.render_csv import to_json

        return to_json(
            table, conforms=outcome.conforms, profile=shapes.profile, engine=outcome.engine, as_of=stamp
        ).encode()
    if fmt == "xlsx":
        from threadline.shacl.render_xlsx import to_xlsx

        return to_xlsx(table, conforms=outcome.conforms, profile=shapes.profile)
    if fmt == "html":
        from threadline.shacl.render_html import to_html

        state = data_state(store)[0] if store is not None else ""
        generated = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        files = [(Path(s.path).name, s.sha256) for s in shapes.sources]
        return to_html(
            table,
            conforms=outcome.conforms,
            profile=shapes.profile,
            engine=outcome.engine,
            generated=generated,
            shapes_files=files,
            data_state=state,
            as_of=as_of_line(stamp) if stamp else "",
        ).encode()
    raise ValidationError(f"unknown report format {fmt!r}: use one of {', '.join(FORMATS)}")


__all__ = ["ENGINES", "FORMATS", "as_of", "choose_shapes", "graph_describer", "render", "validate"]
