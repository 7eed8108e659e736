"""What a delta load retracts, stated once for the three places that need it: the loader's commit (delete),
the audit archive (keep what is deleted) and the validation gate (the state after the load).

A delta batch restates records: every subject the new batch carries a ``tl:sourceRecord`` for, and that source
record itself, lose their statements in the earlier batch graphs of the same mapping (``tl:batchKey``). The
subjects are read from the staged batch and bound with ``VALUES``; the old graphs are named in a ``FILTER``.
Written as one pattern joining the new graph to ``GRAPH ?old { ?s ?p ?o }``, pyoxigraph 0.5 scanned every
statement of the old graphs (a 100-unit delta into 100k units took 200–290 s); bound subjects make it one index
look-up each. A second ``VALUES`` block for the graphs made it scan every quad again, hence the ``FILTER``.

Only IRIs are restated: blank nodes are scoped to the file they were loaded from, so a new batch's blank node
never names an old batch's subject (the earlier join could not match them either).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pyoxigraph as ox

from threadline.namespaces import TL
from threadline.store import Store

CHUNK = 2_000  # subjects per VALUES block


@dataclass(frozen=True)
class Retraction:
    """The statements one delta batch retracts: of ``subjects``, in ``old_graphs``."""

    batch_graph: str
    old_graphs: tuple[str, ...]
    subjects: tuple[str, ...]  # IRIs, sorted

    def patterns(self) -> Iterator[str]:
        """Group patterns binding ``?old ?s ?p ?o`` to exactly the retracted quads, one per chunk of subjects."""
        graphs = ", ".join(f"<{g}>" for g in self.old_graphs)
        for start in range(0, len(self.subjects), CHUNK):
            values = " ".join(f"<{s}>" for s in self.subjects[start : start + CHUNK])
            yield f"VALUES ?s {{ {values} }} GRAPH ?old {{ ?s ?p ?o }} FILTER(?old IN ({graphs}))"

    def delete(self) -> list[str]:
        """Update operations deleting them."""
        return [f"DELETE {{ GRAPH ?old {{ ?s ?p ?o }} }} WHERE {{ {where} }}" for where in self.patterns()]


def retraction(store: Store, batch_graph: str, old_graphs: list[str]) -> Retraction | None:
    """The retraction of the staged ``batch_graph`` over the earlier batches ``old_graphs`` (None: nothing)."""
    old = tuple(sorted(g for g in old_graphs if g != batch_graph))
    if not old:
        return None
    rows = store.select(f"SELECT ?s ?r WHERE {{ GRAPH <{batch_graph}> {{ ?s <{TL}sourceRecord> ?r }} }}").rows
    subjects = sorted({term.value for row in rows for term in row if isinstance(term, ox.NamedNode)})
    return Retraction(batch_graph, old, tuple(subjects)) if subjects else None
