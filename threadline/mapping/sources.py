"""What every record source shares: the ``Source`` base, ``RecordError`` and opening (compressed) files.

The concrete sources live in ``csv_source``, ``json_source`` (JSON and JSON Lines) and ``xml_source``.
Each source yields ``(position, record)`` lazily and compiles references into getters once, so the
executor's per-record cost is a few dict / list lookups. Getters come in two shapes: *single* getters
return one raw value or None (CSV columns, plain JSON keys), *multi* getters return a list (JSONPath
wildcards, XPath node sets). Malformed records are yielded as ``RecordError`` instances instead of
raised, so on_error="skip" can reject them and carry on.

Memory: CSV, JSON Lines and in-memory iterables stream. A JSON document is parsed whole (the stdlib has
no streaming parser); XML streams when it can (see ``xml_source``).
"""

from __future__ import annotations

import gzip
import tarfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from threadline.errors import MappingError, SourceError
from threadline.mapping.model import LogicalSource

Getter = tuple[Callable[[Any], Any], bool]


class RecordError(Exception):
    """A problem with one record (missing field, bad value); the executor adds file and locator."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def open_binary(path: Path, compression: str | None) -> IO[bytes]:
    if compression is None:
        return path.open("rb")
    if compression == "gzip":
        return gzip.open(path, "rb")  # type: ignore[return-value]  # gzip's file is binary IO, as the other branch's
    if compression == "zip":
        archive = zipfile.ZipFile(path)
        name = next(n for n in archive.namelist() if not n.endswith("/"))
        return archive.open(name)
    archive_t = tarfile.open(path, "r:*")  # noqa: SIM115 - the member handle keeps the archive open
    member = next(m for m in archive_t.getmembers() if m.isfile())
    handle = archive_t.extractfile(member)
    if handle is None:
        raise OSError(f"cannot read {member.name} in {path}")
    return handle


def encoding_name(name: str) -> str:
    name = name.lower().replace("_", "-")
    return "utf-8-sig" if name in ("utf-8", "utf8") else name


class Source:
    """Base: the file (or in-memory object) behind one logical source for one pass."""

    single_valued = False

    def __init__(self, spec: LogicalSource, target: Any, file_name: str) -> None:
        self.spec = spec
        self.target = target
        self.file_name = file_name
        self.nulls = frozenset(spec.nulls)

    def error(self, message: str, locator: str | None = None, field: str | None = None) -> SourceError:
        return SourceError(message, file=self.file_name, locator=locator, field=field)

    def prepare(self, references: Iterable[str]) -> None:
        """Open the input and check that the references can be answered at all."""

    def records(self) -> Iterator[tuple[Any, Any]]:
        raise NotImplementedError

    def locator(self, position: Any) -> str:
        return str(position)

    def getter(self, reference: str) -> Getter:
        raise NotImplementedError

    def unmatched(self) -> set[str]:
        """References that matched in no record so far (JSON / XML track this; CSV checks its header)."""
        seen: dict[str, list[bool]] = getattr(self, "_seen", {})
        return {ref for ref, hit in seen.items() if not hit[0]}

    def column_index(self, reference: str) -> int | None:
        """The list index of a CSV column, so hot closures can read rows without a getter call."""
        return None

    def text(self, max_bytes: int | None = None) -> str:
        """The whole (decompressed) file; refused, without reading further, past ``max_bytes``."""
        if not isinstance(self.target, Path):
            raise self.error("expected a file")
        try:
            with open_binary(self.target, self.spec.compression) as handle:
                data = handle.read() if max_bytes is None else handle.read(max_bytes + 1)
                if max_bytes is not None and len(data) > max_bytes:
                    raise self.error(f"the document is larger than the limit of {max_bytes} bytes")
                return data.decode(encoding_name(self.spec.encoding))
        except FileNotFoundError as exc:
            raise self.error("source file not found") from exc
        except (OSError, UnicodeDecodeError, zipfile.BadZipFile, tarfile.TarError) as exc:
            raise self.error(f"cannot read source: {exc}") from exc


def memory_records(records: Any) -> Iterator[tuple[Any, Any]]:
    """In-memory records (a list of dicts, say) numbered from 1, for ``record N`` locators."""
    if isinstance(records, str | bytes | Path):
        raise MappingError("in-memory source must be an iterable of records")
    yield from enumerate(records, 1)
