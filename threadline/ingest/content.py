"""What a file is, from its content: the XML root element and namespace, or the CSV header row.

Exports arrive under whatever names the exporting job chose (``7_11_2017 9_16_18 AM Plate_Results.qif``,
``LOT-20121210170718-0001L0001.xml``), so matching files to mappings by name alone forces people to rename real
files. Where the format says what a file is, the mapping pack already says what it reads:

- XML: each iterator's first step names the root element it starts from (``/qif:QIFDocument/...`` in the QIF 3
  namespace, ``//b2mml:ProductionPerformance/...``, ``/*[local-name() = 'MTConnectDevices']/...``), so a
  file's root element and namespace pick the mapping; the namespace tells QIF 2 from QIF 3. ISA-95 B2MML wraps
  each noun in a verb (``SyncMaterialInformation``, ``ProcessProductionPerformance``, ...): a B2MML root is
  read as verb + noun, and the noun picks the mapping.
- CSV: the header row must hold every column the mapping references.

JSON and JSON Lines carry no such marker: they match by file name, as before.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from threadline.mapping.emptiness import root_name
from threadline.mapping.model import LogicalSource

B2MML_VERBS = ("Sync", "Process", "Show", "Get", "Change", "Acknowledge", "Respond", "Cancel")
_B2MML_NAMESPACE = re.compile(r"^http://www\.(?:wbf|mesa)\.org/xml/B2MML")
_FIRST_STEP = re.compile(r"^\(?\s*//?(?:([A-Za-z_][\w.\-]*):)?([A-Za-z_][\w.\-]*)")
_LOCAL_NAME_STEP = re.compile(r"""^\(?\s*//?\*\[\s*local-name\(\)\s*=\s*['"]([\w.\-]+)['"]""")

Root = tuple[str | None, str]  # (namespace, or None for "any"; local name)


@dataclass(frozen=True)
class FileContent:
    """What sniffing found: an XML root ``(namespace, local)``, or a CSV header, or nothing."""

    root: Root | None = None
    header: frozenset[str] | None = None

    def describe(self) -> str:
        if self.root is not None:
            namespace, local = self.root
            return f"root element <{local}>" + (f" in namespace {namespace}" if namespace else "")
        return "CSV header " + ", ".join(sorted(self.header or ())) if self.header is not None else "unknown content"


def sniff(path: Path) -> FileContent:
    """Read only as much of ``path`` as tells its kind: the first element, or the first row."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        return FileContent()
    if head.startswith(b"<"):
        clark = root_name(path)
        if clark is None:
            return FileContent()
        namespace, _, local = clark[1:].partition("}") if clark.startswith("{") else ("", "", clark)
        return FileContent(root=(namespace or None, local))
    if path.suffix.lower() in (".csv", ".tsv", ".txt"):
        with path.open(encoding="utf-8-sig", newline="", errors="replace") as handle:
            row = next(csv.reader(handle, delimiter="\t" if path.suffix.lower() == ".tsv" else ","), None)
        return FileContent(header=frozenset(c.strip() for c in row) if row else None)
    return FileContent()


def accepted_roots(specs: list[LogicalSource]) -> set[Root] | None:
    """The root elements the iterators over one XML source start from; None when any root could do."""
    roots: set[Root] = set()
    for spec in specs:
        namespaces = dict(spec.namespaces)
        for branch in _branches(spec.iterator or "/*"):
            named = _LOCAL_NAME_STEP.match(branch)
            if named:
                roots.add((None, named.group(1)))
                continue
            step = _FIRST_STEP.match(branch)
            if step is None:
                return None
            prefix, local = step.groups()
            roots.add((namespaces.get(prefix) if prefix else None, local))
    return roots


def root_matches(root: Root, accepted: set[Root]) -> bool:
    namespace, local = root
    nouns = {local}
    if namespace and _B2MML_NAMESPACE.match(namespace):
        nouns |= {local[len(verb) :] for verb in B2MML_VERBS if local.startswith(verb) and len(local) > len(verb)}
    return any(name in nouns and ns in (None, namespace) for ns, name in accepted)


def b2mml_noun(root: Root) -> str | None:
    """The noun of a B2MML message root (``SyncEquipment`` -> ``Equipment``), for naming what is refused."""
    namespace, local = root
    if not namespace or not _B2MML_NAMESPACE.match(namespace):
        return None
    for verb in B2MML_VERBS:
        if local.startswith(verb) and len(local) > len(verb):
            return local[len(verb) :]
    return local


def _branches(iterator: str) -> list[str]:
    """Top-level ``|`` branches of an XPath union (a ``|`` inside brackets or quotes is not a split)."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(iterator):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(iterator[start:i].strip())
            start = i + 1
    parts.append(iterator[start:].strip())
    return parts
