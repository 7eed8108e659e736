"""Reader views: published snapshots without the system graphs a class of caller may not read.

Why: pyoxigraph answers a query over an explicit ``default_graph=[…]`` list with one index lookup per listed
graph per pattern, against one lookup for the union default graph: a non-admin reader, whose dataset was the
list of every graph but the system graphs, paid 10–50x the admin's time for the same query (docs/performance.md,
"Reader speed"). Threadline already hands query workers a RocksDB checkpoint of the store (``snapshots``). A
reader view is one more checkpoint with the hidden system graphs deleted from the copy (the stored default
graph stays: unscoped callers may read it, ``threadline.sparql.access.may_read_default``), so the caller's
queries run on the fast union default graph of a store that simply does not hold what they may not see.

What stays as it was, and why this is safe:
- the audit entry is still written in the same transaction as the change, in the one live store: the copy is
  made after the fact, from a checkpoint, and only for reading;
- which graphs a view hides is decided by ``threadline.namespaces.system_role`` and the caller's role — the same
  functions ``Principal.visible_graphs`` uses — applied to the copy's own graph list, so a system graph
  written after the caller's request started is hidden too; the pruned copy is checked before it is used,
  and a copy that still holds a hidden graph is refused (``StoreError``), never served;
- a view is only used when the caller's dataset is the whole of what they may read (unscoped, no protocol
  dataset narrowing it): the executor then drops the lists. Every other case, the remote store and the
  memory store keep the explicit lists, which are always right, only slower.

The cost is the deletion: proportional to the size of the hidden graphs (the audit trail and the archives
grow with every write), paid once per write generation and per view, on the first query of that view after a
write. docs/performance.md gives the measured figures and the limits of this design.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from threadline.errors import StoreError
from threadline.namespaces import system_role
from threadline.store.recovery import STORED_DEFAULT

SYSTEM_ROLES = ("admin", "compliance")  # the roles some system graph needs (threadline.namespaces.system_role)


@dataclass(frozen=True)
class View:
    """The store as seen by callers lacking the system roles ``denied``; picklable (it travels in a Job)."""

    denied: frozenset[str]

    @property
    def name(self) -> str:
        return "without-" + "-".join(sorted(self.denied))

    def hides(self, graph: str) -> bool:
        needed = system_role(graph)
        return needed is not None and needed in self.denied


def view_for(principal: object, default: list[str] | None, named: list[str] | None, visible: list[str]) -> View | None:
    """The view that answers exactly like the dataset (``default``, ``named``) for ``principal``, or None.

    ``visible`` is ``principal.visible_graphs(store.graphs())``. A view fits only an unscoped caller whose
    dataset is everything they may read: scopes and narrowed datasets keep their explicit lists."""
    if getattr(principal, "scopes", ()) or getattr(principal, "is_admin", False):
        return None
    whole = set(visible) | {STORED_DEFAULT}  # an unscoped caller may read the stored default graph too
    if default is None or named is None or set(default) != whole or set(named) != set(visible):
        return None
    denied = frozenset(role for role in SYSTEM_ROLES if not principal.allows(role))  # type: ignore[attr-defined]  # a Principal, typed loosely to keep the store layer free of auth
    return View(denied) if denied else None


def prune(folder: Path, view: View) -> list[str]:
    """Delete ``view``'s hidden graphs from the checkpoint at ``folder``, check that none is left, and close it;
    returns the graphs deleted."""
    store = ox.Store(str(folder))
    try:
        hidden = [graph for graph in store.named_graphs() if view.hides(graph.value)]
        for graph in hidden:
            store.remove_graph(graph)
        store.flush()
        left = [graph.value for graph in store.named_graphs() if view.hides(graph.value)]
        if left:
            raise StoreError(f"the reader view {view.name} at {folder} still holds {left}")
        return [graph.value for graph in hidden]
    except OSError as exc:
        raise StoreError(f"could not prepare the reader view {view.name} at {folder}: {exc}") from exc
    finally:
        # the RocksDB lock goes with the last reference (pyoxigraph stores hold no cycles, so no gc.collect:
        # a full collection of the service's heap cost about 1 s here); workers open the folder next
        del store
