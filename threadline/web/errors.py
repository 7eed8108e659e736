"""Errors over HTTP: the one body shape every route answers, the handlers that make it, and its OpenAPI schema.

Every error answer is ``{"error": "<message for a person>", ...}`` in ``application/json``, whoever raised it:
Threadline's own errors (``ThreadlineError``: the status, message visibility and extra fields come from the
class, see ``threadline.errors``), FastAPI's ``HTTPException`` and request validation (422, the problems in
``invalid``), Starlette's 404/405/413 and an unexpected exception (500, no detail). ``install`` puts the
handlers on the app: the one place that turns an exception into an answer. ``ErrorBody`` states the shape in
the OpenAPI document. GraphQL execution errors stay in the GraphQL ``errors`` array, as the spec says.

Messages from the loader and the mapping engine name files by path, which on the CLI is what the operator
wants. Over HTTP ``public`` rewrites them: the mapping pack relative to the project (``ingest/erp/…``),
uploads by the name the client gave (never the staging folder they wait in), and the service's working folder
and the store's parent folder dropped (a full disk is named as ``store.staging``, not by its server path).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.utils import is_body_allowed_for_status_code
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from threadline.errors import SourceError, ThreadlineError
from threadline.store import disk_path

log = logging.getLogger("threadline.errors")
ERROR_HEADER = "X-Threadline-Error"
INTERNAL = "internal error"  # a 500 says nothing more: the traceback is in the log, under the request id

DESCRIPTIONS = {
    400: "Malformed request (syntax, bad parameter)",
    401: "No or unknown bearer token",
    403: "The token's role or scope does not allow this",
    404: "No such resource",
    405: "Method not allowed on this path",
    406: "No acceptable response format",
    409: "Conflicts with the current state",
    413: "Request body larger than THREADLINE_MAX_REQUEST_BYTES",
    415: "Unsupported request content type",
    422: "The request's content is refused: invalid parameters or body (``invalid``), a bad record (``file``, "
    "``locator``, ``field``) or a load the validation gate rejects (its report)",
    501: "The store's engine is known to answer this wrongly (docs/stores.md): refused rather than answered",
    503: "The store is unavailable or the query ran out of time",
    507: "The load would not fit on the server's staging or store disk (names the space needed and free)",
}


class Problem(BaseModel):
    """One problem request validation found (FastAPI's ``loc``, ``msg``, ``type``; the input is not echoed)."""

    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Every error answer: ``error`` always, the other fields when the error has them."""

    model_config = ConfigDict(extra="allow")

    error: str = Field(description="What went wrong, for a person to read")
    position: str | None = Field(None, description="SPARQL: where the parser stopped (line L, column C)")
    file: str | None = Field(None, description="Loads: the uploaded file holding the bad record")
    locator: str | None = Field(None, description="Loads: row, line, JSONPath or XPath of the bad record")
    field: str | None = Field(None, description="Loads: the field of the bad record")
    invalid: list[Problem] | None = Field(None, description="Request validation: each problem found")
    profile: str | None = Field(None, description="Load gate: the validation profile that refused the load")
    conforms: bool | None = Field(None, description="Load gate: false")
    resultCount: int | None = Field(None, description="Load gate: the violations the load would introduce")
    results: list[dict[str, Any]] | None = Field(None, description="Load gate: those violations")


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the error statuses a route can answer."""
    return {code: {"model": ErrorBody, "description": DESCRIPTIONS[code]} for code in codes}


def error(status: int, message: str, headers: dict[str, str] | None = None, **fields: Any) -> JSONResponse:
    """An error answer in the one shape, for the few routes that answer rather than raise."""
    return JSONResponse({"error": message, **fields}, status_code=status, headers=headers)


def body_of(exc: ThreadlineError, settings: Any) -> dict[str, Any]:
    """The answer's body for one of our errors: its message unless the class keeps it private, and its facts."""
    if isinstance(exc, SourceError):  # an upload lives in a temporary folder: name it as the client sent it
        name = Path(exc.file).name if exc.file else None
        where = ", ".join(p for p in (name, exc.locator, f"field {exc.field!r}" if exc.field else None) if p)
        return {"error": f"{where}: {public(exc.reason, settings)}", **exc.details(), "file": name}
    shown = exc.public or bool(getattr(settings, "debug", False))
    return {"error": public(str(exc), settings) if shown else exc.hidden, **exc.details()}


def install(app: FastAPI, settings: Any) -> None:
    """Answer every error in the one shape (see the module docstring)."""

    @app.exception_handler(ThreadlineError)
    async def threadline_error(request: Request, exc: ThreadlineError) -> Response:
        if not exc.public:
            log.warning("%s %s answered %d: %s", request.method, request.url.path, exc.status, _no_userinfo(exc))
        headers = {ERROR_HEADER: exc.header, **exc.headers()} if exc.header else exc.headers()
        return JSONResponse(body_of(exc, settings), status_code=exc.status, headers=headers or None)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> Response:
        headers = getattr(exc, "headers", None)
        if not is_body_allowed_for_status_code(exc.status_code):
            return Response(status_code=exc.status_code, headers=headers)
        return error(exc.status_code, str(exc.detail), headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> Response:
        problems = [_problem(item) for item in exc.errors()]
        said = "; ".join(f"{'.'.join(map(str, p['loc']))}: {p['msg']}" for p in problems[:5])
        return error(422, f"the request is not valid: {said}", invalid=problems)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> Response:
        return error(500, INTERNAL)  # Starlette re-raises it after answering: the request layer logs it


def _problem(item: Any) -> dict[str, Any]:
    return {"loc": list(item.get("loc", ())), "msg": str(item.get("msg", "")), "type": str(item.get("type", ""))}


def _no_userinfo(exc: Exception) -> str:
    """The message for the log, without the ``user:password@`` a store URL may hold."""
    return re.sub(r"(?<=://)[^/@\s]+@", "***@", str(exc))


_UPLOAD = re.compile(r"(?:/[^/\s]+)*/threadline-upload-[^/\s]+/")  # an upload folder, wherever staging is


def public(message: str, settings: Any) -> str:
    """``message`` without absolute server paths (see the module docstring)."""
    message = _UPLOAD.sub("", message)
    for folder, shown in _folders(settings):
        message = message.replace(folder + "/", shown).replace(folder, shown.rstrip("/") or ".")
    return message


def _folders(settings: Any) -> list[tuple[str, str]]:
    """Server folders, longest first, and what a client sees in their place."""
    out: dict[str, str] = {}
    for name in ("ingest_dir", "shapes_dir", "queries_dir", "ontology_dir", "staging_dir"):
        folder = getattr(settings, name, None)
        if folder is not None:
            path = Path(folder)
            for variant in {str(path), str(path.resolve())}:
                out[variant] = path.name + "/"
    store = disk_path(str(getattr(settings, "store", "") or "memory:"))
    # the store's folder (and ``<store>.staging`` beside it) by name; var_dir dropped
    for folder in (store.parent if store is not None else None, getattr(settings, "var_dir", None)):
        if folder is not None and len(Path(folder).resolve().parts) > 1:  # never the root folder itself
            for variant in {str(Path(folder).resolve()), str(Path(folder).absolute())}:
                out[variant] = ""
    return sorted(out.items(), key=lambda item: -len(item[0]))
