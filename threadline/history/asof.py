"""As-of reads on the embedded on-disk store: the thread as it stood at a past instant (docs/history.md, design 3).

An instant resolves to the last change id N recorded at or before it (``resolve``). The state at N is a RocksDB
checkpoint of the live store (hard links, as reader views are made) in which every change set after N that the
checkpoint holds is undone, newest first (``materialise``): what a change added is removed, what it removed is put
back, graphs it added whole are dropped and graphs it removed whole restored from their archive. The history's
own bookkeeping after N goes too (audit entries, change graphs, archives, token changes), so the copy answers
exactly what the store answered at N. KPI summaries, derived outside the audit trail, are dropped: readers of
the copy run the plain aggregate. Change sets are read from the checkpoint itself, so a write landing while a
state is built is only one more change to undo.

States never change once built (history is append-only), so they are cached by change id — and by entry N's
hash, so that a store restored to another history never reuses a state — under ``<store>.asof/``, each built
in a private folder and renamed into place whole. The cache is bounded by ``THREADLINE_ASOF_CACHE_STATES``: states
beyond the most recently used are deleted (``collect``), never one a query worker or this process has open.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyoxigraph as ox

from threadline.errors import QueryError, StoreError
from threadline.history import patch, undo
from threadline.namespaces import AUDIT_GRAPH, KPI_GRAPH, STAGING_PREFIX, TL
from threadline.store import EmbeddedStore, Store

KEEP = 4  # states kept in the cache besides those in use, unless THREADLINE_ASOF_CACHE_STATES says otherwise
_BUILDING = threading.Lock()  # one state built at a time per process: two readers of one instant share it
_OPEN: Counter[str] = Counter()  # state folders open in this process: never collected
_OPENED = threading.Lock()  # guards _OPEN; taken after _BUILDING when both are (a close never waits for a build)


class OutOfHistory(QueryError):
    """An as-of instant the store's history does not cover: before its first change set, after the server's
    clock, or across a migration (which rewrote data outside change sets). HTTP 400, exit 2."""

    def __init__(self, message: str, first: str | None = None) -> None:
        super().__init__(message)
        self.first = first

    def details(self) -> dict[str, str]:
        return {"field": "asOf"} | ({"first": self.first} if self.first else {})


class AsOfUnsupported(StoreError):
    """As-of reads on a store that cannot keep past states (a remote store, a memory store): refused rather than
    answered with the present. HTTP 501, exit 2."""

    status = 501
    public = True  # names no path or URL


HEADER = "X-Threadline-As-Of"  # the instant asked for, as a header; in answers, the time of the change it resolved to


def asked(given: str | None, header: str | None) -> str | None:
    """The instant a request asks for: its ``asOf`` parameter or the header, which must not say two different
    things (400 naming ``asOf``)."""
    if given is not None and header is not None and given.strip() != header.strip():
        raise patch.BadBound("asOf", f"{given!r} and the {HEADER} header {header!r} disagree")
    return given if given is not None else header


@dataclass(frozen=True)
class Instant:
    """What an as-of instant resolved to: change id ``sequence``, recorded at ``time``, audit entry ``hash``."""

    asked: str
    sequence: int
    time: str
    hash: str


def resolve(store: Store, text: str, *, now: datetime | None = None) -> Instant:
    """``text`` (an xsd:dateTime with its zone, or a change id) as the last change id at or before it."""
    asked = patch.bound(text, "asOf")
    assert asked is not None  # text is given
    first = patch.first(store)
    if first is None:
        raise OutOfHistory("the store has no history yet (no change set): there is no past instant to read")
    entries = _entries(store, first)
    start = entries[0]
    if asked.sequence is not None:
        found = [e for e in entries if e[0] == asked.sequence]
        if not found:
            raise OutOfHistory(
                f"change {asked.sequence} is outside the store's history ({first} to {entries[-1][0]})", start[1]
            )
        chosen = found[0]
    else:
        assert asked.time is not None
        moment = _parse(asked.time)
        if moment > (now or datetime.now(UTC)):
            raise OutOfHistory(f"{text.strip()} is in the future: what the thread will say then is not known yet")
        earlier = [e for e in entries if _parse(e[1]) <= moment]
        if not earlier:
            raise OutOfHistory(
                f"{text.strip()} is before the store's history, which starts at {start[1]} (change {first})", start[1]
            )
        chosen = earlier[-1]
    _check_no_migration_after(entries, chosen[0], first)
    return Instant(text.strip(), chosen[0], chosen[1], chosen[2])


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.upper().replace("Z", "+00:00"))


def _entries(store: Store, first: int) -> list[tuple[int, str, str, str]]:
    """Every audit entry from ``first`` on: (sequence, time, hash, action), oldest first."""
    rows = store.select(
        f"SELECT ?seq ?time ?hash ?action WHERE {{ GRAPH <{AUDIT_GRAPH}> {{ ?e <{TL}auditSequence> ?seq ; "
        f"<{TL}recordedAt> ?time ; <{TL}entryHash> ?hash ; <{TL}auditAction> ?action }} "
        f"FILTER(?seq >= {first}) }} ORDER BY ?seq"
    ).rows
    return [(int(s.value), t.value, h.value, a.value) for s, t, h, a in rows]  # type: ignore[union-attr]  # all bound


def _check_no_migration_after(entries: list[tuple[int, str, str, str]], sequence: int, first: int) -> None:
    migrations = [e for e in entries if e[3] == "migrate" and e[0] > max(sequence, first)]
    if migrations:
        seq, when = migrations[-1][0], migrations[-1][1]
        raise OutOfHistory(
            f"a migration at change {seq} ({when}) rewrote data outside change sets: as-of reads reach back to it, "
            "not before",
            when,
        )


# -- the state at a change id ---------------------------------------------------------------------------------


def cache_root(store_path: Path) -> Path:
    return store_path.with_name(store_path.name + ".asof")


def materialise(store: EmbeddedStore, instant: Instant, *, hold: bool = False) -> Path:
    """The folder of a pyoxigraph store holding the state just after change ``instant.sequence`` (built once,
    then cached); open it read-only. ``hold``: counted open before the lock is let go (``State`` takes it over),
    so no collection can come between finding the folder and opening it."""
    if store.path is None:
        raise StoreError("as-of states are built from an on-disk store")
    root = cache_root(store.path)
    target = root / f"{instant.sequence:08d}-{instant.hash[:16]}"
    with _BUILDING:
        if target.is_dir():
            os.utime(target)  # recently used: the collector keeps it
            _hold(target, hold)
            return target
        root.mkdir(parents=True, exist_ok=True)
        building = root / f".building-{uuid.uuid4().hex}"
        try:
            base = _nearest_later(store, root, instant.sequence)
            if base is not None:  # a later state already built: undo from there, not from the present
                ox.Store.read_only(str(base)).backup(str(building))
            else:
                with store.quiet(wait=True):
                    store.native.backup(str(building))
            _undo_after(building, instant)
            building.rename(target)
            _hold(target, hold)
        except undo.CannotUndo as exc:
            raise OutOfHistory(f"{instant.asked}: {exc}") from exc
        except OSError as exc:
            raise StoreError(f"could not build the state at change {instant.sequence} in {building}: {exc}") from exc
        finally:
            shutil.rmtree(building, ignore_errors=True)
        return target


def _hold(target: Path, hold: bool) -> None:
    if hold:
        with _OPENED:
            _OPEN[str(target)] += 1


def _nearest_later(store: Store, root: Path, sequence: int) -> Path | None:
    """The cached state of the smallest change id after ``sequence`` that belongs to this store's history (its
    entry's hash still matches), or None."""
    later = sorted((p for p in root.iterdir() if p.name[:8].isdigit() and int(p.name[:8]) > sequence), key=str)
    for path in later:
        number, digest = int(path.name[:8]), path.name[9:]
        node = undo.entry_node(number)
        rows = store.select(f"SELECT ?h WHERE {{ GRAPH <{AUDIT_GRAPH}> {{ {node} <{TL}entryHash> ?h }} }}").values("h")
        if rows and rows[0].startswith(digest):
            return path
    return None


