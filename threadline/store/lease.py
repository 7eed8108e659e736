"""Claims held in the store itself, so that Threadline processes sharing one remote store take turns to write.

Why: a write appends to the audit chain, whose head it reads first (``threadline.audit.chain``), and a load
re-reads the catalog before it commits; two writers doing that at once would both build on the same head. Within
one process ``audit.writer_lock`` orders them; across processes only the store is shared, so the turn is taken
there. The embedded on-disk store needs none of this (RocksDB lets one process open it).

A claim is a few triples in the lease graph: its IRI (unique), its kind, who holds it, and when it expires. A
**writer** lease is exclusive and taken by every committer; the protocol relies on nothing but each request being
linearisable (true of Oxigraph server and Virtuoso; no conditional update has to be atomic, which Virtuoso's are
not: it runs the operations of one request one after another and keeps those done before a failure):

1. read every claim and the store's clock (``NOW()``) in one query; while another live writer claim exists, wait;
2. insert our claim, expiring ``lease`` seconds after that clock reading (expired claims are deleted in the same
   request, so a killed holder's claim goes once it has expired);
3. read again: we hold the lease if ours is the only live writer claim; otherwise we delete ours and wait a random
   back-off. Two claimants cannot both see only themselves: each read follows its own insert, so whichever read
   comes later sees both claims.

Time is the store's clock, never a host's, so hosts need not agree on the time. The holder renews every third of
the lease from a thread (long loads: the validation gate can take minutes); a renewal extends only a claim still
live at the store (``FILTER(?e > NOW())``), so a holder that stalled past its expiry cannot take back a lease
another process may have taken meanwhile. The holder counts its lease valid until its own monotonic clock says a
lease has run since just before it read the store clock the expiry was computed from — never later than the
store's own expiry — and ``confirm`` refuses a commit outside that (``WriteRefused``). Should a lease still be
broken (a holder frozen after ``confirm``), the audit guard makes the late write fail (``threadline.audit.guard``).

A **staging** claim is not exclusive: a staged write holds one from its first staged graph until it commits or
drops them, so that recovery at open (``RemoteStore.recover``) never drops the staging graphs of a live process.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pyoxigraph as ox

from threadline.errors import StoreBusy, StoreError, WriteRefused
from threadline.namespaces import ID, LEASE_GRAPH, TL, XSD

if TYPE_CHECKING:
    from threadline.store.base import Store

log = logging.getLogger(__name__)

EXPIRES, HOLDER, KIND = TL + "leaseExpires", TL + "leaseHolder", TL + "leaseKind"
CLAIMS = (
    f"SELECT (NOW() AS ?now) ?claim ?expires ?holder ?kind WHERE {{ OPTIONAL {{ GRAPH <{LEASE_GRAPH}> {{ "
    f"?claim <{EXPIRES}> ?expires ; <{KIND}> ?kind OPTIONAL {{ ?claim <{HOLDER}> ?holder }} }} }} }}"
)
BACKOFF_FIRST, BACKOFF_MOST = 0.02, 0.5  # seconds between attempts: doubling, with jitter
SAME_TIME = timedelta(milliseconds=2)  # an engine may keep fewer digits of a fraction than we wrote
CLOCK_FRESH = 10.0  # seconds a reading of a store's clock is used for: clocks drift apart far slower than this
_clocks: dict[str, tuple[datetime, float]] = {}  # per store URL: its clock's last reading, our time just before


@dataclass(frozen=True)
class Claim:
    iri: str
    kind: str
    holder: str
    expires: datetime


def holder_name() -> str:
    """Who holds a claim, for the operator reading an error: host, process and thread."""
    return f"{socket.gethostname()} pid {os.getpid()} thread {threading.current_thread().name}"


class Lease:
    """One claim on ``store``: ``writer`` (exclusive) or ``staging`` (shared); acquire, then release."""

    def __init__(self, store: Store, kind: str, *, seconds: float, wait: float) -> None:
        self.store, self.kind, self.seconds, self.wait = store, kind, seconds, wait
        self.iri = f"{ID}lease/{uuid.uuid4()}"
        self._state = threading.Lock()
        self._clock: tuple[datetime, float] = (datetime.min, 0.0)  # a store clock reading, and our time just before
        self._valid_until = 0.0
        self._lost: str | None = None
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._renewing = threading.Lock()  # the renewing thread and confirm() never renew at once

    # -- taking and giving back ----------------------------------------------------------------------
    def acquire(self) -> None:
        if self.kind != "writer":  # shared: a claim of one's own is all it takes
            if not self._recent_clock():
                self._read()
            self._insert()
            self._start_renewing()
            return
        deadline = time.monotonic() + self.wait
        pause = BACKOFF_FIRST
        first = True
        while True:
            # the first attempt claims at once when the store's clock was read lately (saves a request per write);
            # later ones look first, so that waiting for a long holder adds no writes to the store
            live = [] if first and self._recent_clock() else self._live_writers(self._read())
            first = False
            if not live:
                live = self._claim()
                if [c.iri for c in live] == [self.iri]:
                    self._start_renewing()
                    return
                self._delete()
            others = [c for c in live if c.iri != self.iri]
            if time.monotonic() + pause > deadline:
                raise StoreBusy(_busy(self.store, others, self.wait))
            time.sleep(pause * random.uniform(0.5, 1.5))
            pause = min(pause * 2, BACKOFF_MOST)

    def release(self) -> None:
        """Give the claim back; never raises (it expires by itself if the store cannot be told)."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=self.seconds)
        try:
            self._delete()
        except StoreError as exc:
            log.warning("could not give back the %s lease %s (it expires by itself): %s", self.kind, self.iri, exc)

    def confirm(self) -> None:
        """Refuse (``WriteRefused``) unless the lease is held with a third of it left for the commit to land."""
        if self._remaining() < self.seconds / 3 and self._lost is None:
            self._renew()
        if self._lost is not None or self._remaining() <= 0:
            reason = self._lost or "it was not renewed in time"
            raise WriteRefused(
                f"this process lost the store's {self.kind} lease ({reason}) before committing: nothing was written; "
                "another process may be writing. Try again"
            )

    # -- the protocol's requests ---------------------------------------------------------------------
    def _read(self) -> list[Claim]:
        """Every unexpired claim, judged by the store's clock, whose reading is kept for computing expiries."""
        now, before, claims = read_claims(self.store)
        with self._state:
            self._clock = _clocks[self.store.url] = (now, before)
        return claims

    def _recent_clock(self) -> bool:
        """Whether this process read the store's clock less than ``CLOCK_FRESH`` ago (then it is used as is)."""
        reading = _clocks.get(self.store.url)
        if reading is None or time.monotonic() - reading[1] > CLOCK_FRESH:
            return False
        with self._state:
            self._clock = reading
        return True

    def _claim(self) -> list[Claim]:
        """Insert our claim and read the live writer claims back (ours withdrawn again if the reading fails)."""
        self._insert()
        try:
            return self._live_writers(self._read())
        except BaseException:
            self.release()
            raise

    def _live_writers(self, claims: list[Claim]) -> list[Claim]:
        return sorted((c for c in claims if c.kind == "writer"), key=lambda c: c.iri)

    def _expiry(self) -> tuple[datetime, float]:
        """The expiry to write now, and when our own clock says it passes: the store clock last read, moved on by
        our clock since just before that reading (so never earlier than the store's now), plus the lease."""
        sent = time.monotonic()
        with self._state:
            clock, before = self._clock
        return clock + timedelta(seconds=sent - before + self.seconds), sent + self.seconds

    def _insert(self) -> None:
        expires, valid_until = self._expiry()
        self.store.update(
            f"DELETE {{ GRAPH <{LEASE_GRAPH}> {{ ?c ?p ?o }} }} WHERE {{ GRAPH <{LEASE_GRAPH}> {{ "
            f"?c <{EXPIRES}> ?e ; ?p ?o }} FILTER(?e < NOW()) }} ;\n"
            f"INSERT DATA {{ GRAPH <{LEASE_GRAPH}> {{ <{self.iri}> <{EXPIRES}> {_literal(expires)} ; "
            f"<{KIND}> {ox.Literal(self.kind)} ; <{HOLDER}> {ox.Literal(holder_name())} }} }}"
        )
        with self._state:
            self._valid_until, self._lost = valid_until, None

    def _delete(self) -> None:
        self.store.update(f"DELETE WHERE {{ GRAPH <{LEASE_GRAPH}> {{ <{self.iri}> ?p ?o }} }}")

    def _renew(self) -> None:
        """Extend the claim if it is still live at the store; mark the lease lost if it is not."""
        with self._renewing:
            if self._lost is None:
                self._extend()

    def _extend(self) -> None:
        expires, valid_until = self._expiry()
        try:
            self.store.update(
                f"DELETE {{ GRAPH <{LEASE_GRAPH}> {{ <{self.iri}> <{EXPIRES}> ?e }} }} "
                f"INSERT {{ GRAPH <{LEASE_GRAPH}> {{ <{self.iri}> <{EXPIRES}> {_literal(expires)} }} }} "
                f"WHERE {{ GRAPH <{LEASE_GRAPH}> {{ <{self.iri}> <{EXPIRES}> ?e }} FILTER(?e > NOW()) }}"
            )
            found = self.store.select(f"SELECT ?e WHERE {{ GRAPH <{LEASE_GRAPH}> {{ <{self.iri}> <{EXPIRES}> ?e }} }}")
        except StoreError as exc:  # unreachable for now: the lease stays valid until its time is up
            log.warning("could not renew the %s lease %s: %s", self.kind, self.iri, exc)
            return
        stored = [_when(row[0]) for row in found.rows]
        with self._state:
            if len(stored) == 1 and stored[0] is not None and abs(stored[0] - expires) < SAME_TIME:
                self._valid_until = valid_until
            else:
                self._lost = "its claim expired at the store and was taken away"

    def _start_renewing(self) -> None:
        self._stop.clear()
        self._renewer = threading.Thread(target=self._keep, name=f"lease-{self.kind}", daemon=True)
        self._renewer.start()

    def _keep(self) -> None:
        while not self._stop.wait(self.seconds / 3):
            self._renew()
            if self._lost is not None:
                log.error("the %s lease %s was lost: %s", self.kind, self.iri, self._lost)
                return

    def _remaining(self) -> float:
        with self._state:
            return self._valid_until - time.monotonic()


