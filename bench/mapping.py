"""Mapping-engine benchmark: threadline.mapping alone against a hand-written CSV -> N-Triples loop.

    .venv/bin/python bench/mapping.py [--rows 200000] [--repeat 3]

Generates a CSV of parts (partNumber, name, description, unitOfMeasure, quantity) and an RML mapping with
one class and those five properties (quantity as xsd:decimal, so its lexical form is checked). Then, each
in a fresh process (so every peak RSS is its own), best of ``--repeat`` runs:

  1. engine: ``load_mapping(...).execute()`` iterated to the end, no lineage;
  2. engine + lineage: the same with ``lineage_system="plm"`` (six more lines per record);
  3. limit: a plain Python loop over ``csv.reader`` that concatenates the same N-Triples lines with no
     checks at all (no IRI encoding, no datatype check) — what a hand-written converter costs, the bound
     a general engine can approach but not beat.

Every variant feeds its lines to the same sink (a counting loop), and prints triples/s, the ratio to the
limit's triples/s, and peak RSS. Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TL = "https://w3id.org/threadline/ontology#"
ID = "https://w3id.org/threadline/id/"
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
COLUMNS = ("partNumber", "name", "description", "unitOfMeasure", "quantity")
MAPPING = f"""@prefix rr: <http://www.w3.org/ns/r2rml#> .
@prefix rml: <http://semweb.mmlab.be/ns/rml#> .
@prefix ql: <http://semweb.mmlab.be/ns/ql#> .
@prefix tl: <{TL}> .
@prefix xsd: <{XSD}> .
<#Parts> a rr:TriplesMap ;
  rml:logicalSource [ rml:source "parts.csv" ; rml:referenceFormulation ql:CSV ] ;
  rr:subjectMap [ rr:template "{ID}part/{{partNumber}}" ; rr:class tl:Part ] ;
  rr:predicateObjectMap [ rr:predicate tl:partNumber ; rr:objectMap [ rml:reference "partNumber" ] ] ,
    [ rr:predicate tl:name ; rr:objectMap [ rml:reference "name" ] ] ,
    [ rr:predicate tl:description ; rr:objectMap [ rml:reference "description" ] ] ,
    [ rr:predicate tl:unitOfMeasure ; rr:objectMap [ rml:reference "unitOfMeasure" ] ] ,
    [ rr:predicate tl:quantity ; rr:objectMap [ rml:reference "quantity" ; rr:datatype xsd:decimal ] ] .
"""


def generate(folder: Path, rows: int) -> None:
    with (folder / "parts.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for i in range(rows):
            writer.writerow((f"P-{i:07d}", f"Part {i}", f"Machined bracket, variant {i % 97}", "EA", f"{i % 500}.25"))
    (folder / "parts.rml.ttl").write_text(MAPPING, encoding="utf-8")


def limit_lines(path: Path) -> Iterator[str]:
    """The hand-written converter: no encoding, no checks; the same lines the mapping produces."""
    prefix = "<" + ID + "part/"
    type_tail = f" {RDF_TYPE} <{TL}Part> .\n"
    p_number, p_name, p_desc, p_uom, p_qty = (f" <{TL}{c}> " for c in COLUMNS)
    decimal = f'"^^<{XSD}decimal> .\n'
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        for number, name, description, uom, quantity in reader:
            s = prefix + number + ">"
            yield s + type_tail
            yield s + p_number + '"' + number + '" .\n'
            yield s + p_name + '"' + name + '" .\n'
            yield s + p_desc + '"' + description + '" .\n'
            yield s + p_uom + '"' + uom + '" .\n'
            yield s + p_qty + '"' + quantity + decimal


def run_one(variant: str, folder: Path) -> dict[str, float]:
    """One timed run in this process; the parent starts a fresh process per variant."""
    from threadline.mapping import load_mapping

    started = time.perf_counter()
    if variant == "limit":
        lines: Iterator[str] = limit_lines(folder / "parts.csv")
    else:
        mapping = load_mapping(folder / "parts.rml.ttl")
        lines = iter(mapping.execute(base_dir=folder, lineage_system="plm" if variant == "lineage" else None))
    count = 0
    for _line in lines:
        count += 1
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"triples": count, "seconds": seconds, "peak_mb": peak_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_one(args.run, Path(args.folder))))
        return
    with tempfile.TemporaryDirectory(prefix="tl-bench-mapping-") as tmp:
        folder = Path(tmp)
        generate(folder, args.rows)
        results: dict[str, dict[str, float]] = {}
        for variant in ("limit", "engine", "lineage"):
            runs = []
            for _ in range(args.repeat):
                out = subprocess.run(
                    [sys.executable, __file__, "--run", variant, "--folder", str(folder)],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                runs.append(json.loads(out.stdout))
            best = min(runs, key=lambda r: r["seconds"])
            best["peak_mb"] = max(r["peak_mb"] for r in runs)
            results[variant] = best
    limit_rate = results["limit"]["triples"] / results["limit"]["seconds"]
    names = {"limit": "limit (hand-written loop)", "engine": "engine", "lineage": "engine + lineage"}
    print(f"{args.rows:,} CSV rows, class + 5 properties; best of {args.repeat}, fresh process each")
    print(f"{'variant':<28}{'triples':>12}{'seconds':>10}{'triples/s':>14}{'vs limit':>10}{'peak RSS':>12}")
    for variant, r in results.items():
        rate = r["triples"] / r["seconds"]
        print(
            f"{names[variant]:<28}{int(r['triples']):>12,}{r['seconds']:>10.2f}{rate:>14,.0f}"
            f"{rate / limit_rate:>10.2f}{r['peak_mb']:>10.0f} MB"
        )


if __name__ == "__main__":
    main()
