"""The IRIs Threadline mints: ontology terms, data identifiers and the graphs the loader manages."""

from __future__ import annotations

from urllib.parse import quote

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

PREFIXES = {
    "tl": TL,
    "id": ID,
    "prov": PROV,
    "xsd": XSD,
    "rdf": RDF,
    "rdfs": RDFS,
}


def data_iri(kind: str, *keys: str) -> str:
    """The IRI of a thread object, percent-encoding each key as RML templates do."""
    return ID + kind + "/" + "/".join(quote(key, safe="") for key in keys)


def sparql_prefixes() -> str:
    return "".join(f"PREFIX {name}: <{iri}>\n" for name, iri in PREFIXES.items())
