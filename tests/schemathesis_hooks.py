"""Generators for the named string formats of our OpenAPI document (schemathesis ``SCHEMATHESIS_HOOKS``).

JSON Schema cannot say what a valid SPARQL query, SPARQL update, GraphQL document or IRI is, so the document
names them as formats and these strategies produce valid ones: the shipped named queries and examples, and
updates that only add to a scratch graph (never a destructive update against the fuzzed store).
"""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parent.parent
QUERIES = ["SELECT * WHERE { ?s ?p ?o } LIMIT 3", "ASK { }", "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } LIMIT 2"]
GRAPHQL = sorted(p.read_text() for p in (REPO / "graphql" / "examples").glob("*.graphql"))
IRIS = st.builds(
    "{}:{}".format,
    st.sampled_from(["urn:fuzz", "https://w3id.org/threadline/id/unit", "http://example.org/x"]),
    st.from_regex(r"\A[a-z0-9]{1,8}\Z"),
)
UPDATES = st.builds(
    'INSERT DATA {{ GRAPH <urn:fuzz:scratch> {{ <urn:fuzz:{}> <urn:fuzz:p> "{}" }} }}'.format,
    st.from_regex(r"\A[a-z0-9]{1,8}\Z"),
    st.from_regex(r"\A[a-z0-9 ]{0,8}\Z"),
)

schemathesis.openapi.format("sparql-query", st.sampled_from(QUERIES))
schemathesis.openapi.format("sparql-update", UPDATES)
schemathesis.openapi.format("graphql", st.sampled_from(GRAPHQL or ["{ __typename }"]))
schemathesis.openapi.format("iri", IRIS)
