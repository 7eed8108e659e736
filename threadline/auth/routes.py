"""HTTP administration of tokens: ``POST/GET /admin/tokens``, ``DELETE /admin/tokens/{id}?reason=...``.

Admin only. The secret is in the creation response and nowhere else (``Cache-Control: no-store``); the
audit trail names the admin token that created or revoked each token.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from threadline.auth.guard import require
from threadline.auth.principal import Principal
from threadline.auth.roles import ROLES
from threadline.auth.tokens import create_token, list_tokens, revoke_token
from threadline.errors import InvalidRequest
from threadline.web import deps

Admin = Annotated[Principal, Depends(require("admin"))]
router = APIRouter(tags=["admin"])


class TokenRequest(BaseModel):
    role: str = Field(description=f"One of: {', '.join(ROLES)}.")
    scopes: list[str] = Field(default_factory=list, description="Graph IRIs, or IRI prefixes ending in '*'.")
    description: str = Field(default="", description="Whose token this is and what for (shown in the audit).")


@router.post("/admin/tokens", status_code=201)
async def create(body: TokenRequest, admin: Admin, store: deps.Store) -> JSONResponse:
    """Create a token; the response holds its secret, which is never shown again."""
    token_id, secret = await run_in_threadpool(  # AuthError (422) for a role or scope it cannot have
        lambda: create_token(store, body.role, scopes=body.scopes, description=body.description, actor=admin.actor)
    )
    payload = {
        "id": token_id,
        "secret": secret,
        "role": body.role,
        "scopes": sorted(set(body.scopes)),
        "description": body.description,
        "note": "the secret is shown once; store it now",
    }
    return JSONResponse(payload, status_code=201, headers={"Cache-Control": "no-store"})


@router.get("/admin/tokens")
async def listing(admin: Admin, store: deps.Store) -> dict[str, Any]:
    """Every token, revoked ones included; never a secret or its hash."""
    tokens = await run_in_threadpool(list_tokens, store)
    return {"tokens": [asdict(token) for token in tokens]}


@router.delete("/admin/tokens/{token_id}")
async def revoke(token_id: str, admin: Admin, store: deps.Store, reason: str | None = None) -> dict[str, Any]:
    """Revoke a token; ``reason`` is required and goes into the audit trail."""
    if not reason or not reason.strip():
        raise InvalidRequest("a reason is required to revoke a token: DELETE /admin/tokens/{id}?reason=...")
    # UnknownToken (404), AlreadyRevoked (409)
    token = await run_in_threadpool(lambda: revoke_token(store, token_id, actor=admin.actor, reason=reason))
    return asdict(token)
