"""Extension points around a load's commit, for features that must see every load (SHACL gate, summaries).

``before_commit`` hooks run after the batch is staged (its graphs exist in the store, visible in the union
default graph) and before the commit update; raising any ``IngestError`` (e.g. the validation gate's
rejection) makes the loader drop the staged graphs, leaving the store exactly as before.
``after_commit`` hooks run once the load is visible (e.g. refresh materialised KPI summaries); their errors
are reported but cannot undo the committed load.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from threadline.observability import metrics

if TYPE_CHECKING:
    from threadline.ingest.provenance import Activity
    from threadline.store import Store

Hook = Callable[["Store", "Activity"], None]
log = logging.getLogger(__name__)

_BEFORE: list[Hook] = []
_AFTER: list[Hook] = []


def before_commit(hook: Hook) -> Hook:
    """Register ``hook`` to run on every staged, not yet committed, load (usable as a decorator)."""
    if hook not in _BEFORE:
        _BEFORE.append(hook)
    return hook


def after_commit(hook: Hook) -> Hook:
    """Register ``hook`` to run after every committed load (usable as a decorator)."""
    if hook not in _AFTER:
        _AFTER.append(hook)
    return hook


def unregister(hook: Hook) -> None:
    for registry in (_BEFORE, _AFTER):
        if hook in registry:
            registry.remove(hook)


def run_before(store: Store, activity: Activity) -> None:
    for hook in list(_BEFORE):
        hook(store, activity)


def run_after(store: Store, activity: Activity) -> list[Exception]:
    errors: list[Exception] = []
    for hook in list(_AFTER):
        try:
            hook(store, activity)
        except Exception as exc:  # the load is committed: report, do not undo
            errors.append(exc)
            metrics.HOOK_ERRORS.inc()
            name = getattr(hook, "__qualname__", repr(hook))
            log.error(
                "after the load %s: hook %s failed: %s",
                activity.activity_id,
                name,
                exc,
                exc_info=exc,
                extra={"activity": activity.activity_id, "hook": name},
            )
    return errors
