"""Threadline: an open knowledge-graph digital thread for manufacturing.

Engine code only; domain content (ontology, mappings, shapes, queries, GraphQL operations) lives as plain files
in the repository's top-level folders so that the people who own it can change it without touching Python.
"""

__version__ = "0.1.0"
