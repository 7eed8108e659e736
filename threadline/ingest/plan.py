"""Which mappings a load runs, and over which files.

Integrators hand ``threadline load`` a source system and the files that system exported, in any order and
under whatever names the export job chose. Where the format says what a file is (XML root element and
namespace, QIF version, B2MML verb + noun, CSV header row) the file is matched to the mapping by its content
(see ``content``); file names are the fallback (JSON, JSON Lines) and break ties. A folder stands for every
file in it. A file named on the command line that no mapping reads is an error rather than silently
ignored: it usually means a renamed or unsupported export. ``--mapping`` runs one mapping over the given
files whatever their names.

A mapping source may declare its document's identity (``tlm:identity``, an XPath such as a QIF report's
``QPId``): each file is then its own batch, keyed by that identity, so reports accumulate instead of each
snapshot retiring the last.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from threadline.errors import IngestError, MappingError, SourceError
from threadline.ingest.content import B2MML_VERBS, FileContent, accepted_roots, b2mml_noun, root_matches, sniff
from threadline.ingest.terms import check_terms
from threadline.mapping import Mapping, load_mapping
from threadline.mapping.model import LogicalSource

MAPPING_SUFFIXES = (".yml", ".yaml", ".ttl", ".rml", ".rml.ttl")


@dataclass
class MappingRun:
    """One mapping and the real file behind each source it names."""

    system: str
    mapping_path: Path
    sources: dict[str, Path]
    mapping: object = field(repr=False)
    identity: str | None = None

    @property
    def batch_key(self) -> str:
        """What a later snapshot of the same export replaces: one system's one mapping (and, for documents that
        carry their own identity such as QIF reports, that one document)."""
        key = f"{self.system}/{self.mapping_path.name}"
        return f"{key}/{self.identity}" if self.identity else key

    def source_files(self) -> list[tuple[Path, str | None]]:
        """Each file this run reads, with the compression its mapping declares for it (for the space check)."""
        specs = _sources(self.mapping)  # type: ignore[arg-type]  # held as object: mapping objects are opaque to callers
        return [
            (path, next((spec.compression for spec in specs.get(location, []) if spec.compression), None))
            for location, path in self.sources.items()
        ]

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
    """Pair each mapping with the given files; every file named one by one must be read by some mapping."""
    files, explicit = _expand(inputs)
    by_name: dict[str, Path] = {}
    for path in files:
        if path.name in by_name and by_name[path.name] != path:
            raise IngestError(f"two input files are both named {path.name}: {by_name[path.name]} and {path}")
        by_name[path.name] = path
    contents = {path: sniff(path) for path in files}
    candidates = [mapping] if mapping else mapping_files(ingest_dir, system)
    slots: list[tuple[Path, Mapping, str, list[LogicalSource]]] = []
    for mapping_path in candidates:
        if not mapping_path.is_file():
            raise MappingError(f"mapping file not found: {mapping_path}")
        loaded = load_mapping(mapping_path)
        check_terms(loaded, mapping_path)
        for location, specs in _sources(loaded).items():
            slots.append((mapping_path, loaded, location, specs))
    claims = _claims(slots, files, contents, explicit_mapping=mapping is not None)
    runs: list[MappingRun] = []
    used: set[Path] = set()
    for mapping_path in candidates:
        mine = [(slot, claims.get(id(slot), [])) for slot in slots if slot[0] == mapping_path]
        if not mine:
            continue
        loaded = mine[0][0][1]
        missing = [slot[2] for slot, got in mine if not got]
        if missing:
            if mapping is None:
                continue  # this export was not handed in: the mapping has nothing to do
            raise IngestError(f"mapping {mapping_path.name} reads {', '.join(missing)}, which was not given")
        for sources in _combinations(mapping_path, mine):
            used.update(sources.values())
            runs.append(MappingRun(system, mapping_path, sources, loaded, identity=_identity(mine, sources)))
    _refuse_unread(system, ingest_dir, files, explicit, used, contents, slots, mapping)
    seen: dict[str, MappingRun] = {}
    for run in runs:
        if run.batch_key in seen:
            both = [str(p) for r in (seen[run.batch_key], run) for p in r.sources.values()]
            raise IngestError(f"{' and '.join(both)} are the same document ({run.batch_key}): load one of them")
        seen[run.batch_key] = run
    if not runs:
        raise IngestError(f"nothing to load for {system}: no mapping matched the given files")
    return runs


def _sources(mapping: Mapping) -> dict[str, list[LogicalSource]]:
    out: dict[str, list[LogicalSource]] = {}
    for tmap in mapping.document.triples_maps:
        specs = out.setdefault(tmap.source.location, [])
        if tmap.source not in specs:
            specs.append(tmap.source)
    return out


Slot = tuple[Path, Mapping, str, list[LogicalSource]]


def _claims(
    slots: list[Slot], files: list[Path], contents: dict[Path, FileContent], *, explicit_mapping: bool
) -> dict[int, list[Path]]:
    """Which files each (mapping, source) reads.

    A file named like a source whose content does not contradict it goes there (several mappings may read one
    export); otherwise the sources its content fits, which must all be the same export; otherwise the sources
    named like it, so the engine says what is wrong (a missing column, 0 records).
    """
    claims: dict[int, list[Path]] = {}
    for path in files:
        content = contents[path]
        named = [slot for slot in slots if Path(slot[2]).name == path.name]
        chosen = [slot for slot in named if _content_match(slot, content) is not False]
        if not chosen:
            chosen = [slot for slot in slots if _content_match(slot, content) is True]
            if len({Path(slot[2]).name for slot in chosen}) > 1:
                names = ", ".join(f"{slot[0].name} ({slot[2]})" for slot in chosen)
                raise IngestError(f"{path}: {content.describe()} fits more than one mapping: {names}; pass --mapping")
        chosen = chosen or named
        if not chosen and explicit_mapping and len(slots) == 1:
            chosen = slots  # --mapping with a single source: any file name
        for slot in chosen:
            claims.setdefault(id(slot), []).append(path)
    return claims


def _content_match(slot: Slot, content: FileContent) -> bool | None:
    """True / False when the content decides, None when it cannot (no marker, or a wildcard iterator)."""
    _, loaded, location, specs = slot
    formulation = specs[0].formulation
    if formulation == "xpath" and content.root is not None:
        roots = accepted_roots(specs)
        return None if roots is None else root_matches(content.root, roots)
    if formulation == "csv" and content.header is not None:
        columns = _columns(loaded, location)
        return bool(columns) and columns <= content.header
    if content.root is not None or content.header is not None:
        return False  # an XML or CSV file is not a JSON export
    return None


def _columns(mapping: Mapping, location: str) -> set[str]:
    from threadline.mapping.execute import _child_references

    refs: set[str] = set()
    for tmap in mapping.document.triples_maps:
        if tmap.source.location == location:
            refs.update(_child_references(tmap))
    return refs


def _combinations(mapping_path: Path, mine: list[tuple[Slot, list[Path]]]) -> list[dict[str, Path]]:
    """One run per file for a single-source mapping whose documents carry their identity; else one run."""
    if len(mine) == 1:
        ((slot, got),) = mine
        if len(got) == 1 or any(spec.identity for spec in slot[3]):
            return [{slot[2]: path} for path in got]
    for slot, got in mine:
        if len(got) > 1:
            raise IngestError(
                f"mapping {mapping_path.name} reads one {slot[2]} per load, but these all fit it: "
                f"{', '.join(str(p) for p in got)}; load them one at a time"
            )
    return [{slot[2]: got[0] for slot, got in mine}]


def _identity(mine: list[tuple[Slot, list[Path]]], sources: dict[str, Path]) -> str | None:
    for slot, _ in mine:
        for spec in slot[3]:
            if spec.identity:
                return document_identity(spec, sources[slot[2]])
    return None


def document_identity(spec: LogicalSource, path: Path) -> str:
    """Evaluate the source's identity XPath on the document: the key its batch is replaced by."""
    from lxml import etree

    try:
        value = etree.parse(str(path)).xpath(spec.identity or "", namespaces=dict(spec.namespaces))
    except (OSError, etree.XMLSyntaxError) as exc:
        raise SourceError(f"cannot read the document's identity: {exc}", file=str(path)) from exc
    except etree.XPathError as exc:
        raise MappingError(f"invalid identity XPath {spec.identity!r}: {exc}") from exc
    if isinstance(value, list):
        value = value[0] if value else ""
    text = ("".join(value.itertext()) if isinstance(value, etree._Element) else str(value)).strip()
    if not text:
        raise SourceError(
            f"the document has no identity ({spec.identity} is empty)", file=str(path), field=spec.identity
        )
    return text


def _refuse_unread(
    system: str,
    ingest_dir: Path,
    files: list[Path],
    explicit: set[Path],
    used: set[Path],
    contents: dict[Path, FileContent],
    slots: list[Slot],
    mapping: Path | None,
) -> None:
    unread = [path for path in files if path in explicit and path not in used]
    if not unread:
        return
    path = unread[0]
    content = contents[path]
    noun = b2mml_noun(content.root) if content.root else None
    if noun is not None:
        mapped = sorted({name for slot in slots for _, name in (accepted_roots(slot[3]) or set())})
        raise IngestError(
            f"{path}: a B2MML {noun} message ({content.describe()}), which the {system} pack does not map; "
            f"it maps {', '.join(mapped)} (with any verb: {', '.join(B2MML_VERBS)})"
        )
    where = mapping.name if mapping else f"{ingest_dir.name}/{system}"
    expected = ", ".join(sorted({slot[2] for slot in slots}))
    raise IngestError(
        f"no mapping in {where} reads {', '.join(p.name for p in unread)} ({content.describe()}); "
        f"the mappings read: {expected}. Pass --mapping to run one mapping over a file of any name"
    )


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
