"""Record iterators for CSV, JSON (JSONPath), JSON Lines, XML (XPath) and in-memory records.

Each source yields ``(position, record)`` lazily and compiles references into getters once, so the
executor's per-record cost is a few dict / list lookups. Getters come in two shapes: *single* getters
return one raw value or None (CSV columns, plain JSON keys), *multi* getters return a list (JSONPath
wildcards, XPath node sets). Malformed records are yielded as ``RecordError`` instances instead of
raised, so on_error="skip" can reject them and carry on.

Memory: CSV, JSON Lines and in-memory iterables stream. A JSON document is parsed whole (the stdlib has
no streaming parser). XML streams with ``lxml.etree.iterparse`` when the iterator is a plain absolute
element path (``/a/b/c``) and no reference looks outside the record (``..``, axes, absolute paths);
otherwise the document is parsed whole.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import tarfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from lxml import etree

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
        return gzip.open(path, "rb")  # type: ignore[return-value]
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


def _encoding(name: str) -> str:
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

    def text(self) -> str:
        if not isinstance(self.target, Path):
            raise self.error("expected a file")
        try:
            with open_binary(self.target, self.spec.compression) as handle:
                return handle.read().decode(_encoding(self.spec.encoding))
        except FileNotFoundError as exc:
            raise self.error("source file not found") from exc
        except (OSError, UnicodeDecodeError, zipfile.BadZipFile, tarfile.TarError) as exc:
            raise self.error(f"cannot read source: {exc}") from exc


# -- CSV ------------------------------------------------------------------------------------------------
class CsvSource(Source):
    """Rows are lists; the locator is the CSV record number with the header as row 1."""

    single_valued = True

    def prepare(self, references: Iterable[str]) -> None:
        if isinstance(self.target, Path):
            try:
                binary = open_binary(self.target, self.spec.compression)
            except FileNotFoundError as exc:
                raise self.error("source file not found") from exc
            except (OSError, zipfile.BadZipFile, tarfile.TarError) as exc:
                raise self.error(f"cannot open source: {exc}") from exc
            self._handle: IO[str] = io.TextIOWrapper(binary, encoding=_encoding(self.spec.encoding), newline="")
            kwargs: dict[str, Any] = {"delimiter": self.spec.delimiter}
            if self.spec.quotechar is None:
                kwargs["quoting"] = csv.QUOTE_NONE
            else:
                kwargs["quotechar"] = self.spec.quotechar
            self._rows: Iterator[list[str]] = csv.reader(self._handle, strict=True, **kwargs)
            try:
                header = next(self._rows, None)
            except (csv.Error, UnicodeDecodeError) as exc:
                raise self.error(f"malformed CSV header: {exc}", "row 1") from exc
            self.header = header or []
            self._dicts = False
        else:
            self._dicts = True
            self.header = []
        self.columns = {name: i for i, name in enumerate(self.header)}
        if not self._dicts and self.header:
            for ref in references:
                if ref not in self.columns:
                    raise self.error(f"column {ref!r} is not in the header {self.header}", locator="row 1", field=ref)

    def records(self) -> Iterator[tuple[Any, Any]]:
        if self._dicts:
            yield from _memory_records(self.target)
            return
        width = len(self.header)
        row_no = 1
        rows = self._rows
        try:
            while True:
                try:
                    row = next(rows)
                except StopIteration:
                    return
                except (csv.Error, UnicodeDecodeError) as exc:
                    row_no += 1
                    yield row_no, RecordError(f"malformed CSV: {exc}")
                    continue
                row_no += 1
                if len(row) != width:
                    if not row:
                        continue
                    yield row_no, RecordError(f"expected {width} fields, found {len(row)}")
                    continue
                yield row_no, row
        finally:
            self._handle.close()

    def locator(self, position: Any) -> str:
        return f"row {position}" if isinstance(position, int) and not self._dicts else f"record {position}"

    def column_index(self, reference: str) -> int | None:
        return None if self._dicts else self.columns.get(reference)

    def getter(self, reference: str) -> Getter:
        nulls = self.nulls
        if self._dicts:

            def get_key(rec: Any) -> Any:
                try:
                    value = rec[reference]
                except (KeyError, TypeError):
                    raise RecordError(f"field {reference!r} is missing", reference) from None
                if value is None or value in nulls:
                    return None
                return value

            return get_key, True
        index = self.columns[reference]
        if nulls:

            def get_null(row: list[str]) -> str | None:
                value = row[index]
                return None if value in nulls else value

            return get_null, True
        return (lambda row: row[index]), True


# -- JSON -----------------------------------------------------------------------------------------------
_STEP = re.compile(r"""\.(\*|[^.\[\]]+)|\[(\*|-?\d+)\]|\[\s*'((?:[^'\\]|\\.)*)'\s*\]|\[\s*"((?:[^"\\]|\\.)*)"\s*\]""")
_WILD = object()