def collect(store_path: Path, in_use: Iterable[str] = (), keep: int | None = None) -> list[str]:
    """Delete cached states beyond the ``keep`` most recently used (default: the setting), except those ``in_use``
    (a query worker's) and those open in this process; returns them."""
    root = cache_root(store_path)
    if not root.is_dir():
        return []
    keep = cache_states() if keep is None else keep
    with _BUILDING:
        with _OPENED:
            busy = {str(path) for path in in_use} | {path for path, count in _OPEN.items() if count > 0}
        states = sorted((p for p in root.iterdir() if not p.name.startswith(".")), key=lambda p: -p.stat().st_mtime)
        removed = [str(p) for p in states[keep:] if str(p) not in busy]
        removed += [str(p) for p in root.iterdir() if p.name.startswith(".building-")]  # a crashed build's
        for path in removed:
            shutil.rmtree(path, ignore_errors=True)
        return removed


def cache_states() -> int:
    """How many states the cache keeps besides those in use (``THREADLINE_ASOF_CACHE_STATES``)."""
    from threadline.config import get_settings

    return int(getattr(get_settings(), "asof_cache_states", KEEP))


def _undo_after(folder: Path, instant: Instant) -> None:
    db = ox.Store(str(folder))
    try:
        _undo_in(db, instant)
        db.flush()
    finally:
        del db  # the RocksDB lock goes with the last reference (see store.reader_view.prune)


