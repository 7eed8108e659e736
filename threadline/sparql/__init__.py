"""The SPARQL 1.1 Protocol endpoint, the Graph Store Protocol and the YASGUI editor (named queries, which run
through this endpoint's runner, are ``threadline.queries``).

``register(app, settings)`` adds the routes; see docs/sparql.md. Importing this package stays light: query
worker processes (``python -m threadline.sparql.worker``) import it too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from threadline.config import Settings


def register(app: FastAPI, settings: Settings) -> None:
    """Add /sparql and /store to ``app``."""
    from threadline.sparql.routes import register as add_routes

    add_routes(app, settings)


__all__ = ["register"]
