"""Threadline's one exception hierarchy.

Errors raised by the libraries beneath us (pyoxigraph, rdflib, lxml, csv, json, httpx, ...) are translated
into these at exactly one boundary per subsystem (``raise QueryError(...) from exc``), so callers — the CLI
and the HTTP layer — only ever handle ``ThreadlineError`` and can map each branch to an exit status or an
HTTP status without knowing which library failed::

    ThreadlineError
    ├── ConfigError              a setting is missing or malformed
    ├── StoreError               the store could not do what was asked
    │   ├── StoreUnavailable     a remote store did not answer / an on-disk store is locked
    │   ├── StoreVersionError    the store's recorded versions do not let this Threadline open it
    │   │   ├── StoreTooNew      a newer Threadline wrote it: upgrade Threadline
    │   │   └── MigrationNeeded  an older one wrote it: run ``threadline migrate``
    │   ├── EngineLimit          the store's engine is known to answer this wrongly: refused (HTTP 501)
    │   └── QueryError           a SPARQL query or update was rejected (syntax, forbidden feature, bad parameter)
    │       └── QueryTimeout     a query ran past its time limit and was stopped
    ├── IngestError              anything that stops a load; the store is left exactly as before
    │   ├── MappingError         the mapping document itself is invalid (RML / YARRRML)
    │   ├── SourceError          a source record is bad: names file, row/line or path, and field
    │   ├── LoadError            the mapped batch could not be committed
    │   └── InsufficientSpace    the load would not fit on the staging or store disk (HTTP 507)
    ├── ValidationError          SHACL shapes or data could not be validated (not: "data does not conform")
    ├── UnknownFormat            a ``format`` parameter names no format the route offers (HTTP 400)
    ├── SignatureError           a record cannot be signed as asked (its class or the meaning is not signable)
    │   ├── UnknownRecord        the record to sign is not in the thread
    │   └── SignatureRefused     the signer may not make this signature (role, shared or unnamed token)
    └── DemoError                the demo generator was asked for something it cannot make
"""

from __future__ import annotations


class ThreadlineError(Exception):
    """Root of every error Threadline raises on purpose."""


class ConfigError(ThreadlineError):
    """A setting is missing or cannot be parsed."""


class StoreError(ThreadlineError):
    """The store could not perform an operation."""


class StoreUnavailable(StoreError):
    """The store cannot be reached or opened (remote endpoint down, on-disk store locked)."""


class StoreVersionError(StoreError):
    """The store's format or ontology version is not the one this Threadline reads (``threadline.upgrades``)."""


class StoreTooNew(StoreVersionError):
    """The store was written by a newer Threadline (a higher store format or ontology version)."""


class MigrationNeeded(StoreVersionError):
    """The store was written by an older Threadline and needs ``threadline migrate`` (or one was interrupted)."""


class EngineLimit(StoreError):
    """The store's engine is known (measured) to answer this kind of question wrongly, so it is refused rather
    than answered: the message names the engine and the limit (``threadline.store.engines``)."""


class QueryError(StoreError):
    """A query or update was refused or failed; ``position`` is the parser's location when known."""

    def __init__(self, message: str, *, position: str | None = None) -> None:
        super().__init__(message)
        self.position = position


class QueryTimeout(QueryError):
    """A query exceeded its time limit and its work was stopped."""


class IngestError(ThreadlineError):
    """A load could not complete; nothing was written."""


class MappingError(IngestError):
    """The mapping document (RML, RML-Core or YARRRML) is invalid or uses something unsupported."""


class SourceError(IngestError):
    """A source record is malformed. Carries where: file, locator (row, line, JSONPath or XPath) and field."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        locator: str | None = None,
        field: str | None = None,
    ) -> None:
        self.reason = message
        self.file = file
        self.locator = locator
        self.field = field
        where = ", ".join(
            part
            for part in (
                f"file {file}" if file else "",
                locator or "",
                f"field {field!r}" if field else "",
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)


class LoadError(IngestError):
    """The mapped batch could not be committed to the store."""


class InsufficientSpace(IngestError):
    """A load would not fit on a disk: refused before the store is written. Names the folder, the space the load
    needs there and the space free (``threadline.ingest.space``)."""

    def __init__(self, message: str, *, folder: str, needed: int, free: int) -> None:
        super().__init__(message)
        self.folder = folder
        self.needed = needed
        self.free = free


class ValidationError(ThreadlineError):
    """Shapes or data could not be validated at all (malformed shapes, unsupported feature)."""


class UnknownFormat(ThreadlineError):
    """A ``format`` parameter names no format the route offers (HTTP 400; an ``Accept`` header that accepts
    none of them is ``sparql.negotiation.NotAcceptable``, HTTP 406)."""


class SignatureError(ThreadlineError):
    """A record cannot be signed as asked: its class is not signable or the meaning is not one of its class's."""


class UnknownRecord(SignatureError):
    """The record to sign is not in the thread (no data graph holds a statement about it)."""


class SignatureRefused(SignatureError):
    """The signer may not make this signature: their role does not allow it, or their token is not one
    person's (the shared bootstrap token, a token without a name)."""


class DemoError(ThreadlineError):
    """The demo generator was given arguments it cannot satisfy."""
