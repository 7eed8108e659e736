"""Threadline: an open knowledge-graph digital thread for manufacturing.

Engine code only; domain content (ontology, mappings, shapes, queries, GraphQL operations) lives as plain files
in the repository's top-level folders so that the people who own it can change it without touching Python.
"""

# The one source of the package version: pyproject.toml reads it (dynamic version), so do `threadline --version`,
# the OpenAPI document and the store's version record. Store format and ontology versions: threadline.upgrades.
__version__ = "0.2.0.dev0"
