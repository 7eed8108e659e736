"""The OpenAPI document: every route and every status it can answer, described truthfully.

FastAPI describes what its signatures say: the success status and a 422 for request validation. It cannot
know the statuses our code raises (401/403 from the role guard, 404, 409, 413 from the body limit, 503 when
the store fails), nor the three protocol routes that read raw requests: ``/sparql`` (SPARQL 1.1 Protocol),
``/store`` (Graph Store Protocol) and ``/graphql``. This module adds them after FastAPI has built its
document, from tables kept next to each other here, so that one place answers "what does the API say".

Texts that JSON Schema cannot describe (a SPARQL query, a GraphQL document, an IRI that pyoxigraph accepts)
carry a named ``format`` (``sparql-query``, ``sparql-update``, ``graphql``, ``iri``); clients and the fuzz
test register generators for them. ``Allow`` on a 405 answer is rewritten to the documented methods of the
path (``AllowHeader``): Starlette lists only the methods of the first route that matched the path.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from threadline.web.errors import DESCRIPTIONS, ErrorBody
from threadline.web.openapi_protocols import AS_OF, CHANGE_BOUND, IRI, PROTOCOL_PATHS

ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
PUBLIC = {("GET", "/healthz"), ("GET", "/livez"), ("GET", "/readyz"), ("GET", "/version"), ("GET", "/ontology")}
# /metrics reports a store outage as a gauge (threadline_store_up 0) rather than failing
NO_STORE = {("GET", "/version"), ("GET", "/ontology"), ("GET", "/queries"), ("GET", "/livez"), ("GET", "/metrics")}
# Statuses a route raises itself, beyond the ones every route of its kind gets (see ``_statuses``).
RAISED: dict[tuple[str, str], tuple[int, ...]] = {
    ("POST", "/ingest/{system}"): (404,),
    ("DELETE", "/admin/tokens/{token_id}"): (404, 409),
    ("GET", "/reports/view"): (404,),
    ("POST", "/signatures"): (404,),
    ("GET", "/queries/{name}"): (400, 404, 406),
    ("POST", "/validate"): (400,),
    ("GET", "/ontology"): (400, 406),  # an unknown ``format``; nothing in ``Accept`` that is offered
    ("GET", "/changes"): (400,),  # a ``since``/``until`` that is no change id or dateTime; a ``limit`` out of range
    # a ``from``/``to`` that is none, past the last change or reversed; no offered format; more than the diff limit
    ("GET", "/diff"): (400, 406, 422),
    ("GET", "/records/dhr/{identifier}"): (400, 404, 406),  # an unknown ``format``; no such unit or lot; ``Accept``
    ("GET", "/records/fai/{part}/{revision}"): (400, 404, 406),
    ("POST", "/records/dhr/{identifier}/release"): (404, 409),  # no such unit or lot; open exceptions (listed)
}
# Constraints the handlers enforce that their signatures do not show.
PARAMETERS: dict[tuple[str, str, str], dict[str, Any]] = {
    ("DELETE", "/admin/tokens/{token_id}", "reason"): {"required": True, "schema": {"type": "string", "minLength": 1}},
    ("GET", "/signatures", "record"): {"schema": IRI},
    ("GET", "/reports/view", "graph"): {"schema": IRI},
    ("GET", "/changes", "limit"): {"schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
    ("GET", "/changes", "since"): {"schema": CHANGE_BOUND},
    ("GET", "/changes", "until"): {"schema": CHANGE_BOUND},
    ("GET", "/diff", "from"): {"required": True, "schema": CHANGE_BOUND},
    ("GET", "/diff", "to"): {"schema": CHANGE_BOUND},
    ("GET", "/diff", "subject"): {"schema": IRI},
    ("POST", "/validate", "asOf"): {"schema": CHANGE_BOUND},
    ("POST", "/validate", "X-Threadline-As-Of"): {"schema": CHANGE_BOUND},
}
# Parameters a handler reads from the request itself (so its signature cannot show them).
READ_BY_HANDLER: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("GET", "/queries/{name}"): AS_OF,  # a query declaring its own asOf (capa-aging) takes the instant by header
}


def install(app: FastAPI) -> None:
    """Serve the completed document at ``/openapi.json`` and fix ``Allow`` on 405 answers."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to replace the OpenAPI document
    app.add_middleware(AllowHeader, app_ref=app)