def simple_path(path: str) -> list[object] | None:
    """Steps of a plain JSONPath (keys, indexes, wildcards) or None when it needs the full engine."""
    if not path.startswith("$"):
        return None
    steps: list[object] = []
    pos = 1
    while pos < len(path):
        m = _STEP.match(path, pos)
        if m is None:
            return None
        dot, index, sq, dq = m.groups()
        if dot is not None:
            steps.append(_WILD if dot == "*" else dot)
        elif index is not None:
            steps.append(_WILD if index == "*" else int(index))
        else:
            raw = sq if sq is not None else dq
            steps.append(re.sub(r"\\(.)", r"\1", raw))
        pos = m.end()
    return steps


def _walk(values: list[Any], step: object) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if step is _WILD:
            if isinstance(v, list):
                out.extend(v)
            elif isinstance(v, dict):
                out.extend(v.values())
        elif isinstance(step, int):
            if isinstance(v, list) and -len(v) <= step < len(v):
                out.append(v[step])
        elif isinstance(v, dict) and step in v:
            out.append(v[step])
    return out


def json_getter(reference: str, seen: list[bool]) -> Getter:
    """Compile a JSONPath reference (relative to the record) into a getter.

    An absent key is an empty value, like JSON null (optional fields are normal in exports); ``seen``
    records whether the reference ever matched, so the source can report a reference that matches in
    no record at all (a typo) once the pass is complete.
    """
    path = reference if reference.startswith("$") else "$." + reference
    steps = simple_path(path)
    if steps is None and not reference.startswith("$"):
        steps = [reference]
    if steps is not None and all(isinstance(s, str) for s in steps):
        keys = steps

        def get_keys(rec: Any) -> Any:
            value = rec
            for key in keys:
                if value.__class__ is not dict or key not in value:
                    return None
                value = value[key]
            seen[0] = True
            if value is None:
                return None
            if isinstance(value, dict | list):
                raise RecordError(f"field {reference!r} holds a JSON {type(value).__name__}, not a value", reference)
            return value

        return get_keys, True
    if steps is not None:
        walk_steps = steps

        def get_many(rec: Any) -> list[Any]:
            values = [rec]
            for step in walk_steps:
                values = _walk(values, step)
            if values:
                seen[0] = True
            return _scalars(values, reference)

        return get_many, False
    expr = compile_jsonpath(reference)

    def get_ng(rec: Any) -> list[Any]:
        values = [m.value for m in expr.find(rec)]
        if values:
            seen[0] = True
        return _scalars(values, reference)

    return get_ng, False


def _scalars(values: list[Any], reference: str) -> list[Any]:
    out = []
    for v in values:
        if v is None:
            continue
        if isinstance(v, dict | list):
            raise RecordError(f"field {reference!r} holds a JSON {type(v).__name__}, not a value", reference)
        out.append(v)
    return out


def compile_jsonpath(path: str) -> Any:
    from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
    from jsonpath_ng.ext import parse

    try:
        return parse(path)
    except (JsonPathLexerError, JsonPathParserError, Exception) as exc:
        raise MappingError(f"invalid JSONPath {path!r}: {exc}") from exc


