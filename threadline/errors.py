"""Threadline's one exception hierarchy, and what each error answers.

Errors raised by the libraries beneath us (pyoxigraph, rdflib, lxml, csv, json, httpx, ...) are translated
into these at exactly one boundary per subsystem (``raise QueryError(...) from exc``), so callers — the CLI
and the HTTP layer — only ever handle ``ThreadlineError``. Each class carries how it is answered, so neither
caller keeps a table of its own: ``status``, the HTTP status (``threadline.web.errors``), and ``exit_code``,
the ``threadline`` command's exit status (``threadline.cli``: 2 for every error, as 1 means "ran, and found
problems"). A class whose message may name server internals (paths, URLs, engine output) sets ``public`` to
False: HTTP then shows ``hidden`` instead, unless THREADLINE_DEBUG, and the log keeps the real message.
``header`` names the kind of the few errors clients branch on (``X-Threadline-Error: timeout``), and
``headers()`` any other header the answer needs (a ``WWW-Authenticate`` challenge).
Subclasses defined beside their feature (the module named first) inherit these; ``tests/test_errors.py``
holds this drawing to the classes::

                                                                                                     HTTP  exit
    ThreadlineError                 the root: anything Threadline refuses on purpose                 400     2
    ├── ConfigError                 a setting is missing or malformed                                400     2
    ├── StoreError                  the store could not do what was asked                            503*    2
    │   ├── StoreUnavailable        a remote store did not answer / an on-disk store is locked       503*    2
    │   │   └── StoreBusy           another process held the writer lease past our wait: try again   503*    2
    │   ├── WriteRefused            lease lost, or another writer appended first: nothing written    503     2
    │   ├── ChainForked             two writers appended after one audit entry: this write landed    500     2
    │   ├── StoreVersionError       the store's recorded versions do not let us open it              503*    2
    │   │   ├── StoreTooNew         a newer Threadline wrote it: upgrade Threadline                  503*    2
    │   │   └── MigrationNeeded     an older one wrote it: run ``threadline migrate``                503*    2
    │   ├── EngineLimit             the engine is known to answer this wrongly: refused              501     2
    │   ├── AsOfUnsupported         history.asof: as-of reads on a store that keeps no past states   501     2
    │   ├── PartialAnswer           store.engines: the engine cut an answer short                    503     2
    │   ├── GraphNotFound           sparql.graphstore: no graph of that name                         404     2
    │   ├── BackupFailed            store.backup: a backup asked for over HTTP could not be made     503     2
    │   └── QueryError              a query or update was rejected (syntax, feature, parameter)      400     2
    │       ├── QueryTimeout        a query ran past its time limit and was stopped                  503     2
    │       ├── ResultTooLarge      sparql.execution: more rows than the endpoint's limit            422     2
    │       ├── NotAcceptable       sparql.negotiation: no format the client accepts                 406     2
    │       ├── ProtocolError       sparql.protocol: not SPARQL 1.1 Protocol (``status`` varies)     400     2
    │       ├── UnknownQuery        queries: no named query of that name                             404     2
    │       ├── ForbiddenOperation  store.safety: the text asks for SERVICE or LOAD                 400     2
    │       ├── BadBound            history.patch: a since/until/limit that is none (names it)      400     2
    │       ├── OutOfHistory        history.asof: an instant history does not cover (names it)      400     2
    │       └── Unverifiable        store.safety: SERVICE or LOAD where the checker cannot read     400     2
    ├── IngestError                 anything that stops a load; the store is left as before          422     2
    │   ├── MappingError            the mapping document itself is invalid (RML / YARRRML)           422     2
    │   ├── SourceError             a bad source record: names file, row/line or path, field         422     2
    │   ├── LoadError               the store refused the batch or its commit: nothing written       503*    2
    │   ├── InsufficientSpace       the load would not fit on the staging or store disk: refused     507     2
    │   └── ValidationRejected      shacl.gate: the load gate refused it (body: its report)          422     2
    ├── ValidationError             shapes or data could not be validated (not: "does not conform")  400     2
    │   └── ShapesError             shacl.shapes: a shapes file cannot be read                       400     2
    ├── UnknownFormat               a ``format`` parameter names no format the route offers          400     2
    ├── InvalidRequest              a parameter or an upload the route cannot take as given          422     2
    ├── NotFound                    no such thing (a stored report, a source system)                 404     2
    ├── Unauthorised                no, a malformed, unknown or revoked token (RFC 6750 challenge)   401     2
    ├── Forbidden                   the token's role or scope does not allow this                    403     2
    ├── Unavailable                 a part of the installation is missing: ask the operator          503     2
    ├── SignatureError              a record cannot be signed as asked (its class, the meaning)      422     2
    │   ├── UnknownRecord           the record to sign is not in the thread                          404     2
    │   └── SignatureRefused        the signer may not (role, shared or unnamed token)               403     2
    ├── AuthError                   auth.roles: a token cannot be made as asked (role, scope)        422     2
    │   ├── UnknownToken            auth.tokens: no token has this id                                404     2
    │   └── AlreadyRevoked          auth.tokens: the token was revoked before                        409     2
    ├── AuditError                  audit.chain: an audit entry cannot be made                       400     2
    ├── GraphQLUserError            graphql_api.errors: in GraphQL ``errors``, BAD_USER_INPUT        400     2
    │   └── NotFoundError           graphql_api.errors: NOT_FOUND                                    404     2
    └── DemoError                   the demo generator cannot make what was asked                    400     2

    * the message is shown only with THREADLINE_DEBUG (``public = False``)
"""

