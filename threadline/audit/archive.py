"""Keep what a write replaces: "nothing obscures earlier records" (21 CFR 11.10(e)).

A snapshot load drops the batch graphs it supersedes. ``preserve_update`` returns SPARQL Update text that,
placed BEFORE the drop in the same update request, copies each superseded graph into an archive graph
``graph/archive/{sha256 of the superseded graph's IRI}``; the load's audit entry lists the superseded graphs
and their archives (``archive_iri``), so every replaced statement stays retrievable from the audit trail
(``archived_triples``).

Archived statements are stored *reified* (``rdf:Statement`` with ``rdf:subject/predicate/object``), not as
plain triples: queries see the union of all named graphs as their default graph, so plain copies would put
every superseded value back into the thread — twice-counted genealogy, stale part revisions, false SHACL
``maxCount`` violations — unless every read path excluded the archive. Reification asserts nothing, so no
read path needs to know the archive exists. The price is storage: four triples and one blank node per
archived statement, on every snapshot reload that changes a batch (docs/security.md gives the arithmetic).
"""

from __future__ import annotations

import hashlib
import re
import tempfile

import pyoxigraph as ox

from threadline.namespaces import RDF, TL, archive_iri
from threadline.store import Store

_BNODE = re.compile(rb"_:[A-Za-z0-9_\-.]+")  # as in Store.digest: labels are backend-internal
_MOD = 1 << 256


def preserve_update(store: Store, graphs: list[str]) -> str:
    """Update text archiving ``graphs``; run it in the same request as (and before) the change that drops them.

    ``store`` is not read: the copy happens inside the update, so the archive holds exactly what the
    transaction replaced, even if the graphs changed after this text was made."""
    del store  # the copy runs server-side, inside the caller's transaction
    parts = []
    for graph in graphs:
        source, target = ox.NamedNode(graph), ox.NamedNode(archive_iri(graph))
        parts.append(f"INSERT DATA {{ GRAPH {target} {{ {target} <{TL}archivedGraph> {source} }} }}")
        parts.append(preserve_matching(f"GRAPH {source} {{ ?s ?p ?o }}", target.value))
    return " ;\n".join(parts)


def preserve_matching(where: str, archive: str, *, graph: str | None = None) -> str:
    """Update text archiving, into ``archive``, every ``?s ?p ?o`` the group pattern ``where`` matches — for
    changes that delete statements rather than whole graphs (a delta load's upsert): give it the same WHERE as
    the DELETE, and place it before that DELETE in the same request. ``graph`` names the variable ``where`` binds
    to each statement's graph: it is kept as ``tl:archivedFromGraph`` (statements of many graphs share an archive,
    and a statement means nothing without its graph)."""
    target = ox.NamedNode(archive)
    source = f" ; <{TL}archivedFromGraph> ?{graph}" if graph else ""
    return (
        f"INSERT {{ GRAPH {target} {{ [] a <{RDF}Statement> ; <{RDF}subject> ?s ; <{RDF}predicate> ?p ; "
        f"<{RDF}object> ?o{source} }} }} WHERE {{ {where} }}"
    )


def archived_triples(store: Store, archive: str) -> list[ox.Triple]:
    """The statements an archive graph holds, as plain triples again."""
    result = store.query(
        f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH {ox.NamedNode(archive)} {{ ?st a <{RDF}Statement> ; "
        f"<{RDF}subject> ?s ; <{RDF}predicate> ?p ; <{RDF}object> ?o }} }}"
    )
    assert isinstance(result, list)
    return result


def graph_digest(store: Store, graph: str) -> str:
    """Order-independent sha256 of one graph's N-Triples (the same multiset hash as ``Store.digest``), for the
    ``before``/``after`` hashes an audit entry records. Streams, so it costs one pass over the graph."""
    total = 0
    with tempfile.TemporaryFile() as spool:
        store.dump(spool, ox.RdfFormat.N_TRIPLES, graph=graph)
        spool.seek(0)
        for line in spool:
            if line.strip():
                total = (total + int.from_bytes(hashlib.sha256(_BNODE.sub(b"_:", line)).digest())) % _MOD
    return f"{total:064x}"