def iterate_json(document: Any, iterator: str | None) -> Iterator[tuple[str, Any]]:
    """Yield ``(jsonpath locator, record)`` for every record the iterator selects."""
    path = iterator or "$"
    steps = simple_path(path)
    if steps is None:
        for match in compile_jsonpath(path).find(document):
            yield "$." + str(match.full_path), match.value
        return
    current: list[tuple[str, Any]] = [("$", document)]
    for step in steps:
        nxt: list[tuple[str, Any]] = []
        for loc, v in current:
            if step is _WILD:
                if isinstance(v, list):
                    nxt.extend((f"{loc}[{i}]", item) for i, item in enumerate(v))
                elif isinstance(v, dict):
                    nxt.extend((f"{loc}.{k}", item) for k, item in v.items())
            elif isinstance(step, int):
                if isinstance(v, list) and -len(v) <= step < len(v):
                    nxt.append((f"{loc}[{step}]", v[step]))
            elif isinstance(v, dict) and step in v:
                nxt.append((f"{loc}.{step}", v[step]))
        current = nxt
    for loc, v in current:
        if isinstance(v, list) and steps and steps[-1] is not _WILD:
            yield from ((f"{loc}[{i}]", item) for i, item in enumerate(v))
        elif v is not None:
            yield loc, v


class JsonSource(Source):
    def prepare(self, references: Iterable[str]) -> None:
        self._seen: dict[str, list[bool]] = {}
        if self.spec.iterator is not None and simple_path(self.spec.iterator) is None:
            compile_jsonpath(self.spec.iterator)

    def records(self) -> Iterator[tuple[Any, Any]]:
        return self._records()

    def _records(self) -> Iterator[tuple[Any, Any]]:
        if not isinstance(self.target, Path):
            if isinstance(self.target, dict):
                yield from iterate_json(self.target, self.spec.iterator)
            else:
                yield from _memory_records(self.target)
            return
        text = self.text()
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise self.error(f"invalid JSON: {exc.msg}", f"line {exc.lineno} column {exc.colno}") from exc
        yield from iterate_json(document, self.spec.iterator)

    def locator(self, position: Any) -> str:
        return position if isinstance(position, str) else f"record {position}"

    def getter(self, reference: str) -> Getter:
        return json_getter(reference, self._seen.setdefault(reference, [False]))


class JsonLinesSource(JsonSource):
    """One JSON document per line; the iterator (if any) applies within each line."""

    def _records(self) -> Iterator[tuple[Any, Any]]:
        if not isinstance(self.target, Path):
            yield from super()._records()
            return
        try:
            binary = open_binary(self.target, self.spec.compression)
        except FileNotFoundError as exc:
            raise self.error("source file not found") from exc
        iterator = self.spec.iterator if self.spec.iterator not in (None, "$") else None
        with io.TextIOWrapper(binary, encoding=_encoding(self.spec.encoding)) as handle:
            for line_no, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    document = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield (line_no, None), RecordError(f"invalid JSON: {exc.msg} (column {exc.colno})")
                    continue
                if iterator is None:
                    yield (line_no, None), document
                else:
                    for loc, rec in iterate_json(document, iterator):
                        yield (line_no, loc), rec

    def locator(self, position: Any) -> str:
        if isinstance(position, tuple):
            line_no, loc = position
            return f"line {line_no}" + (f" {loc}" if loc else "")
        return super().locator(position)


def _memory_records(records: Any) -> Iterator[tuple[Any, Any]]:
    if isinstance(records, str | bytes | Path):
        raise MappingError("in-memory source must be an iterable of records")
    yield from enumerate(records, 1)


# -- XML ------------------------------------------------------------------------------------------------
_SIMPLE_XPATH = re.compile(r"(?:/[A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?)+\Z")
_CHILD = re.compile(r"[A-Za-z_][\w.\-]*\Z")
_OUTSIDE = re.compile(r"\.\.|::|^/|\bid\(")


