"""History: one change set per audit entry, recorded in the write's own transaction, exported as RDF Patch.

``changeset`` records (the write paths call it through ``audit.commit``), ``patch`` and ``export`` export,
``replica`` replays, and ``routes``/``commands`` serve ``GET /changes`` and ``threadline changes``. docs/history.md
has the design.
"""

from __future__ import annotations

from threadline.history.changeset import ChangeSet, change_graph, change_iri, record

__all__ = ["ChangeSet", "change_graph", "change_iri", "record"]
