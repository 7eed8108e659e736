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


def to_json(
    rows: list[Row], *, conforms: bool, profile: str | None, engine: str, as_of: dict[str, object] | None = None
) -> str:
    """``as_of``: the past state validated (asked, change, time, dataState), when it was one."""
    body: dict[str, object] = {"conforms": conforms, "profile": profile, "engine": engine}
    if as_of is not None:
        body["asOf"] = as_of
    body |= {"resultCount": len(rows), "results": [r.as_dict() for r in rows]}
    return json.dumps(body, indent=2) + "\n"