def build(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    error_body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(error_body.pop("$defs", {}), ErrorBody=error_body)
    schema["paths"].update(copy.deepcopy(PROTOCOL_PATHS))
    _tighten(schema)
    _systems(schema, app)
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            _statuses(method.upper(), path, operation)
    for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422 body, which no route answers now
        if f'"#/components/schemas/{unused}"' not in json.dumps(schema["paths"]):
            components.pop(unused, None)
    return schema


def _tighten(schema: dict[str, Any]) -> None:
    from threadline.auth.roles import ROLES

    components = schema["components"]["schemas"]
    if "TokenRequest" in components:
        components["TokenRequest"]["properties"]["role"]["enum"] = list(ROLES)
        components["TokenRequest"]["properties"]["scopes"]["items"].update(IRI)
    binary = {"type": "string", "format": "binary"}
    for name, body in components.items():
        if name.startswith("Body_ingest"):
            body["properties"]["files"].update({"items": binary, "minItems": 1})
        if name.startswith("Body_validate"):
            body["properties"]["shapes"] = {**binary, "description": "SHACL shapes (Turtle), instead of a profile"}
    for (method, path), extra in READ_BY_HANDLER.items():
        operation = schema["paths"].get(path, {}).get(method.lower())
        if operation is not None:
            operation.setdefault("parameters", []).extend(copy.deepcopy(extra))
    for (method, path, name), override in PARAMETERS.items():
        operation = schema["paths"].get(path, {}).get(method.lower())
        for parameter in (operation or {}).get("parameters", []):
            if parameter["name"] == name:
                parameter.update(copy.deepcopy(override))


def _systems(schema: dict[str, Any], app: FastAPI) -> None:
    """``system`` of ``/ingest/{system}``: one of the mapping pack's folders (others answer 404)."""
    folder = Path(app.state.settings.ingest_dir)
    systems = (
        sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name.isidentifier()) if folder.is_dir() else []
    )
    operation = schema["paths"].get("/ingest/{system}", {}).get("post", {})
    for parameter in operation.get("parameters", []):
        if parameter["name"] == "system" and systems:
            parameter["schema"]["enum"] = systems


def _statuses(method: str, path: str, operation: dict[str, Any]) -> None:
    """Add every error status the operation can answer, each with the error body schema."""
    codes: set[int] = set(RAISED.get((method, path), ()))
    codes |= set(operation.pop("x-threadline-errors", ()))
    if (method, path) not in PUBLIC:
        codes |= {401, 403}
    if (method, path) not in NO_STORE:
        codes |= {501, 503}
    if "requestBody" in operation:
        codes |= {400, 413, 422}
    if operation.get("parameters"):
        codes.add(422)
    responses = operation.setdefault("responses", {})
    for code in sorted(codes):
        entry = responses.setdefault(str(code), {"description": DESCRIPTIONS[code]})
        if entry["description"] == "Validation Error":  # FastAPI's, for its own 422 body
            entry["description"] = DESCRIPTIONS[code]
        entry["content"] = {"application/json": {"schema": ERROR_REF}}


class AllowHeader:
    """ASGI middleware: a 405 answer's ``Allow`` lists the methods the OpenAPI document gives its path."""

    def __init__(self, app: ASGIApp, app_ref: FastAPI) -> None:
        self.app = app
        self.app_ref = app_ref
        self._paths: list[tuple[re.Pattern[str], str]] | None = None

    def _allowed(self, path: str) -> str | None:
        document = self.app_ref.openapi()
        if self._paths is None:
            self._paths = [(compile_path(p)[0], p) for p in document["paths"]]
        for pattern, template in self._paths:
            if pattern.match(path):
                methods = [m.upper() for m in document["paths"][template] if m.isalpha()]
                return ", ".join(sorted(methods))
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                allowed = self._allowed(scope["path"])
                if allowed is not None:
                    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                    message = {**message, "headers": [*headers, (b"allow", allowed.encode())]}
            await send(message)

        await self.app(scope, receive, send_allow)
