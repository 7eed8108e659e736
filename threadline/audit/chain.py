"""The hash-chained audit trail (21 CFR 11.10(e), EU GMP Annex 11 §9): one entry per write, in the write's
own transaction.

An entry is not written by this module: ``entry_update`` returns SPARQL Update text (``INSERT DATA`` into the
audit graph) that the caller appends, with `` ;\\n``, to the update making the change it records. SPARQL 1.1
runs one update request as one transaction on every backend we support, so the change and its record are
stored together or not at all, with no two-phase protocol of our own.

Each entry's hash covers a canonical serialisation of all its fields, including the previous entry's hash,
so altering, removing or reordering any stored entry breaks the chain at that entry (``verify`` names it).

Single writer: the head of the chain (last sequence number and hash) is read from the store, so two writers
appending at once would both take the same sequence number. Every writer therefore holds ``writer_lock(store)``
from reading the head until its update has run (``commit``); ``entry_update`` refuses to run without it. The
lock belongs to the store (to its URL: two handles on one remote or on-disk store share it; each in-memory store
has its own), never to the process: a write to one store must not wait for another store's. Across processes the
embedded on-disk store is already exclusive (RocksDB lock), so the lock is a thread lock and nothing more there;
on a remote store, which several processes may share, the outermost holder in each process also takes the
store's writer lease (``threadline.store.lease``), and ``commit`` guards the append (``threadline.audit.guard``).

Canonical form, by hand because it is a dozen lines and must be recomputable by an inspector with any JSON
tool: the JSON object ``{"action", "actor", "previous", "sequence", "time", "what", "why"}`` with keys sorted,
no whitespace (separators ``,`` and ``:``), non-ASCII characters written as themselves, UTF-8 encoded; the
hash is the lowercase hex sha256 of those bytes. ``what`` holds only strings, integers, booleans, null, lists
and objects with ASCII keys — no floats, whose text form differs between tools — which makes this form equal
to RFC 8785 (JSON Canonicalization Scheme) for every entry we write.
"""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox

from threadline.errors import ThreadlineError
from threadline.namespaces import AUDIT_GRAPH, ID, TL, XSD
from threadline.store import Store

if TYPE_CHECKING:
    from threadline.store.lease import Lease

ENTRY_PREFIX = ID + "audit/"
GENESIS = "0" * 64

ACTIONS = frozenset(
    {
        "load",
        "upsert",
        "insert",
        "delete",
        "update",
        "token-create",
        "token-revoke",
        "validation-evidence",
        "signature",
        "migrate",
    }
)
REASON_REQUIRED = frozenset({"update", "delete", "token-revoke"})

# field name in the canonical form -> predicate in the audit graph
FIELDS = {
    "sequence": TL + "auditSequence",
    "time": TL + "recordedAt",
    "actor": TL + "actor",
    "action": TL + "auditAction",
    "what": TL + "changeDetail",
    "why": TL + "reason",
    "previous": TL + "previousHash",
    "hash": TL + "entryHash",
}


class AuditError(ThreadlineError):
    """An audit entry cannot be made (missing reason, unknown action, lock not held, bad ``what``)."""


class _ProcessLock:
    """A re-entrant lock that knows whether the current thread holds it (``threading.RLock`` does not say), and
    what its holder has taken with it: the store's writer lease, the entry made and not yet committed."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._owner: int | None = None
        self.depth = 0
        self.lease: Lease | None = None
        self.pending: dict[str, Any] | None = None

    def acquire(self) -> None:
        self._lock.acquire()
        self._owner = threading.get_ident()
        self.depth += 1

    def release(self) -> None:
        self.depth -= 1
        if not self.depth:
            self._owner = None
        self._lock.release()

    def held(self) -> bool:
        return self._owner == threading.get_ident()


class WriterLock:
    """``writer_lock(store)``: the store's process lock, plus — when the outermost holder takes it on a store that
    several processes may share — the store's writer lease, taken after the process lock so that the threads of
    one process queue here rather than at the store."""

    def __init__(self, shared: _ProcessLock, store: Store) -> None:
        self._shared, self._store = shared, store

    def acquire(self) -> None:
        self._shared.acquire()
        if self._shared.depth > 1:
            return
        try:
            lease = self._store.writer_lease()
            if lease is not None:
                lease.acquire()
        except BaseException:
            self._shared.release()
            raise
        self._shared.lease, self._shared.pending = lease, None

    def release(self) -> None:
        if self._shared.depth == 1:
            lease, self._shared.lease, self._shared.pending = self._shared.lease, None, None
            if lease is not None:
                lease.release()
        self._shared.release()

    def held(self) -> bool:
        return self._shared.held()

    @property
    def lease(self) -> Lease | None:
        """The store's writer lease while this thread holds the lock on a shared store; None otherwise."""
        return self._shared.lease if self.held() else None

    def remember(self, entry: dict[str, Any]) -> None:
        self._shared.pending = entry

    def take_pending(self) -> dict[str, Any] | None:
        """The entry ``entry_update`` made under this lock and no update has carried yet (then forgotten)."""
        entry, self._shared.pending = self._shared.pending, None
        return entry

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


