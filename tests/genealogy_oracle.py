"""Which finished units contain a lot, recomputed from the demo's raw MES exports: the expected answer of every
forward-genealogy example, independent of the mapping pack, the store and the queries under test."""

from __future__ import annotations

import json
from pathlib import Path


def units_containing(exports: Path, lot: str) -> set[str]:
    """Finished units containing material of ``lot``, recomputed from the MES exports alone: the lot's split
    and merge descendants, then every consumer of those, transitively, up to the FC- serials."""
    events = [json.loads(line) for line in (exports / "mes" / "lot-events.jsonl").read_text().splitlines()]
    lots = {lot}
    grew = True
    while grew:
        grew = False
        for event in events:
            sources = {event["splitFrom"], *(m["sourceLot"] for m in event["mergedFrom"])}
            if event["lot"] not in lots and sources & lots:
                lots.add(event["lot"])
                grew = True
    edges = [json.loads(line) for line in (exports / "mes" / "genealogy.jsonl").read_text().splitlines()]
    items = {e["consumerSerial"] for e in edges if e["lot"] in lots}
    grew = True
    while grew:
        grew = False
        for edge in edges:
            if edge["serial"] in items and edge["consumerSerial"] not in items:
                items.add(edge["consumerSerial"])
                grew = True
    return {serial for serial in items if serial.startswith("FC-")}
