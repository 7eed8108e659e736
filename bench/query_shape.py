"""Whole-thread aggregates and extracts written as one star, and as one triple pattern per sub-select.

    .venv/bin/python bench/query_shape.py STORE [--reps 3] [--cases NAME ...] [--forms star sub-selects]
                                          [--scope PREFIX]

pyoxigraph evaluates a star of triple patterns over every record as an index seek per record and property; the
same patterns each in a sub-select of its own are read in one pass per property and joined in memory
(docs/sparql.md, "Query shape"). The shipped texts (``queries/*.rq`` and docs/data-science.md's extract) use
sub-selects; ``STARS`` gives, for each, the star it replaced, so both forms of the same question run side by side
on the same read-only store, in one process: alternating, the order rotating every repetition, min / median /
max of the wall time, peak RSS growth noted, and the rows of both compared (a difference stops the run).
Cases ``refresh NAME`` time a KPI's full recompute (``threadline.kpi.parts``: every group's partials) from its
declaration's ``whole`` contribution against the star ``contribution`` it stands for.
``--scope PREFIX`` runs them over the named graphs whose IRI starts with it, as a token limited to those graphs
reads, instead of the union.
"""

from __future__ import annotations

import argparse
import re
import resource
import statistics
import sys
import time
from pathlib import Path

import pyoxigraph as ox

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# the one-pattern sub-selects of each shipped text, and the star they stand for
STARS: dict[str, list[tuple[str, str]]] = {
    "fpy-by-work-centre": [
        (
            r"\{ SELECT \?op \?unit WHERE \{ \?op tl:onUnit \?unit \} \}\s*"
            r"\{ SELECT \?op \?step WHERE \{ \?op tl:executesStep \?step \} \}\s*"
            r"\{ SELECT \?op \?result WHERE \{ \?op tl:operationResult \?result \} \}",
            "?op tl:onUnit ?unit ; tl:executesStep ?step ; tl:operationResult ?result .",
        ),
        (r"\{ SELECT DISTINCT \?step \?wc WHERE \{ \?step tl:atWorkCenter \?wc \} \}", "?step tl:atWorkCenter ?wc ."),
    ],
    "oee-by-work-unit": [
        (
            r"\{ SELECT \?op \?eq WHERE \{ \?op tl:onEquipment \?eq \} \}\s*"
            r"\{ SELECT \?op \?step WHERE \{ \?op tl:executesStep \?step \} \}\s*"
            r"\{ SELECT \?op \?begin WHERE \{ \?op tl:startedAt \?begin \} \}\s*"
            r"\{ SELECT \?op \?finish WHERE \{ \?op tl:endedAt \?finish \} \}\s*"
            r"\{ SELECT \?op \?result WHERE \{ \?op tl:operationResult \?result \} \}",
            "?op tl:onEquipment ?eq ; tl:executesStep ?step ; tl:startedAt ?begin ; tl:endedAt ?finish ; "
            "tl:operationResult ?result .",
        )
    ],
    "fpy-by-revision": [
        (
            r"\{ SELECT \?op \?unit WHERE \{ \?op tl:onUnit \?unit \} \}\s*"
            r"\{ SELECT \?op \?result WHERE \{ \?op tl:operationResult \?result \} \}",
            "?op tl:onUnit ?unit ; tl:operationResult ?result .",
        )
    ],
    "scrap-rate": [
        (
            r"\{ SELECT \?unit \?status WHERE \{ \?unit tl:unitStatus \?status \} \}\s*"
            r"\{ SELECT \?unit \?partNode WHERE \{ \?unit tl:ofPart \?partNode \} \}",
            "?unit tl:unitStatus ?status ; tl:ofPart ?partNode .",
        )
    ],
    "data-science extract": [
        (
            r"\{ SELECT DISTINCT \?unit WHERE \{ \?unit a tl:SerializedUnit \} \}.*"
            r"\{ SELECT \?rev \?revision WHERE \{ \?rev tl:revisionLabel \?revision \} \}",
            "?unit a tl:SerializedUnit ; tl:serialNumber ?serial ; tl:unitStatus ?status ;"
            " tl:ofPart/tl:partNumber ?part ; tl:builtTo/tl:revisionLabel ?revision .",
        )
    ],
}


