"""What a route needs from the app it is served by: its settings, its store and its SPARQL runner.

Routes are declared once, on module-level routers, and served by as many apps as a process builds (tests build
dozens, each with its own settings and store). So a route never closes over settings at registration: it asks
for them here, and they are read from ``request.app.state``, which ``create_app`` fills (settings at once, the
store and the runner in the lifespan, before the first request).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from threadline import config
from threadline import store as stores
from threadline.sparql.runner import Runner as QueryRunner


def app_settings(request: Request) -> config.Settings:
    return request.app.state.settings  # type: ignore[no-any-return]  # Starlette's State is untyped


def app_store(request: Request) -> stores.Store:
    return request.app.state.store  # type: ignore[no-any-return]


def app_runner(request: Request) -> QueryRunner:
    return request.app.state.sparql_runner  # type: ignore[no-any-return]


Settings = Annotated[config.Settings, Depends(app_settings)]
Store = Annotated[stores.Store, Depends(app_store)]
Runner = Annotated[QueryRunner, Depends(app_runner)]
