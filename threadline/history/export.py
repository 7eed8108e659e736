"""One page of the change-set stream, written whole before anything is sent: what ``GET /changes`` and
``threadline changes`` share. A page is spooled (memory, then disk past ``SPOOL_BYTES``) so that an error while
writing it is answered as an error, never as a 200 carrying half a patch."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import IO

from threadline.history import patch
from threadline.history.changeset import change_iri
from threadline.store import Store

DEFAULT_LIMIT = 100  # change sets per page over HTTP
MAX_LIMIT = 1000
SPOOL_BYTES = 8 << 20


@dataclass
class Page:
    """A written page: its patches in ``body`` (rewound), how many, the last change id, whether more follow,
    and the first change id the store has (history starts there)."""

    body: IO[bytes]
    count: int
    last: int | None
    more: bool
    first: int | None

    @property
    def first_iri(self) -> str | None:
        return change_iri(self.first) if self.first is not None else None


def limit_of(text: str | None) -> int:
    """The ``limit`` parameter: 1..MAX_LIMIT, DEFAULT_LIMIT when absent; BadBound naming ``limit`` otherwise."""
    if text is None:
        return DEFAULT_LIMIT
    if not text.strip().isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise patch.BadBound("limit", f"{text!r} is not a whole number from 1 to {MAX_LIMIT}")
    return int(text)


def page(store: Store, since: str | None, until: str | None, limit: int | None) -> Page:
    """The patches after ``since`` up to ``until``, at most ``limit`` of them (None: all)."""
    low, high = patch.bound(since, "since"), patch.bound(until, "until")
    found = patch.changes(store, low, high, None if limit is None else limit + 1)
    more = limit is not None and len(found) > limit
    found = found[:limit] if limit is not None else found
    body = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - handed to the caller, who closes it
    try:
        count = patch.write(store, found, body)
    except BaseException:
        body.close()
        raise
    body.seek(0)
    return Page(body, count, found[-1].sequence if found else None, more, patch.first(store))
