"""Run the update that carries an audit entry, and on a store several processes share, guard the append.

The writer lease (``threadline.store.lease``) makes processes take turns, but a lease can be broken: a holder
frozen after its last check (a paused VM, a long garbage collection, a network partition) may still send its
commit after another process took the lease. So on such a store a write carrying entry ``n`` begins with

    CREATE GRAPH <…/graph/audit-guard/n>

(not ``SILENT``). CREATE fails when the graph exists (Virtuoso: when it was created before or holds triples), so
of two writers that read the same head, whichever comes second fails at its first operation, before anything of
it has run — which matters on Virtuoso, whose update requests are not atomic (it keeps the operations done
before a failure). The graphs are empty (nothing in counts, dumps or backups); each write drops the one ``KEEP``
entries back, so a writer stalled while fewer than ``KEEP`` entries were appended is refused the same way. And
every write reads back that exactly one entry follows the head it built on: even a writer stalled for longer
cannot fork the chain silently (``ChainForked``), and ``audit verify`` names the place.

A guard left over from before a store was cleared or restored (its entry is not in the chain) is dropped and the
write run once more. The embedded store needs none of this: one process has it, and its lock is the whole story.
"""

from __future__ import annotations

from collections.abc import Callable

import pyoxigraph as ox

from threadline.audit.chain import AUDIT_GRAPH, FIELDS, AuditError, writer_lock
from threadline.errors import ChainForked, StoreError, WriteRefused
from threadline.history.changeset import ChangeSet, record
from threadline.namespaces import AUDIT_GUARD_PREFIX
from threadline.store import Store
from threadline.store.lexer import prologue_end

KEEP = 16  # guards kept: a writer that stalled while fewer entries were appended is refused before it writes
# how each engine says a graph exists when asked to create it (Oxigraph; Virtuoso, twice)
_EXISTS = ("already exists", "has been explicitly created before", "contains triples already")


def guard_graph(sequence: int) -> str:
    return f"{AUDIT_GUARD_PREFIX}{sequence}"


def commit(
    store: Store, text: str, *, run: Callable[[str], None] | None = None, changes: ChangeSet | None = None
) -> None:
    """Run ``text``, the update carrying the entry ``entry_update`` just made, while holding
    ``writer_lock(store)``, with the entry's change set recorded in the same request (``threadline.history``);
    ``run`` runs it (default ``store.update``). ``changes`` says what the write changes; without it, every graph
    the entry's ``what`` lists is taken as changed in place, any statement of it."""
    run = run or store.update
    lock = writer_lock(store)
    if not lock.held():
        raise AuditError("an audited update is committed while holding audit.writer_lock(store)")
    entry = lock.take_pending()
    if entry is None:
        raise AuditError("an audited update carries the entry audit.entry_update made for it (none is pending)")
    if changes is None:
        changes = ChangeSet({graph: None for graph in entry["what"].get("graphs") or []})
    text = record(text, entry["sequence"], changes, union_default=store.union_default_in_updates)
    lease = lock.lease
    if lease is None:  # one process has the store: its lock is enough
        run(text)
        return
    lease.confirm()
    guarded = _guarded(text, entry["sequence"])
    try:
        run(guarded)
    except StoreError as exc:
        outcome = _after_failure(store, entry, exc)
        if outcome == "landed":
            return
        if outcome == "failed":
            raise
        store.update(f"DROP SILENT GRAPH <{guard_graph(entry['sequence'])}>")
        run(guarded)
    _check_one_follows(store, entry)


def _guarded(text: str, sequence: int) -> str:
    """``text`` with the guard as its first operation (after the prologue, which Oxigraph reads only at the head)."""
    operations = [f"CREATE GRAPH <{guard_graph(sequence)}>"]
    if sequence > KEEP:
        operations.append(f"DROP SILENT GRAPH <{guard_graph(sequence - KEEP)}>")
    end = prologue_end(text)
    return text[:end] + "\n" + " ;\n".join(operations) + " ;\n" + text[end:]


def _followers(store: Store, previous: str) -> list[str]:
    """The hashes of the entries that name ``previous`` as the entry before them."""
    result = store.select(
        f"SELECT ?hash WHERE {{ GRAPH <{AUDIT_GRAPH}> {{ ?e <{FIELDS['previous']}> {ox.Literal(previous)} ; "
        f"<{FIELDS['hash']}> ?hash }} }}"
    )
    return result.values("hash")


def _after_failure(store: Store, entry: dict, exc: StoreError) -> str:
    """What a failed write did: ``landed`` (the store applied it; only its answer was lost), ``retry`` (a guard left
    from an earlier state of the store — cleared, restored — stood in the way), ``failed`` (anything else); raises
    ``WriteRefused`` when another writer appended first."""
    guard = guard_graph(entry["sequence"])
    others = _followers(store, entry["previous"])
    if others == [entry["hash"]]:
        return "landed"
    if others:
        raise WriteRefused(
            f"another process appended audit entry {entry['sequence']} first (the store's writer lease was broken: "
            "a holder stalled past its expiry): nothing of this write was stored. Try again"
        ) from exc
    if any(f"<{guard}> {phrase}" in str(exc) for phrase in _EXISTS):
        return "retry"
    # Virtuoso ran the guard before the operation that failed: take it away, or it would refuse every writer
    store.update(f"DROP SILENT GRAPH <{guard}>")
    return "failed"


def _check_one_follows(store: Store, entry: dict) -> None:
    found = _followers(store, entry["previous"])
    if found != [entry["hash"]]:
        raise ChainForked(
            f"the audit chain forked: {len(found)} entries follow entry {entry['sequence'] - 1} (this write's is "
            f"{entry['hash'][:12]}…); another process wrote without holding the store's writer lease. The write "
            "landed; `threadline audit verify` names the duplicate entry"
        )
