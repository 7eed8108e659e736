"""CSV sources: rows are lists read by column index, so a CSV term costs one list lookup per record."""

from __future__ import annotations

import csv
import io
import tarfile
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from threadline.mapping.sources import Getter, RecordError, Source, encoding_name, memory_records, open_binary


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
