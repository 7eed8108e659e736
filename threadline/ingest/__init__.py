"""Loads: source exports → mapping pack → one committed, provenance-tracked batch per mapping."""

from threadline.ingest.loader import LoadOptions, describe, load_files, open_recovered, recover

__all__ = ["LoadOptions", "describe", "load_files", "open_recovered", "recover"]
