"""Recompute the audit chain and name the first entry that does not hold.

Checks, in sequence order: numbering has no gap or duplicate (a removed entry, or two writers), each entry's
IRI matches its number, each entry has exactly one value per field (an added second value would otherwise
go unnoticed by the hash of the first), its stored ``previousHash`` is the hash of the entry before, and its
stored ``entryHash`` equals the hash recomputed from its stored fields.

What a chain cannot show on its own: removing the newest entries (truncation) or rewriting the whole chain
from some entry on, with every hash recomputed. Both need an anchor outside the store — the head hash that
``threadline audit verify`` prints, written into a paper or electronic log (see docs/security.md).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from threadline.audit.chain import AUDIT_GRAPH, FIELDS, GENESIS, entry_hash, entry_iri
from threadline.store import Store

_REQUIRED = ("time", "actor", "action", "what", "previous", "hash")


@dataclass(frozen=True)
class Broken:
    """The first entry that fails: which check, and what was expected against what is stored."""

    sequence: int
    entry: str
    problem: str
    expected: str
    actual: str

    def __str__(self) -> str:
        return f"entry {self.sequence} ({self.entry}): {self.problem}; expected {self.expected}, found {self.actual}"


@dataclass
class VerifyResult:
    intact: bool
    entries: int
    head: str | None = None
    broken: Broken | None = None
    rows: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def __str__(self) -> str:
        if self.intact:
            return f"audit trail intact: {self.entries} entries, head {self.head or GENESIS}"
        return f"audit trail BROKEN at {self.broken}"


def read_entries(store: Store) -> dict[str, list[dict[str, Any]]]:
    """Every entry's stored fields (one dict per result row; more than one row means a duplicated field)."""
    names = ["sequence", *_REQUIRED, "why"]
    patterns = " ".join(f"OPTIONAL {{ ?e <{FIELDS[name]}> ?{name} }}" for name in names[1:])
    result = store.select(
        f"SELECT ?e ?{' ?'.join(names)} WHERE {{ GRAPH <{AUDIT_GRAPH}> {{ "
        f"?e <{FIELDS['sequence']}> ?sequence . {patterns} }} }}"
    )
    entries: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in result.rows:
        values = {name: None if term is None else term.value for name, term in zip(result.variables, row, strict=True)}  # type: ignore[union-attr]  # audit rows hold IRIs and literals, never triples
        entries[values.pop("e")].append(values)  # type: ignore[index]  # every audit entry has ?e
    return entries


def verify(store: Store) -> VerifyResult:
    """Recompute the chain; ``intact`` is False and ``broken`` names the first failing entry otherwise."""
    entries = read_entries(store)
    ordered = sorted(entries.items(), key=lambda item: (_as_int(item[1][0]["sequence"]), item[0]))
    previous = GENESIS
    rows: list[dict[str, Any]] = []
    for position, (iri, found) in enumerate(ordered, start=1):
        row = found[0]
        problem = _check(position, iri, found, previous)
        if problem is not None:
            return VerifyResult(False, len(ordered), None, problem, rows)
        rows.append(row)
        previous = row["hash"]
    return VerifyResult(True, len(ordered), previous if ordered else None, None, rows)


def _check(position: int, iri: str, found: list[dict[str, Any]], previous: str) -> Broken | None:
    row = found[0]
    sequence = _as_int(row["sequence"])

    def broken(problem: str, expected: object, actual: object) -> Broken:
        return Broken(sequence, iri, problem, str(expected), str(actual))

    if sequence != position:
        return broken(
            "sequence gap or duplicate (an entry was removed, inserted or written twice)", position, row["sequence"]
        )
    if iri != entry_iri(sequence):
        return broken("entry IRI does not match its sequence number", entry_iri(sequence), iri)
    if len(found) > 1:
        return broken("a field holds more than one value", "1 row", f"{len(found)} rows")
    missing = [name for name in _REQUIRED if row[name] is None]
    if missing:
        return broken("field(s) missing", ", ".join(missing), "nothing")
    if row["previous"] != previous:
        return broken("link to the previous entry broken", previous, row["previous"])
    try:
        what = json.loads(row["what"])
    except ValueError:
        return broken("changeDetail is not valid JSON", "JSON", row["what"][:60])
    recomputed = entry_hash({**row, "sequence": sequence, "what": what})
    if recomputed != row["hash"]:
        return broken("entry hash mismatch (a stored field was altered)", recomputed, row["hash"])
    return None


def _as_int(text: str | None) -> int:
    try:
        return int(text or "")
    except ValueError:
        return -1
