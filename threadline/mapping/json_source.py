"""JSON (JSONPath) and JSON Lines sources.

Plain JSONPaths (keys, indexes, wildcards) are walked by hand, which is several times faster per record
than jsonpath-ng; anything else (filters, recursive descent, slices) goes to jsonpath-ng.

Input limits (``threadline.mapping.limits``): the stdlib parser recurses per nesting level and refuses
integers over 4300 digits, so both arrive here as Python errors (RecursionError, ValueError) and become
``SourceError``s; after a successful parse ``json_limits`` walks the value (iteratively) for the configured
nesting depth and value size. JSON Lines reads each line with ``readline(limit)``, so one huge line is
refused without being held; a JSON document is parsed whole and is refused above the document size limit.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from threadline.errors import MappingError
from threadline.mapping import limits
from threadline.mapping.json_limits import LimitExceeded, parse_json
from threadline.mapping.sources import Getter, RecordError, Source, encoding_name, memory_records, open_binary

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
                yield from memory_records(self.target)
            return
        bounds = limits.current()
        text = self.text(max_bytes=bounds.document_bytes)
        try:
            document = parse_json(text, bounds)
        except json.JSONDecodeError as exc:
            raise self.error(f"invalid JSON: {exc.msg}", f"line {exc.lineno} column {exc.colno}") from exc
        except LimitExceeded as exc:
            raise self.error(exc.message, exc.locator, exc.field) from None
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
        bounds = limits.current()
        with io.TextIOWrapper(binary, encoding=encoding_name(self.spec.encoding)) as handle:
            line_no = 0
            while line := handle.readline(bounds.record_chars + 1):
                line_no += 1
                if len(line) > bounds.record_chars and not line.endswith("\n"):
                    raise self.error(
                        f"line is longer than the record limit of {bounds.record_chars} characters",
                        f"line {line_no}",
                    )
                if not line.strip():
                    continue
                try:
                    document = parse_json(line, bounds)
                except json.JSONDecodeError as exc:
                    yield (line_no, None), RecordError(f"invalid JSON: {exc.msg} (column {exc.colno})")
                    continue
                except LimitExceeded as exc:
                    where = f"{exc.locator} " if exc.locator.startswith("$") else ""
                    yield (line_no, None), RecordError(f"{where}{exc.message}", exc.field)
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
