"""The audit record of a load: what the loader's commit update must carry so that the load, its entry and
the archive of what it replaces land in one transaction.

Kept here rather than in the loader so the loader's change stays one call (``load_update``); it knows the
loader's catalog layout (batch keys, ``tl:sourceRecord``) only to archive what a delta load deletes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyoxigraph as ox

from threadline.audit.archive import archive_iri, preserve_matching, preserve_update
from threadline.audit.chain import entry_update
from threadline.namespaces import CATALOG_GRAPH, TL

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
            _delta_preserve(batch.run.batch_key, batch.graph) for batch in activity.batches if not batch.skipped
        )
    entry = entry_update(
        store,
        action="load" if mode == "snapshot" else "upsert",
        actor=activity.agent,
        what=load_what(activity, mode),
        why=reason,
    )
    return " ;\n".join(part for part in (before, commit, entry) if part)


def _delta_preserve(batch_key: str, new_graph: str) -> str:
    """Archive, under the new batch's archive graph, the statements the delta commit deletes: those of
    subjects (and their source records) that the new batch restates, in earlier batches of the same key."""
    key, new, tl = ox.Literal(batch_key), f"<{new_graph}>", f"<{TL}"
    catalog = f"GRAPH <{CATALOG_GRAPH}> {{ ?old {tl}batchKey> {key} }}"
    archive = archive_iri(new_graph)
    subjects = preserve_matching(
        f"{catalog} GRAPH {new} {{ ?s {tl}sourceRecord> ?r }} GRAPH ?old {{ ?s ?p ?o }}", archive
    )
    records = preserve_matching(
        f"{catalog} GRAPH {new} {{ ?x {tl}sourceRecord> ?s }} GRAPH ?old {{ ?s ?p ?o }}", archive
    )
    return f"{subjects} ;\n{records}"