from __future__ import annotations

from typing import Any


class ThreadlineError(Exception):
    """Root of every error Threadline raises on purpose."""

    status: int = 400  # a request Threadline refuses is the client's to change, unless a class says otherwise
    exit_code: int = 2
    public: bool = True
    hidden: str = "the request could not be completed"
    header: str | None = None  # X-Threadline-Error: a machine-readable kind for the few errors clients branch on

    def details(self) -> dict[str, Any]:
        """Structured facts beside the message (the HTTP body's extra fields); none by default."""
        return {}

    def headers(self) -> dict[str, str]:
        """Headers the HTTP answer must carry besides ``X-Threadline-Error``; none by default."""
        return {}


class ConfigError(ThreadlineError):
    """A setting is missing or cannot be parsed."""


class StoreError(ThreadlineError):
    """The store could not perform an operation."""

    status = 503
    public = False  # store messages name paths, endpoint URLs and engine output
    hidden = "the store could not complete the request"


class StoreUnavailable(StoreError):
    """The store cannot be reached or opened (remote endpoint down, on-disk store locked)."""


class StoreBusy(StoreUnavailable):
    """Another process held the store's writer lease for longer than ``THREADLINE_STORE_LEASE_WAIT``: try again."""

    hidden = "another process kept the store busy with its writes for longer than this write may wait: try again"


class WriteRefused(StoreError):
    """A write to a store shared by several processes was refused before anything was written: this process lost
    the store's writer lease (it stopped renewing it in time), or another writer appended to the audit chain in
    the meantime (the lease was broken). Safe to retry."""

    public = True  # says what happened and to try again; names nothing of the server


class ChainForked(StoreError):
    """Two writers appended to the audit chain after the same entry (the store's writer lease and the audit
    guard were both defeated): the write landed, and ``threadline audit verify`` names the duplicate entry. Not a
    503: trying again would write the change twice."""

    status = 500
    public = True


class StoreVersionError(StoreError):
    """The store's format or ontology version is not the one this Threadline reads (``threadline.upgrades``)."""


class StoreTooNew(StoreVersionError):
    """The store was written by a newer Threadline (a higher store format or ontology version)."""


class MigrationNeeded(StoreVersionError):
    """The store was written by an older Threadline and needs ``threadline migrate`` (or one was interrupted)."""


