"""Stores: one interface (`Store`), three backends chosen by a URL.

- a directory path or ``oxigraph:PATH``: embedded pyoxigraph on disk (the default, ``./var/store``)
- ``memory:``: embedded pyoxigraph in memory
- ``http://…`` / ``https://…``: a remote SPARQL 1.1 Protocol + Graph Store Protocol service
"""

from __future__ import annotations

from pathlib import Path

from threadline.config import Settings
from threadline.errors import ConfigError
from threadline.store.base import (
    STAGING_PREFIX,
    QueryResult,
    SelectResult,
    Store,
    StoreStats,
    bound,
    text,
    text_or_none,
)
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
    "bound",
    "disk_path",
    "open_store",
    "text",
    "text_or_none",
]


def open_store(url: str | None = None, settings: Settings | None = None, *, check_versions: bool = True) -> Store:
    """Open the store named by ``url`` (or the ``store`` setting).

    An on-disk or remote store must be one this Threadline can use as it is (``threadline.upgrades.gate``): a
    new one is given its version record, a newer one is refused, an older one is refused unless its migration
    is trivial. ``check_versions=False`` is for ``threadline migrate`` only."""
    store = _open(url, settings)
    if check_versions and not (isinstance(store, EmbeddedStore) and store.path is None):
        from threadline.upgrades.gate import admit

        try:
            admit(store)
        except BaseException:
            store.close()
            raise
    return store


def _open(url: str | None, settings: Settings | None) -> Store:
    settings = settings or Settings()
    url = url if url is not None else settings.store
    if not url:
        raise ConfigError("THREADLINE_STORE is empty: give a path, memory: or an http(s) URL")
    path = disk_path(url)
    if path is None and url in MEMORY_URLS:
        return EmbeddedStore(None)
    if path is None:
        return RemoteStore(
            url,
            query_endpoint=settings.store_query_endpoint,
            update_endpoint=settings.store_update_endpoint,
            graph_endpoint=settings.store_graph_endpoint,
            timeout=settings.store_timeout,
            engine=settings.store_engine,
            query_method=settings.store_query_method,
            lease_seconds=settings.store_lease_seconds,
            lease_wait=settings.store_lease_wait,
        )
    if "://" in url.removeprefix("oxigraph:"):
        raise ConfigError(f"unknown store URL scheme in {url!r}: use a path, memory: or http(s)://")
    return EmbeddedStore(path)


MEMORY_URLS = ("memory:", "memory://", ":memory:")


def disk_path(url: str) -> Path | None:
    """The folder of an on-disk store URL (a path or ``oxigraph:PATH``), or None for memory and remote stores."""
    if url in MEMORY_URLS or url.startswith(("http://", "https://")):
        return None
    return Path(url.removeprefix("oxigraph:"))
