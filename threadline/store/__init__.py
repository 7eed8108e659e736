"""Stores: one interface (`Store`), three backends chosen by a URL.

- a directory path or ``oxigraph:PATH``: embedded pyoxigraph on disk (the default, ``./var/store``)
- ``memory:``: embedded pyoxigraph in memory
- ``http://…`` / ``https://…``: a remote SPARQL 1.1 Protocol + Graph Store Protocol service
"""

from __future__ import annotations

from pathlib import Path

from threadline.config import Settings
from threadline.errors import ConfigError
from threadline.store.base import STAGING_PREFIX, QueryResult, SelectResult, Store, StoreStats
from threadline.store.embedded import EmbeddedStore
from threadline.store.remote import RemoteStore

__all__ = [
    "STAGING_PREFIX",
    "EmbeddedStore",
    "QueryResult",
    "RemoteStore",
    "SelectResult",
    "Store",
    "StoreStats",
    "open_store",
]


def open_store(url: str | None = None, settings: Settings | None = None) -> Store:
    """Open the store named by ``url`` (or the ``store`` setting)."""
    settings = settings or Settings()
    url = url if url is not None else settings.store
    if not url:
        raise ConfigError("THREADLINE_STORE is empty: give a path, memory: or an http(s) URL")
    if url in ("memory:", "memory://", ":memory:"):
        return EmbeddedStore(None)
    if url.startswith(("http://", "https://")):
        return RemoteStore(
            url,
            query_endpoint=settings.store_query_endpoint,
            update_endpoint=settings.store_update_endpoint,
            graph_endpoint=settings.store_graph_endpoint,
            timeout=settings.store_timeout,
        )
    if url.startswith("oxigraph:"):
        url = url.removeprefix("oxigraph:")
    if "://" in url:
        raise ConfigError(f"unknown store URL scheme in {url!r}: use a path, memory: or http(s)://")
    return EmbeddedStore(Path(url))
