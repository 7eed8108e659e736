"""What a route needs from the app it is served by: its settings, its store and its SPARQL runner.

Routes are declared once, on module-level routers, and served by as many apps as a process builds (tests build
dozens, each with its own settings and store). So a route never closes over settings at registration: it asks
for them here, and they are read from ``request.app.state``, which ``create_app`` fills (settings at once, the
store and the runner in the lifespan, before the first request).
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from threadline import config
from threadline import store as stores
from threadline.sparql.runner import Runner as QueryRunner


def app_settings(request: Request) -> config.Settings:
    return cast(config.Settings, request.app.state.settings)  # Starlette's State is untyped


def app_store(request: Request) -> stores.Store:
    return cast(stores.Store, request.app.state.store)


def app_runner(request: Request) -> QueryRunner:
    return cast(QueryRunner, request.app.state.sparql_runner)


Settings = Annotated[config.Settings, Depends(app_settings)]
Store = Annotated[stores.Store, Depends(app_store)]
Runner = Annotated[QueryRunner, Depends(app_runner)]
