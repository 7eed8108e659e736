"""Ontology term renames: the table ``ontology/renames.csv`` that the ontology's owners keep beside the Turtle.

One row per rename, ``version,old,new``: from ontology ``version`` on, the term ``old`` is called ``new``.
Terms are written as ``tl:name`` or as full IRIs. Two parts of Threadline read it, and must agree:

- ``threadline migrate`` rewrites ``old`` to ``new`` in the data graphs of a store that holds an older
  ontology version (``threadline.upgrades.steps``);
- the record hash (``threadline.signatures.record_hash``) computes a signature's hash under the ontology version the
  signature was made with, by mapping the store's current names back through the renames made since
  (``back_to``): so a rename never makes a signed record read as changed, and a real change still does.

The file is read with the standard ``csv`` module; what a row may say is small enough to check here, with
errors that name the file, the line and the field.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

from threadline.errors import ConfigError
from threadline.namespaces import TL
from threadline.upgrades.versions import parse

RENAMES_FILE = "renames.csv"
COLUMNS = ["version", "old", "new"]


@dataclass(frozen=True)
class Rename:
    """From ontology ``version`` on, the term ``old`` is called ``new`` (full IRIs)."""

    version: str
    old: str
    new: str

    @property
    def since(self) -> Version:
        return parse(self.version)


def load(directory: Path | None = None) -> list[Rename]:
    """The renames listed beside the ontology, oldest version first (none when the file is absent)."""
    from threadline.ontology import ontology_dir

    path = (directory or ontology_dir()) / RENAMES_FILE
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows or [cell.strip() for cell in rows[0]] != COLUMNS:
        raise ConfigError(f"{path}: line 1: the header must be {','.join(COLUMNS)}")
    found = [_row(path, number, row) for number, row in enumerate(rows[1:], 2) if any(c.strip() for c in row)]
    _check_chain(path, found)
    return sorted(found, key=lambda r: r.since)


def _row(path: Path, number: int, row: list[str]) -> Rename:
    if len(row) != len(COLUMNS):
        raise ConfigError(
            f"{path}: line {number}: expected {len(COLUMNS)} fields ({','.join(COLUMNS)}), got {len(row)}"
        )
    version, old, new = (cell.strip() for cell in row)
    parse(version, f"{path}: line {number}: field 'version':")
    rename = Rename(version, _term(path, number, "old", old), _term(path, number, "new", new))
    if rename.old == rename.new:
        raise ConfigError(f"{path}: line {number}: field 'new': {new!r} is the old name itself")
    return rename


def _term(path: Path, number: int, field: str, text: str) -> str:
    iri = TL + text[3:] if text.startswith("tl:") else text
    if not iri.startswith(TL) or len(iri) == len(TL) or not iri[len(TL) :].replace("_", "a").isalnum():
        raise ConfigError(
            f"{path}: line {number}: field {field!r}: {text!r} is not a term of the Threadline ontology "
            f"(write tl:name or {TL}name)"
        )
    return iri


def _check_chain(path: Path, renames: list[Rename]) -> None:
    """A term is renamed at most once per version, and a version's new names are not its old ones (the
    renames of one version apply all at once, so a chain inside one version would be ambiguous)."""
    for version in {r.version for r in renames}:
        olds = [r.old for r in renames if r.version == version]
        news = {r.new for r in renames if r.version == version}
        twice = sorted({old for old in olds if olds.count(old) > 1})
        if twice:
            raise ConfigError(f"{path}: version {version} renames {twice[0]} twice")
        if news & set(olds):
            raise ConfigError(f"{path}: version {version} renames {sorted(news & set(olds))[0]} and to it")


def between(renames: list[Rename], after: str, upto: str) -> list[Rename]:
    """The renames a store holding ontology ``after`` needs to hold ``upto``, in the order to apply them."""
    low, high = parse(after), parse(upto)
    return [r for r in renames if low < r.since <= high]


def back_to(renames: list[Rename], signed: str, current: str) -> dict[str, str]:
    """Map each term as the store names it (ontology ``current``) to its name under ontology ``signed``."""
    mapping: dict[str, str] = {}
    renamed_later: set[str] = set()  # names that are no longer current (a newer rename replaced them)
    for rename in reversed(between(renames, signed, current)):
        for name, then in list(mapping.items()):
            if then == rename.new:
                mapping[name] = rename.old
        if rename.new not in renamed_later and rename.new not in mapping:
            mapping[rename.new] = rename.old
        renamed_later.add(rename.old)
    return mapping