def _undo_in(db: ox.Store, instant: Instant) -> None:
    digest = ox.NamedNode(TL + "entryHash")
    entry = list(db.quads_for_pattern(undo.entry_node(instant.sequence), digest, None, ox.NamedNode(AUDIT_GRAPH)))
    if [undo.value(q.object) for q in entry] != [instant.hash]:
        raise StoreError(f"change {instant.sequence} in the checkpoint is not the one resolved: history changed")
    first = functools.cache(lambda: undo.first_archivals(db))
    for sequence in range(_latest(db), instant.sequence, -1):
        undo.undo(db, sequence, first)
    for graph in list(db.named_graphs()):
        if graph.value == KPI_GRAPH or graph.value.startswith(STAGING_PREFIX):
            db.remove_graph(graph)


def _latest(db: ox.Store) -> int:
    rows = db.query(f"SELECT (MAX(?seq) AS ?n) WHERE {{ GRAPH <{AUDIT_GRAPH}> {{ ?e <{TL}auditSequence> ?seq }} }}")
    assert isinstance(rows, ox.QuerySolutions)
    (row,) = list(rows)  # read whole: the solutions object must not outlive this thread
    value = row[0]
    return int(value.value) if value is not None else 0


class State(EmbeddedStore):
    """An as-of state opened read-only; while open, ``collect`` leaves its folder alone."""

    def __init__(self, folder: Path) -> None:
        """``folder`` is counted open already (``materialise(..., hold=True)``)."""
        self._folder, self._held = str(folder), True
        try:
            super().__init__(folder, read_only=True)
        except BaseException:
            self._release()
            raise

    def close(self) -> None:
        super().close()
        self._release()

    def _release(self) -> None:
        with _OPENED:
            if self._held:
                self._held = False
                _OPEN[self._folder] -= 1
                if _OPEN[self._folder] <= 0:
                    del _OPEN[self._folder]


def open_state(store: Store, text: str) -> tuple[Instant, EmbeddedStore]:
    """The store as it stood at ``text``, read-only, with what it resolved to. Only the embedded on-disk store
    keeps states; the caller closes the returned store."""
    if not isinstance(store, EmbeddedStore) or store.path is None:
        raise AsOfUnsupported(
            "as-of reads need the embedded on-disk store (oxigraph:PATH): this store keeps no past states"
        )
    instant = resolve(store, text)
    return instant, State(materialise(store, instant, hold=True))


@contextlib.contextmanager
def at(store: Store, text: str, keep: int | None = None) -> Iterator[tuple[Instant, EmbeddedStore]]:
    """``open_state`` for the length of a block: the state closed afterwards, and the cache collected (to ``keep``
    states, default the setting)."""
    instant, state = open_state(store, text)
    try:
        yield instant, state
    finally:
        state.close()
        if isinstance(store, EmbeddedStore) and store.path is not None:
            collect(store.path, keep=keep)


@contextlib.contextmanager
def reading(store: Store, text: str | None, notice: Callable[[str], None]) -> Iterator[Store]:
    """For commands: ``store`` itself when no instant is given, else its state at ``text`` (``notice`` is told which
    change that is), closed afterwards, and the cache collected."""
    if text is None:
        yield store
        return
    with at(store, text) as (found, state):
        notice(f"as of {found.asked}: the state after change {found.sequence}, recorded at {found.time}")
        yield state
