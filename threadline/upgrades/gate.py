"""The check every ``open_store`` makes: may this Threadline use the store as it is?

- a store with nothing in it is new: it gets this Threadline's record at once (when writable);
- a store ahead of this Threadline (higher format or ontology version) is refused, naming both versions
  (``StoreTooNew``): an older program must not read or write data laid out or named in ways it does not know;
- a store behind it is refused with "run threadline migrate" (``MigrationNeeded``) unless the migration is
  *trivial* — it rewrites no data, only the version record — in which case a writable open applies it (with an
  audit entry) and a read-only open reads the store as it is;
- a store whose last migration was interrupted is refused until ``threadline migrate`` finishes it.

Memory stores are never checked: they begin empty and end with the process, so they hold nothing to upgrade.
"""

from __future__ import annotations

from threadline.store.base import Store
from threadline.upgrades import record
from threadline.upgrades.plan import baseline, plan, refusal


def admit(store: Store, *, writable: bool = True) -> None:
    """Return when ``store`` can be used as it is (recording or upgrading trivially first); raise
    ``StoreTooNew`` or ``MigrationNeeded`` otherwise."""
    found = record.read(store)
    if found is None:
        if not record.has_data(store):
            if writable:
                record.write(store, record.current())
            return
        found = baseline()
    steps = plan(found)
    if not steps.needed:
        return
    if not steps.trivial:
        raise refusal(found)
    if writable:
        from threadline.upgrades.migration import apply

        apply(store, steps, actor="threadline (automatic, trivial migration on open)")
