"""Whether a source file holds anything at all, so that "the iterator matched nothing" can be told apart
from "the export had nothing to say".

A mapping that reads zero records from a file with content is almost always pointed at the wrong file (a
B2MML message with another noun, a wrapped message under an iterator that is absolute from the root); a
load that reports success with 0 records hides that. Emptiness is judged per format, by a real parse:

- CSV and JSON Lines: every data row / line is a record, so zero records means no rows: empty.
- JSON: empty when the document is null or holds only empty objects and arrays (``{"ncrs": []}``).
- XML: empty when the root element has no child element and no text (``<ProductionPerformance/>``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lxml import etree

from threadline.mapping.model import LogicalSource
from threadline.mapping.sources import encoding_name, open_binary


def has_content(spec: LogicalSource, path: Path) -> bool:
    """True when ``path`` holds data a mapping could have read (parse errors surface elsewhere: False)."""
    if spec.formulation in ("csv", "jsonl"):
        return False
    try:
        if spec.formulation == "xpath":
            return _xml_has_content(path, spec.compression)
        with open_binary(path, spec.compression) as handle:
            document = json.loads(handle.read().decode(encoding_name(spec.encoding)))
    except (OSError, ValueError, etree.XMLSyntaxError):
        return False
    return not _json_empty(document)


def _json_empty(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_json_empty(v) for v in value.values())
    if isinstance(value, list):
        return all(_json_empty(v) for v in value)
    return value is None


def _xml_has_content(path: Path, compression: str | None) -> bool:
    with open_binary(path, compression) as handle:
        depth = 0
        for event, element in etree.iterparse(handle, events=("start", "end")):
            if event == "start":
                depth += 1
                if depth == 2:
                    return True  # the root has a child element
            elif depth == 1:
                return bool((element.text or "").strip())
    return False


def root_name(path: Path) -> str | None:
    """The Clark name (``{namespace}local``) of an XML document's root element, read without parsing the rest."""
    try:
        with path.open("rb") as handle:
            for _event, element in etree.iterparse(handle, events=("start",)):
                return str(element.tag)
    except (OSError, etree.XMLSyntaxError):
        return None
    return None
