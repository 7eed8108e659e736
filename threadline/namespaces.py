"""The IRIs Threadline mints: ontology terms, data identifiers and named graphs, and which graphs are whose.

``system_role`` and ``is_data_graph`` classify graphs by IRI alone. They live here, at the bottom of the
package, because every layer asks: the store prunes reader views by them, auth decides who reads what,
signatures hash only data graphs and migrations rewrite only data graphs.
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote

import pyoxigraph as ox

TL = "https://w3id.org/threadline/ontology#"
ID = "https://w3id.org/threadline/id/"
GRAPH = "https://w3id.org/threadline/graph/"
PROV = "http://www.w3.org/ns/prov#"
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"

CATALOG_GRAPH = GRAPH + "catalog"
PROVENANCE_GRAPH = GRAPH + "provenance"
BATCH_GRAPH_PREFIX = GRAPH + "batch/"
STORE_GRAPH = GRAPH + "store"  # the store's own version record (threadline.upgrades.record); admins only
LEASE_GRAPH = GRAPH + "lease"  # claims on a remote store shared by processes (threadline.store.lease); admins only
AUDIT_GUARD_PREFIX = GRAPH + "audit-guard/"  # empty graphs guarding the audit chain's head (threadline.audit.guard)
SECURITY_GRAPH = GRAPH + "security"  # API tokens, hashed (threadline.auth.tokens); admins only
AUDIT_GRAPH = GRAPH + "audit"  # the hash-chained audit trail (threadline.audit); compliance
ARCHIVE_PREFIX = GRAPH + "archive/"  # statements a change replaced (threadline.audit.archive); compliance
CHANGES_PREFIX = GRAPH + "changes/"  # one change set per audit entry (threadline.history); compliance
CHANGE_PREFIX = ID + "change/"  # change set N is <…/id/change/N>, beside audit entry N <…/id/audit/N>
KPI_GRAPH = GRAPH + "kpi"  # KPI summaries (threadline.kpi): derived after loads, outside the audit trail
DEFAULT_GRAPH = "urn:threadline:default-graph"  # names the stored default graph in audit entries and change sets
STAGING_PREFIX = "urn:threadline:staging:"  # graphs written but not yet committed (threadline.store.recovery)

PREFIXES = {
    "tl": TL,
    "id": ID,
    "prov": PROV,
    "xsd": XSD,
    "rdf": RDF,
    "rdfs": RDFS,
}


def system_role(graph: str) -> str | None:
    """The role a system graph needs to be read, or None for a data graph (docs/security.md)."""
    if graph in (SECURITY_GRAPH, STORE_GRAPH, LEASE_GRAPH):
        return "admin"
    if graph == AUDIT_GRAPH or graph.startswith((ARCHIVE_PREFIX, AUDIT_GUARD_PREFIX, CHANGES_PREFIX)):
        return "compliance"
    return None


def is_replicated(graph: str) -> bool:
    """Whether the change-set stream (``threadline.history``, docs/history.md) carries ``graph``'s changes: what a
    downstream replica holds. Not the history itself (audit trail, archives, change sets), not what orders writers
    or records the store's own format (guards, lease, store record), not the API tokens (the security graph:
    credentials belong to one deployment, and their hashes must not reach the compliance staff who read the
    stream), not KPI summaries (derived after each load, outside the audit trail: a replica recomputes them),
    never a staging graph."""
    if graph.startswith((STAGING_PREFIX, ARCHIVE_PREFIX, AUDIT_GUARD_PREFIX, CHANGES_PREFIX)):
        return False
    return graph not in (AUDIT_GRAPH, STORE_GRAPH, LEASE_GRAPH, KPI_GRAPH, SECURITY_GRAPH)


def is_data_graph(graph: str) -> bool:
    """A graph of thread data: a batch graph or any graph outside ``GRAPH``, never a staging graph. What a
    record's hash counts (``threadline.signatures.record_hash``) and what a migration rewrites."""
    if graph.startswith(STAGING_PREFIX):
        return False
    return graph.startswith(BATCH_GRAPH_PREFIX) or not graph.startswith(GRAPH)


def data_iri(kind: str, *keys: str) -> str:
    """The IRI of a thread object, percent-encoding each key as RML templates do."""
    return ID + kind + "/" + "/".join(quote(key, safe="") for key in keys)


def sparql_prefixes() -> str:
    return "".join(f"PREFIX {name}: <{iri}>\n" for name, iri in PREFIXES.items())


def archive_iri(graph: str) -> str:
    """The archive graph of a superseded graph (``threadline.audit.archive``): derived from its IRI, so an
    inspector can find it. Here, beside the prefix, because the history undoes archives too and must not import
    the audit package, which imports it."""
    return ARCHIVE_PREFIX + hashlib.sha256(ox.NamedNode(graph).value.encode("utf-8")).hexdigest()  # checks the IRI
