"""Record-level lineage: every mapped subject links to the source record (row, JSON value, element) it came from.

Record IRIs are ``{RECORD_BASE}{system}/{fileName}/{mapName}/{sourceKey}``. The triples map's name is part of
the IRI because keys are only unique within one map: two maps over one file may share a key for different
records (QIF actual 7 and characteristic item 7), or read the same element through different iterators (and
so with different locators). With the map name each record node has exactly one ``tl:locator`` as long as
the map's keys are unique in the file; a key repeated within one map (the same subject from two rows) is
one record node with both locators, which is what a reader of that lineage needs to see.

``mapName`` is the triples map's local name (``<#Parts>`` -> ``Parts``, YARRRML mapping ``parts`` ->
``parts``, its second source ``parts-1``). Blank-node triples maps have no stable name, so they get
``map-`` plus a digest of their source and subject map, which is the same on every run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from threadline.mapping.model import TriplesMap
from threadline.mapping.nquads import RDF_TYPE, escape_literal, iri_safe
from threadline.mapping.sources import Source

TL = "https://w3id.org/threadline/ontology#"
RECORD_BASE = "https://w3id.org/threadline/id/record/"

Lineage = Callable[[Any, Any, list[str], Callable[[str], None]], None]


def map_labels(tmaps: list[TriplesMap]) -> dict[str, str]:
    """Triples map name -> the label used in record IRIs, unique within the document."""

    def digest(tm: TriplesMap) -> str:
        return hashlib.sha1(repr((tm.source.key, tm.subject, tm.classes)).encode()).hexdigest()[:8]

    labels = {tm.name: tm.label or f"map-{digest(tm)}" for tm in tmaps}
    counts: dict[str, int] = {}
    for label in labels.values():
        counts[label] = counts.get(label, 0) + 1
    for tm in tmaps:  # two maps with one local name (<a#M>, <b#M>): add the digest to tell them apart
        if counts[labels[tm.name]] > 1:
            labels[tm.name] = f"{labels[tm.name]}-{digest(tm)}"
    return labels


def lineage_writer(system: str, source: Source, label: str, keys: Callable[[Any], list[str]]) -> Lineage:
    """``lineage(rec, position, subjects, emit)`` for one triples map over one opened source."""
    file_name = Path(source.file_name).name if isinstance(source.target, Path) else source.file_name
    prefix = f"{RECORD_BASE}{iri_safe(system)}/{iri_safe(file_name)}/{iri_safe(label)}/"
    source_record = f" <{TL}sourceRecord> "
    static = (
        f" {RDF_TYPE} <{TL}SourceRecord> .\n",
        f" <{TL}inFile> {escape_literal(file_name)} .\n",
        f" <{TL}sourceSystem> {escape_literal(system)} .\n",
    )
    locator_p = f" <{TL}locator> "
    key_p = f" <{TL}sourceKey> "
    locator_of = source.locator

    def lineage(rec: Any, position: Any, subjects: list[str], emit: Callable[[str], None]) -> None:
        values = keys(rec)
        locator = locator_of(position)
        key = "/".join(values) if values else locator
        record = "<" + prefix + ("/".join(iri_safe(k) for k in values) if values else iri_safe(locator)) + ">"
        for s in subjects:
            emit(s + source_record + record + " .\n")
        for line in static:
            emit(record + line)
        emit(record + locator_p + escape_literal(locator) + " .\n")
        emit(record + key_p + escape_literal(key) + " .\n")

    return lineage
