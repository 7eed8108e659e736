"""Input limits every record source enforces while it reads, so a hostile or broken export costs bounded memory.

A source must refuse an oversized record *before* holding it: a 1 GB single-line CSV read with
``csv.reader(file)`` becomes one 1 GB string (and its decoded copy) before the C reader notices its field
limit. So the CSV and JSON Lines sources read lines with ``readline(limit)`` and stop at the limit, and the
JSON document source walks the parsed document (iteratively, no recursion) for nesting and value size.

The limits come from the settings (``ingest_max_*``). The server binds the app's own settings for the
duration of one load with ``applied``; anything else (the CLI, library use) reads the process settings.
A context variable rather than a parameter threads them through, because the executor between the loader
and the sources has no business knowing about them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class InputLimits:
    """Largest field and record (characters), deepest nesting and largest whole-parsed document (bytes)."""

    field_chars: int = 1 << 20
    record_chars: int = 4 << 20
    nesting_depth: int = 64
    document_bytes: int = 256 << 20

    @classmethod
    def from_settings(cls, settings: Any) -> InputLimits:
        return cls(
            field_chars=int(settings.ingest_max_field_chars),
            record_chars=int(settings.ingest_max_record_chars),
            nesting_depth=int(settings.ingest_max_depth),
            document_bytes=int(settings.ingest_max_document_bytes),
        )


_bound: ContextVar[InputLimits | None] = ContextVar("threadline_input_limits", default=None)


def current() -> InputLimits:
    """The limits bound by ``applied``, else those of the process settings (environment)."""
    bound = _bound.get()
    if bound is not None:
        return bound
    from threadline.config import get_settings

    return InputLimits.from_settings(get_settings())


@contextmanager
def applied(limits: InputLimits) -> Iterator[InputLimits]:
    """Bind ``limits`` for every source opened in this context (one load in one worker thread)."""
    token = _bound.set(limits)
    try:
        yield limits
    finally:
        _bound.reset(token)