def read_claims(store: Store) -> tuple[datetime, float, list[Claim]]:
    """The store's clock, our monotonic time just before reading it, and every claim unexpired by that clock."""
    before = time.monotonic()
    result = store.select(CLAIMS)
    now = _when(result.rows[0][0]) if result.rows else None
    if now is None:
        raise StoreError("the store gave no reading of its clock (NOW()) for its leases")
    claims = []
    for _, claim, expires, holder, kind in result.rows:
        when = _when(expires)
        if isinstance(claim, ox.NamedNode) and when is not None and when > now:
            claims.append(Claim(claim.value, _text(kind), _text(holder) or "?", when))
    return now, before, claims


def _text(term: object) -> str:
    return term.value if isinstance(term, ox.Literal) else ""


def _busy(store: Store, others: list[Claim], waited: float) -> str:
    held = "; ".join(f"{c.holder} until {c.expires.isoformat()} (store clock)" for c in others) or "contended"
    return (
        f"the writer lease of the store at {store.url} is held by another process ({held}); waited {waited:g} s "
        "(THREADLINE_STORE_LEASE_WAIT). Try again"
    )


def _when(term: object) -> datetime | None:
    """A dateTime term as a datetime (naive when the engine gives no zone: Virtuoso's NOW() has none, and both
    sides of every comparison then come from the same engine)."""
    if not isinstance(term, ox.Literal):
        return None
    try:
        return datetime.fromisoformat(term.value)
    except ValueError:
        return None


def _literal(when: datetime) -> ox.Literal:
    text = when.strftime("%Y-%m-%dT%H:%M:%S.%f") + ("Z" if when.tzinfo is not None else "")
    return ox.Literal(text, datatype=ox.NamedNode(XSD + "dateTime"))
