"""Running one query on a pyoxigraph store and serialising its answer within the row limit.

Used inside the query worker processes (on-disk store) and in threads (memory store); the answer is bytes in
the negotiated format, so only bytes cross a process boundary.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox

from threadline.errors import QueryError, StoreError
from threadline.sparql import negotiation as neg
from threadline.store.base import SelectResult
from threadline.store.reader_view import View
from threadline.store.recovery import dataset


class ResultTooLarge(QueryError):
    """The answer has more rows (or triples) than the endpoint's limit."""

    status = 422
    header = "result-too-large"


@dataclass
class Job:
    """One query to run: text already checked, media type already negotiated."""

    text: str
    form: str
    media: str
    max_rows: int
    default_graphs: list[str] | None = None  # None: the union of all graphs; dataset.STORED_DEFAULT: the stored one
    named_graphs: list[str] | None = None
    base_iri: str | None = None
    # the caller's graphs are a reader view's (threadline.store.reader_view): an executor that publishes views
    # may run the job there on the union default graph instead of the lists; any other uses the lists
    view: View | None = None
    # an as-of state's folder (threadline.history.asof): the store as it stood at a past instant, run there
    state: str | None = None
    # a file to write a CSV/TSV answer to, row by row and with no row limit (``spooled``); None: answer in memory
    spool: str | None = None


@dataclass
class Answer:
    media: str
    body: bytes
    rows: int
    seconds: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)
    spool: str | None = None  # the answer is this file's content (``body`` is empty); the caller removes it


# -- executing on a pyoxigraph store (in a worker process, or in a thread for memory stores) --------------


def execute(store: ox.Store, job: Job, hidden: frozenset[str] = frozenset()) -> Answer:
    """``hidden``: uncommitted graphs in ``store`` (``threadline.store.recovery``) the query must not see."""
    started = time.perf_counter()
    kwargs: dict[str, Any] = {"base_iri": job.base_iri}
    if job.default_graphs is None and job.named_graphs is None:
        kwargs.update(dataset(store, hidden, None, None))
    else:
        kwargs.update(dataset(store, hidden, job.default_graphs or [], job.named_graphs or []))
    result = None
    try:
        result = store.query(job.text, **kwargs)
        answer = serialise(result, job)
    except SyntaxError as exc:
        raise QueryError(f"malformed query: {exc}", position=position(str(exc))) from exc
    except (OSError, RuntimeError, ValueError) as exc:  # OSError: e.g. the sandbox denied a network call
        exc.__traceback__ = None  # its frames hold the results, which must be dropped on this thread
        raise QueryError(f"query failed: {exc}") from exc
    except (QueryError, StoreError) as exc:  # e.g. the row limit, raised while iterating: drop the frames
        raise exc.with_traceback(None) from None  # holding results
    finally:
        del result  # pyoxigraph results must be dropped on their own thread, not via a traceback elsewhere
    answer.seconds = time.perf_counter() - started
    return answer


def serialise(result: Any, job: Job) -> Answer:
    """``result``: a pyoxigraph answer, or a remote store's (``bool``, ``SelectResult``, list of triples)."""
    if isinstance(result, ox.QueryBoolean | bool):
        return Answer(job.media, neg.serialize_boolean(bool(result), job.media), 1)
    if isinstance(result, SelectResult | ox.QuerySolutions):
        if job.spool is not None and job.media in neg.TABLES:
            return _spooled(result, job, job.spool)
        names, solutions = _table(result)
        rows = _limited(solutions, job.max_rows, "rows")
        return Answer(job.media, neg.serialize_solutions(names, rows, job.media), len(rows))
    triples = _limited(iter(result), job.max_rows, "triples")
    return Answer(job.media, neg.serialize_graph(triples, job.media), len(triples))


def _spooled(result: SelectResult | ox.QuerySolutions, job: Job, path: str) -> Answer:
    """A table answer written to ``path`` as the engine produces it: no row limit applies, since no row is
    held in memory; the time limit still does. A failure leaves no file behind."""
    names, rows = _table(result)
    try:
        with io.BufferedWriter(_SpoolFile(path, "x"), buffer_size=1 << 16) as out:
            count = neg.write_table(names, rows, job.media, out)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    finally:
        rows = iter(())  # the generator holds the result: dropped here, on this thread
    return Answer(job.media, b"", count, spool=path)


def _table(result: SelectResult | ox.QuerySolutions) -> tuple[list[str], Iterator[list[Any]]]:
    """Variable names and a lazy sequence of rows (a value or None per variable), from either kind of answer."""
    if isinstance(result, SelectResult):
        return list(result.variables), (list(row) for row in result.rows)
    names = [v.value for v in result.variables]
    return names, ([solution[i] for i in range(len(names))] for solution in result)


class _SpoolFile(io.FileIO):
    """The spool file; a failed write (disk full) is the service's failure, not the query's."""

    def write(self, data: Any) -> int:
        try:
            return super().write(data) or 0
        except OSError as exc:
            raise StoreError(f"the answer could not be written to {self.name}: {exc}") from None


def _limited(items: Any, limit: int, what: str) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if len(out) >= limit:
            raise ResultTooLarge(
                f"the result has more than {limit:,} {what}, the endpoint's limit "
                "(THREADLINE_SPARQL_MAX_ROWS): add LIMIT/OFFSET to page through it, or narrow the query"
            )
        out.append(item)
    return out


def position(message: str) -> str | None:
    """``line L, column C`` from a pyoxigraph parser message ("error at L:C: …")."""
    match = re.search(r"at (\d+):(\d+)", message)
    return f"line {match.group(1)}, column {match.group(2)}" if match else None