REFRESH = [f"refresh {name}" for name in ("fpy-by-work-centre", "oee-by-work-unit", "fpy-by-revision", "scrap-rate")]


def forms(name: str) -> dict[str, str]:
    """The star form and the shipped sub-select form of case ``name``."""
    if name.startswith("refresh "):
        from dataclasses import replace

        from threadline.kpi import parts

        declared = parts.declared(REPO / "queries" / f"{name.removeprefix('refresh ')}.rq")
        assert declared is not None and declared.whole is not None, f"{name}: no whole contribution declared"
        return {"star": replace(declared, whole=None).full_query(), "sub-selects": declared.full_query()}
    return {"star": star(name, shipped(name)), "sub-selects": shipped(name)}


def shipped(name: str) -> str:
    if name == "data-science extract":
        doc = (REPO / "docs" / "data-science.md").read_text()
        found = re.search(r'sparql_dataframe\.get\(ENDPOINT, """(.*?)"""\)', doc, flags=re.S)
        assert found, "docs/data-science.md has no sparql_dataframe extract"
        return found.group(1)
    text = (REPO / "queries" / f"{name}.rq").read_text()
    return "\n".join(line for line in text.splitlines() if not line.startswith("#+"))


def star(name: str, text: str) -> str:
    for pattern, replacement in STARS[name]:
        text, count = re.subn(pattern, lambda _, star=replacement: star, text, flags=re.S)
        assert count == 1, f"{name}: the shipped text no longer has the sub-selects this bench knows"
    return text


def run(store: ox.Store, text: str, scope: list[ox.NamedNode] | None) -> tuple[float, list[tuple[str, ...]], int]:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    options: dict[str, object] = {"default_graph": scope} if scope else {"use_default_graph_as_union": True}
    rows = [tuple(str(term) for term in row) for row in store.query(text, **options)]  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    return seconds, sorted(rows), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("store", type=Path, help="an on-disk store (opened read-only)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--cases", nargs="*", default=[*STARS, *REFRESH])
    parser.add_argument("--forms", nargs="+", choices=["star", "sub-selects"], default=["star", "sub-selects"])
    parser.add_argument("--scope", default=None, help="read the named graphs whose IRI starts with this")
    args = parser.parse_args()
    store = ox.Store.read_only(str(args.store))
    scope = [g for g in store.named_graphs() if g.value.startswith(args.scope)] if args.scope else None  # type: ignore[union-attr]
    print(f"{args.store}: {len(store):,} quads; {'union of every graph' if scope is None else f'{len(scope)} graphs'}")
    print(f"{'case':32} {'form':12} {'min':>9} {'median':>9} {'max':>9}  rows  peak RSS growth")
    for name in args.cases:
        texts = {form: text for form, text in forms(name).items() if form in args.forms}
        times: dict[str, list[float]] = {form: [] for form in texts}
        answers: dict[str, list[tuple[str, ...]]] = {}
        growth: dict[str, int] = {}
        for rep in range(args.reps):
            order = list(texts) if rep % 2 == 0 else list(reversed(texts))
            for form in order:
                seconds, rows, grown = run(store, texts[form], scope)
                times[form].append(seconds)
                growth[form] = max(growth.get(form, 0), grown)
                if answers.setdefault(form, rows) != rows:
                    sys.exit(f"{name}: the {form} form answered differently between repetitions")
        if len(answers) == 2 and answers["star"] != answers["sub-selects"]:
            sys.exit(f"{name}: the two forms answered differently")
        for form, values in times.items():
            print(
                f"{name:32} {form:12} {min(values):9.2f} {statistics.median(values):9.2f} {max(values):9.2f}"
                f"  {len(answers[form]):4}  {growth[form] / 1024:.0f} MB"
            )


if __name__ == "__main__":
    main()