class EngineLimit(StoreError):
    """The store's engine is known (measured) to answer this kind of question wrongly, so it is refused rather
    than answered: the message names the engine and the limit (``threadline.store.engines``)."""

    status = 501
    public = True  # says what to ask instead
    header = "engine-limit"


class QueryError(StoreError):
    """A query or update was refused or failed; ``position`` is the parser's location when known."""

    status = 400
    public = True  # the parser's message, about the client's own text

    def __init__(self, message: str, *, position: str | None = None) -> None:
        super().__init__(message)
        self.position = position

    def details(self) -> dict[str, Any]:
        return {"position": self.position}


class QueryTimeout(QueryError):
    """A query exceeded its time limit and its work was stopped."""

    status = 503
    header = "timeout"


class IngestError(ThreadlineError):
    """A load could not complete; nothing was written."""

    status = 422


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

    def details(self) -> dict[str, Any]:
        return {"file": self.file, "locator": self.locator, "field": self.field}


class LoadError(IngestError):
    """The store refused to take the mapped batch or its commit: nothing was written. The store failed, not the
    request (a 5xx, not 422: the files need no change), and its message may name paths, URLs and engine output."""

    status = 503
    public = False
    hidden = "the store could not take the load, and nothing was written: try again later"


class InsufficientSpace(IngestError):
    """A load would not fit on a disk: refused before the store is written. Names the folder, the space the load
    needs there and the space free (``threadline.ingest.space``)."""

    def __init__(self, message: str, *, folder: str, needed: int, free: int) -> None:
        super().__init__(message)
        self.folder = folder
        self.needed = needed
        self.free = free

    status = 507  # the server's disk, not the request, is at fault: the client may retry once space is freed

    def details(self) -> dict[str, Any]:
        return {"needed": self.needed, "free": self.free}


class ValidationError(ThreadlineError):
    """Shapes or data could not be validated at all (malformed shapes, unsupported feature)."""


class UnknownFormat(ThreadlineError):
    """A ``format`` parameter names no format the route offers (HTTP 400; an ``Accept`` header that accepts
    none of them is ``sparql.negotiation.NotAcceptable``, HTTP 406)."""


class InvalidRequest(ThreadlineError):
    """A parameter or an upload the route cannot take as given, though it parsed (HTTP 422): a value outside
    its choices, two parameters that exclude each other, an upload's file name."""

    status = 422


class NotFound(ThreadlineError):
    """The request names something that is not there: a stored report, a source system's mapping pack."""

    status = 404


class Unauthorised(ThreadlineError):
    """No token where one is needed, or one that is malformed, unknown or revoked (RFC 6750): the answer
    carries the ``WWW-Authenticate`` challenge saying how to authenticate."""

    status = 401

    def __init__(self, message: str, *, challenge: str) -> None:
        super().__init__(message)
        self.challenge = challenge

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": self.challenge}


class Forbidden(ThreadlineError):
    """The caller is known, but their token's role or scope does not allow this (or the target only changes
    through its own commands). ``challenge``: a caller who sent no token is told how to send one."""

    status = 403

    def __init__(self, message: str, *, challenge: str | None = None) -> None:
        super().__init__(message)
        self.challenge = challenge

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": self.challenge} if self.challenge else {}


class Unavailable(ThreadlineError):
    """A part of the installation the request needs is missing (front-end assets not fetched): the operator
    must install it; the client can only try again later."""

    status = 503


class SignatureError(ThreadlineError):
    """A record cannot be signed as asked: its class is not signable or the meaning is not one of its class's."""

    status = 422


class UnknownRecord(SignatureError):
    """The record to sign is not in the thread (no data graph holds a statement about it)."""

    status = 404


class SignatureRefused(SignatureError):
    """The signer may not make this signature: their role does not allow it, or their token is not one
    person's (the shared bootstrap token, a token without a name)."""

    status = 403


class DemoError(ThreadlineError):
    """The demo generator was given arguments it cannot satisfy."""