_by_url: dict[str, _ProcessLock] = {}
_by_store: weakref.WeakKeyDictionary[Store, _ProcessLock] = weakref.WeakKeyDictionary()  # in-memory stores
_locks_guard = threading.Lock()


def writer_lock(store: Store) -> WriterLock:
    """The lock of ``store``'s audit chain (see the module docstring): hold it from reading the head of the chain
    until the update carrying the entry has run."""
    from threadline.store import MEMORY_URLS

    with _locks_guard:
        if store.url in MEMORY_URLS:
            shared = _by_store.setdefault(store, _ProcessLock())
        else:
            shared = _by_url.setdefault(store.url, _ProcessLock())
    return WriterLock(shared, store)


def canonical(entry: dict[str, Any]) -> bytes:
    """The exact bytes an entry's hash is computed over (see the module docstring)."""
    fields = {key: entry[key] for key in ("action", "actor", "previous", "sequence", "time", "what", "why")}
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(entry: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(entry)).hexdigest()


def entry_iri(sequence: int) -> str:
    return f"{ENTRY_PREFIX}{sequence}"


def utc_now() -> str:
    """UTC time in xsd:dateTime's canonical lexical form (no trailing fractional zeros), so that a store which
    normalises dateTime literals (Oxigraph does) gives back exactly the text that was hashed."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
    return stamp + "Z"


def head(store: Store) -> tuple[int, str]:
    """Sequence number and hash of the newest entry; ``(0, GENESIS)`` for an empty trail."""
    result = store.select(
        f"SELECT ?seq ?hash WHERE {{ GRAPH <{AUDIT_GRAPH}> {{ ?e <{FIELDS['sequence']}> ?seq ; "
        f"<{FIELDS['hash']}> ?hash }} }} ORDER BY DESC(?seq) LIMIT 1"
    )
    if not result.rows:
        return 0, GENESIS
    seq, digest = result.rows[0]
    return int(seq.value), digest.value  # type: ignore[union-attr]  # the query binds this cell: never None


def entry_update(store: Store, *, action: str, actor: str, what: dict[str, Any], why: str | None) -> str:
    """SPARQL Update text appending one entry; append it to the update that makes the change, and run that
    update with ``audit.commit`` before calling this again (both while holding ``writer_lock(store)``)."""
    lock = writer_lock(store)
    if not lock.held():
        raise AuditError("audit entries are made while holding audit.writer_lock(store) (single-writer chain)")
    entry = make_entry(store, action=action, actor=actor, what=what, why=why)
    lock.remember(entry)
    return insert_text(entry)


def make_entry(store: Store, *, action: str, actor: str, what: dict[str, Any], why: str | None) -> dict[str, Any]:
    if action not in ACTIONS:
        raise AuditError(f"unknown audit action {action!r}; known: {', '.join(sorted(ACTIONS))}")
    if not actor or not actor.strip():
        raise AuditError("an audit entry needs an actor (who made the change)")
    why = why.strip() if why else None
    if action in REASON_REQUIRED and not why:
        raise AuditError(f"a reason is required for {action!r} (21 CFR 11.10(e): why the record changed)")
    _check_json(what, "what")
    sequence, previous = head(store)
    entry: dict[str, Any] = {
        "sequence": sequence + 1,
        "time": utc_now(),
        "actor": actor.strip(),
        "action": action,
        "what": what,
        "why": why,
        "previous": previous,
    }
    entry["hash"] = entry_hash(entry)
    return entry


def insert_text(entry: dict[str, Any]) -> str:
    node = f"<{entry_iri(entry['sequence'])}>"
    what = json.dumps(entry["what"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    lines = [
        f"{node} a <{TL}AuditEntry> ;",
        f"  <{FIELDS['sequence']}> {ox.Literal(str(entry['sequence']), datatype=ox.NamedNode(XSD + 'integer'))} ;",
        f"  <{FIELDS['time']}> {ox.Literal(entry['time'], datatype=ox.NamedNode(XSD + 'dateTime'))} ;",
        f"  <{FIELDS['actor']}> {ox.Literal(entry['actor'])} ;",
        f"  <{FIELDS['action']}> {ox.Literal(entry['action'])} ;",
        f"  <{FIELDS['what']}> {ox.Literal(what)} ;",
    ]
    if entry["why"] is not None:
        lines.append(f"  <{FIELDS['why']}> {ox.Literal(entry['why'])} ;")
    lines += [
        f"  <{FIELDS['previous']}> {ox.Literal(entry['previous'])} ;",
        f"  <{FIELDS['hash']}> {ox.Literal(entry['hash'])} .",
    ]
    return f"INSERT DATA {{ GRAPH <{AUDIT_GRAPH}> {{\n" + "\n".join(lines) + "\n} }"


def _check_json(value: Any, path: str) -> None:
    """Only the JSON types whose canonical text every tool agrees on."""
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        raise AuditError(f"{path}: floats have no single canonical text form; give a string or an integer")
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_json(item, f"{path}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or not key.isascii():
                raise AuditError(f"{path}: keys must be ASCII strings, got {key!r}")
            _check_json(item, f"{path}.{key}")
        return
    raise AuditError(f"{path}: cannot record a value of type {type(value).__name__}")
