"""CSV sources: rows are lists read by column index, so a CSV term costs one list lookup per record.

The C reader is fed by ``BoundedLines``, which reads with ``readline(limit)``: a record longer than the
record limit is refused once that many characters are read, never held whole (``csv.reader(file)`` would
first build the entire line). Field sizes are checked on the parsed row, so the error names the column;
the module-wide ``csv.field_size_limit`` is only raised to the record limit so it never trips first.
"""

from __future__ import annotations

import csv
import io
import tarfile
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from threadline.mapping import limits
from threadline.mapping.sources import Getter, RecordError, Source, encoding_name, memory_records, open_binary


class RecordTooLong(Exception):
    """The record being read passed the record limit; ``text`` is its first ``limit`` characters."""

    def __init__(self, text: str) -> None:
        self.text = text


class BoundedLines:
    """Lines of ``handle`` for ``csv.reader``, refusing a record (possibly several lines) over ``limit``.

    An iterator object, not a generator: the reader may be asked for more rows after one was refused.
    """

    def __init__(self, handle: IO[str], limit: int) -> None:
        self.handle = handle
        self.limit = limit
        self.record: list[str] = []
        self.size = 0

    def __iter__(self) -> BoundedLines:
        return self

    def start_record(self) -> None:
        self.record.clear()
        self.size = 0

    def __next__(self) -> str:
        line = self.handle.readline(self.limit - self.size + 1)
        if not line:
            raise StopIteration
        self.size += len(line)
        self.record.append(line)
        if self.size > self.limit:
            raise RecordTooLong("".join(self.record)[: self.limit])
        return line


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
            self._handle: IO[str] = io.TextIOWrapper(binary, encoding=encoding_name(self.spec.encoding), newline="")
            kwargs: dict[str, Any] = {"delimiter": self.spec.delimiter}
            if self.spec.quotechar is None:
                kwargs["quoting"] = csv.QUOTE_NONE
            else:
                kwargs["quotechar"] = self.spec.quotechar
            bounds = limits.current()
            self._field_chars = bounds.field_chars
            if csv.field_size_limit() < bounds.record_chars:
                csv.field_size_limit(bounds.record_chars)
            self._kwargs = kwargs
            self._lines = BoundedLines(self._handle, bounds.record_chars)
            self._rows: Iterator[list[str]] = csv.reader(self._lines, strict=True, **kwargs)
            try:
                header = next(self._rows, None)
            except (csv.Error, UnicodeDecodeError) as exc:
                raise self.error(f"malformed CSV header: {exc}", "row 1") from exc
            except RecordTooLong as exc:
                raise self._too_long(exc, 1, []) from None
            self.header = header or []
            self._dicts = False
        else:
            self._dicts = True
            self.header = []
        self.columns = {name: i for i, name in enumerate(self.header)}
        references = list(references)
        if not self._dicts and not self.header and references:  # an empty file: no header to read columns from
            raise self.error("the file is empty: no header row", locator="row 1")
        if not self._dicts and self.header:
            for ref in references:
                if ref not in self.columns:
                    raise self.error(f"column {ref!r} is not in the header {self.header}", locator="row 1", field=ref)

    def records(self) -> Iterator[tuple[Any, Any]]:
        if self._dicts:
            yield from memory_records(self.target)
            return
        width = len(self.header)
        row_no = 1
        rows = self._rows
        lines = self._lines
        field_chars = self._field_chars
        try:
            while True:
                lines.start_record()
                try:
                    row = next(rows)
                except StopIteration:
                    return
                except (csv.Error, UnicodeDecodeError) as exc:
                    row_no += 1
                    yield row_no, RecordError(f"malformed CSV: {exc}")
                    continue
                except RecordTooLong as exc:
                    raise self._too_long(exc, row_no + 1, self.header) from None
                row_no += 1
                if len(row) != width:
                    if not row:
                        continue
                    yield row_no, RecordError(f"expected {width} fields, found {len(row)}")
                    continue
                if lines.size > field_chars:  # only a record this long can hold a field over the limit
                    long = next((i for i, value in enumerate(row) if len(value) > field_chars), None)
                    if long is not None:
                        yield (
                            row_no,
                            RecordError(
                                f"field of {len(row[long])} characters is longer than the limit of {field_chars}",
                                self.header[long],
                            ),
                        )
                        continue
                yield row_no, row
        finally:
            self._handle.close()

    def _too_long(self, exc: RecordTooLong, row_no: int, header: list[str]) -> Exception:
        """A fatal error (the rest of the record is unread, so the next one cannot be found): names the column
        being read when the limit was hit, found by parsing the part that was read."""
        try:
            fields = next(csv.reader(io.StringIO(exc.text), **self._kwargs), [])
        except csv.Error:
            fields = []
        column = header[len(fields) - 1] if 0 < len(fields) <= len(header) else None
        return self.error(f"record is longer than the limit of {self._lines.limit} characters", f"row {row_no}", column)

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
