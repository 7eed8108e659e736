"""The report as CSV (one row per result) and as JSON, for spreadsheets and scripts."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import fields

from threadline.shacl.rows import Row


def to_csv(rows: list[Row]) -> str:
    buffer = io.StringIO()
    names = [f.name for f in fields(Row)]
    writer = csv.DictWriter(buffer, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row.as_dict())
    return buffer.getvalue()


def to_json(rows: list[Row], *, conforms: bool, profile: str | None, engine: str) -> str:
    return (
        json.dumps(
            {
                "conforms": conforms,
                "profile": profile,
                "engine": engine,
                "resultCount": len(rows),
                "results": [r.as_dict() for r in rows],
            },
            indent=2,
        )
        + "\n"
    )