def _xml_text(value: Any) -> str:
    if isinstance(value, etree._Element):
        return "".join(value.itertext())
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class XmlSource(Source):
    """Records are lxml elements; the locator is ``{iterator}[n]`` with n counted from 1."""

    def prepare(self, references: Iterable[str]) -> None:
        self._seen: dict[str, list[bool]] = {}
        self.namespaces = dict(self.spec.namespaces)
        iterator = self.spec.iterator or "/*"
        self.iterator = iterator
        self._stream = _SIMPLE_XPATH.match(iterator) is not None and not any(_OUTSIDE.search(r) for r in references)
        try:
            self._xpath = etree.XPath(iterator, namespaces=self.namespaces)
        except etree.XPathError as exc:
            raise MappingError(f"invalid XPath iterator {iterator!r}: {exc}") from exc

    def _clark(self, step: str) -> str:
        if ":" in step:
            prefix, local = step.split(":", 1)
            uri = self.namespaces.get(prefix)
            if uri is None:
                raise MappingError(f"XPath prefix {prefix!r} is not declared in the mapping")
            return f"{{{uri}}}{local}"
        return step

    def records(self) -> Iterator[tuple[Any, Any]]:
        if not isinstance(self.target, Path):
            yield from _memory_records(self.target)
            return
        try:
            binary = open_binary(self.target, self.spec.compression)
        except FileNotFoundError as exc:
            raise self.error("source file not found") from exc
        with binary:
            try:
                if self._stream:
                    yield from self._iterparse(binary)
                else:
                    tree = etree.parse(binary)
                    yield from enumerate(self._xpath(tree), 1)
            except etree.XMLSyntaxError as exc:
                raise self.error(f"XML not well formed: {exc.msg}", f"line {exc.lineno}") from exc
            except etree.XPathError as exc:
                raise MappingError(f"XPath iterator {self.iterator!r} failed: {exc}") from exc

    def _iterparse(self, binary: IO[bytes]) -> Iterator[tuple[Any, Any]]:
        path = [self._clark(s) for s in self.iterator.strip("/").split("/")]
        depth = len(path)
        n = 0
        for _event, el in etree.iterparse(binary, events=("end",), tag=path[-1], remove_blank_text=False):
            chain = []
            node = el
            while node is not None:
                chain.append(node.tag)
                node = node.getparent()
            if len(chain) != depth or chain[::-1] != path:
                continue
            n += 1
            yield n, el
            el.clear(keep_tail=False)
            parent = el.getparent()
            if parent is not None:
                while el.getprevious() is not None:
                    del parent[0]

    def locator(self, position: Any) -> str:
        return f"{self.iterator}[{position}]" if isinstance(position, int) else str(position)

    def getter(self, reference: str) -> Getter:
        seen = self._seen.setdefault(reference, [False])
        if _CHILD.match(reference):
            tag = reference

            def get_child(el: Any) -> list[str]:
                out = ["".join(c.itertext()) for c in el.iterchildren(tag)]
                if out:
                    seen[0] = True
                return out

            return get_child, False
        if reference.startswith("@") and _CHILD.match(reference[1:]):
            attr = reference[1:]

            def get_attr(el: Any) -> Any:
                value = el.get(attr)
                if value is not None:
                    seen[0] = True
                return value

            return get_attr, True
        try:
            xpath = etree.XPath(reference, namespaces=self.namespaces, smart_strings=False)
        except etree.XPathError as exc:
            raise MappingError(f"invalid XPath reference {reference!r}: {exc}") from exc

        def get_xpath(el: Any) -> list[str]:
            result = xpath(el)
            if isinstance(result, list):
                out = [_xml_text(v) for v in result]
            elif isinstance(result, str) and result == "":
                out = []
            else:
                out = [_xml_text(result)]
            if out:
                seen[0] = True
            return out

        return get_xpath, False


SOURCES: dict[str, type[Source]] = {
    "csv": CsvSource,
    "jsonpath": JsonSource,
    "jsonl": JsonLinesSource,
    "xpath": XmlSource,
}
