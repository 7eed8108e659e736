"""Which mappings a load runs, and over which files.

Integrators hand ``threadline load`` a source system and the files that system exported, in any order and
under whatever names the export job chose. The mapping pack names its sources by the export's usual file
name (``parts.csv``), so files are matched to mappings by name; a folder stands for every file in it. A
file that no mapping reads is an error rather than silently ignored: it usually means a renamed export.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from threadline.errors import IngestError, MappingError
from threadline.mapping import load_mapping

MAPPING_SUFFIXES = (".yml", ".yaml", ".ttl", ".rml", ".rml.ttl")


@dataclass
class MappingRun:
    """One mapping and the real file behind each source it names."""

    system: str
    mapping_path: Path
    sources: dict[str, Path]
    mapping: object = field(repr=False)

    @property
    def batch_key(self) -> str:
        """What a later snapshot of the same export replaces: one system's one mapping."""
        return f"{self.system}/{self.mapping_path.name}"

    def content_hash(self) -> str:
        """sha256 over the mapping and every source, in a fixed order: equal hash, equal batch."""
        sha = hashlib.sha256(file_sha256(self.mapping_path).encode())
        for name in sorted(self.sources):
            sha.update(name.encode() + b"\0" + file_sha256(self.sources[name]).encode())
        return sha.hexdigest()


def file_sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()


def mapping_files(ingest_dir: Path, system: str) -> list[Path]:
    folder = ingest_dir / system
    if not folder.is_dir():
        known = sorted(p.name for p in ingest_dir.iterdir() if p.is_dir()) if ingest_dir.is_dir() else []
        raise IngestError(
            f"no mapping pack for source system {system!r} in {ingest_dir.name}/ (known: {', '.join(known)})"
        )
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(MAPPING_SUFFIXES))


def plan(system: str, inputs: list[Path], *, ingest_dir: Path, mapping: Path | None = None) -> list[MappingRun]:
    """Pair each mapping with the given files; every given file must be read by some mapping."""
    files, explicit = _expand(inputs)
    by_name: dict[str, Path] = {}
    for path in files:
        if path.name in by_name and by_name[path.name] != path:
            raise IngestError(f"two input files are both named {path.name}: {by_name[path.name]} and {path}")
        by_name[path.name] = path
    candidates = [mapping] if mapping else mapping_files(ingest_dir, system)
    runs: list[MappingRun] = []
    used: set[str] = set()
    for mapping_path in candidates:
        if not mapping_path.is_file():
            raise MappingError(f"mapping file not found: {mapping_path}")
        loaded = load_mapping(mapping_path)
        names = [Path(source).name for source in loaded.sources]
        if not names:
            continue
        present = [name for name in names if name in by_name]
        if mapping is None and len(present) < len(set(names)):
            continue  # this export was not handed in: the mapping has nothing to do
        missing = sorted(set(names) - set(present))
        if missing:
            raise IngestError(f"mapping {mapping_path.name} reads {', '.join(missing)}, which was not given")
        sources = {source: by_name[Path(source).name] for source in loaded.sources}
        used.update(present)
        runs.append(MappingRun(system, mapping_path, sources, loaded))
    unused = sorted(name for name in set(by_name) - used if by_name[name] in explicit)
    if unused and mapping is None:
        raise IngestError(
            f"no mapping in {ingest_dir.name}/{system} reads {', '.join(unused)}; "
            "rename the file to the export name the mapping expects or pass --mapping"
        )
    if not runs:
        raise IngestError(f"nothing to load for {system}: no mapping matched the given files")
    return runs


def _expand(inputs: list[Path]) -> tuple[list[Path], set[Path]]:
    """All files, and those named one by one (a folder may hold files no mapping reads; that is fine)."""
    files: list[Path] = []
    explicit: set[Path] = set()
    for path in inputs:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")))
        elif path.is_file():
            files.append(path)
            explicit.add(path)
        else:
            raise IngestError(f"input file not found: {path}")
    return files, explicit
