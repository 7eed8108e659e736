"""The audit record of a load: what the loader's commit update must carry so that the load, its entry and
the archive of what it replaces land in one transaction.

Kept beside the loader rather than in it so the loader's change stays one call (``load_update``), and in the
ingest package rather than in ``audit`` because it reads a load's ``Activity``: the audit trail sits below
ingest (docs/architecture.md) and knows nothing of loads. It uses the loader's catalog layout only to name the
archives; what a delta load deletes is ``ingest.delta``'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyoxigraph as ox

from threadline.audit.archive import archive_iri, preserve_matching, preserve_update
from threadline.audit.chain import entry_update
from threadline.history import ChangeSet
from threadline.namespaces import CATALOG_GRAPH, PROVENANCE_GRAPH

if TYPE_CHECKING:
    from threadline.ingest.provenance import Activity
    from threadline.store import Store


def load_what(activity: Activity, mode: str) -> dict[str, Any]:
    """The ``what`` of a load's entry: graphs, counts, source content hashes, what was replaced and where
    it was archived. The content hashes are the sha256 of the batch's source files and mappings (already
    computed by the loader, so free); ``audit.graph_digest`` gives an RDF-level hash at the cost of a pass."""
    loaded = [batch for batch in activity.batches if not batch.skipped]
    replaced = activity.superseded_graphs if mode == "snapshot" else [batch.graph for batch in loaded]
    return {
        "activity": activity.iri,
        "system": activity.system,
        "mode": mode,
        "graphs": [batch.graph for batch in loaded],
        "batches": {batch.run.batch_key: batch.content_hash for batch in loaded},
        "records": sum(batch.records for batch in loaded),
        "triples": sum(batch.triples for batch in loaded),
        "rejected": sum(batch.rejected for batch in loaded),
        "superseded": activity.superseded_graphs,
        "archives": {graph: archive_iri(graph) for graph in replaced},
    }


def load_update(store: Store, activity: Activity, mode: str, commit: str, *, reason: str | None = None) -> str:
    """``commit`` (the loader's update) wrapped: archive what it replaces first, append its audit entry last.
    Call, and run the result, while holding ``audit.writer_lock``."""
    if mode == "snapshot":
        before = preserve_update(store, activity.superseded_graphs) if activity.superseded_graphs else ""
    else:
        before = " ;\n".join(
            preserve_matching(where, archive_iri(retraction.batch_graph), graph="old")
            for retraction in activity.retractions
            for where in retraction.patterns()
        )
    entry = entry_update(
        store,
        action="load" if mode == "snapshot" else "upsert",
        actor=activity.agent,
        what=load_what(activity, mode),
        why=reason,
    )
    return " ;\n".join(part for part in (before, commit, entry) if part)


def load_changes(activity: Activity, mode: str, graphs_by_key: dict[str, list[str]]) -> ChangeSet:
    """The load's change set: its batch graphs added whole, the graphs it supersedes removed whole (archived),
    a delta's retractions, and in place the catalog and provenance statements of the subjects it describes."""
    loaded = [batch for batch in activity.batches if not batch.skipped]
    catalog = {batch.graph for batch in loaded}
    catalog.update(g for batch in loaded for g in graphs_by_key.get(batch.run.batch_key, []))
    provenance = {
        triple.subject.value
        for triple in ox.parse("\n".join(activity.triples()).encode("utf-8"), ox.RdfFormat.N_TRIPLES)
        if isinstance(triple.subject, ox.NamedNode)
    }
    changes = ChangeSet(added=[batch.graph for batch in loaded])
    changes.touch(CATALOG_GRAPH, catalog)
    changes.touch(PROVENANCE_GRAPH, provenance)
    if mode == "snapshot":
        changes.removed = {graph: archive_iri(graph) for graph in activity.superseded_graphs}
    else:
        changes.retracted = [where for retraction in activity.retractions for where in retraction.patterns()]
    return changes
