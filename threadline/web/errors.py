"""What error bodies look like over HTTP: their OpenAPI description and the server paths they must not show.

Two body shapes reach clients: ``{"error": ...}`` from Threadline's own handlers, ``{"detail": ...}`` from
FastAPI (``HTTPException``: a string; request validation: a list). ``ErrorBody`` describes both, so the
OpenAPI document states what a client really gets for every status.

Messages from the loader and the mapping engine name files by path, which on the CLI is what the operator
wants. Over HTTP ``public`` rewrites them: the mapping pack relative to the project (``ingest/erp/…``),
uploads by the name the client gave (never the staging folder they wait in), and the service's working folder
and the store's parent folder dropped (a full disk is named as ``store.staging``, not by its server path).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from threadline.store import disk_path

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
    422: "The request is well-formed but its content is refused (names file, locator, field)",
    503: "The store is unavailable or the query ran out of time",
    507: "The load would not fit on the server's staging or store disk (names the space needed and free)",
}


class ErrorBody(BaseModel):
    """An error: ``error`` (Threadline's handlers) or ``detail`` (a message, or FastAPI's validation list)."""

    model_config = ConfigDict(extra="allow")

    error: str | None = None
    detail: str | list[Any] | None = None


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the error statuses a route can answer."""
    return {code: {"model": ErrorBody, "description": DESCRIPTIONS[code]} for code in codes}


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
