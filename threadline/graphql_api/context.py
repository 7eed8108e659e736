"""The per-request context: the store, fresh loaders (caches never outlive a request) and the settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from strawberry.fastapi import BaseContext

from threadline.graphql_api.loaders import Loaders
from threadline.store import Store


@dataclass
class GraphQLContext(BaseContext):
    """What every resolver gets as ``info.context``."""

    store: Store
    loaders: Loaders
    settings: Any
    audit_reader: bool  # whether the caller may read the audit trail (who changed a record, and why)

    def __init__(self, store: Store, settings: Any, audit_reader: bool = True) -> None:
        super().__init__()
        self.store = store
        self.settings = settings
        self.loaders = Loaders(store)
        self.audit_reader = audit_reader


def make_context(store: Store, settings: Any) -> GraphQLContext:
    """Context for running the schema in-process (tests, benchmark, export)."""
    return GraphQLContext(store, settings)
