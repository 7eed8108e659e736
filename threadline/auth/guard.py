"""``require(role)``: the FastAPI dependency every route uses to say who may call it.

Answers follow RFC 6750: no credentials where a token is needed gives 401 with ``WWW-Authenticate: Bearer``;
a malformed, unknown or revoked token gives 401 with ``error="invalid_token"``; a valid token whose role does
not grant the route's role gives 403 naming both roles. Anonymous callers are treated as ``reader`` only when
the ``anonymous_read`` setting allows it: "on", "off", or "auto" (the default) — on while no token has ever
been created (a fresh install is usable at once), off from the first token on.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from threadline.auth.principal import ANONYMOUS, Principal
from threadline.auth.roles import check_role
from threadline.auth.tokens import CACHE_SECONDS, any_tokens, authenticate
from threadline.errors import Forbidden, Unauthorised
from threadline.observability import metrics
from threadline.store import Store

ANONYMOUS_MODES = ("auto", "on", "off")
# THREADLINE_WRITE_TOKEN: an admin token from the settings, for first set-up and automation before API tokens.
BOOTSTRAP = Principal(token_id="bootstrap", role="admin", description="THREADLINE_WRITE_TOKEN")
REALM = 'Bearer realm="threadline"'
log = logging.getLogger(__name__)


def refused(request: Request, reason: str, message: str, **fields: str) -> None:
    """Log and count a request refused for its credentials. What the caller sent is never logged: only why it
    failed, from where, and (for a valid token lacking the role) the token's id."""
    metrics.AUTH_FAILURES.labels(reason).inc()
    client = request.client.host if request.client else "-"
    level = logging.INFO if reason == "missing" else logging.WARNING
    log.log(
        level, "authentication refused (%s): %s", reason, message, extra={"reason": reason, "client": client, **fields}
    )


def anonymous_read(store: Store, settings: Any) -> bool:
    """Whether a request without a token may read."""
    mode = str(getattr(settings, "anonymous_read", "auto")).lower()
    if mode == "on":
        return True
    if mode == "off":
        return False
    if mode != "auto":
        raise ValueError(f"anonymous_read must be one of {ANONYMOUS_MODES}, not {mode!r}")
    return not any_tokens(store, ttl=_ttl(settings))


def _ttl(settings: Any) -> float:
    return float(getattr(settings, "token_cache_seconds", CACHE_SECONDS))


def unauthorised(message: str, error: str | None = None) -> Unauthorised:
    """A 401 with the RFC 6750 challenge (``error``: why the token sent was refused)."""
    return Unauthorised(message, challenge=REALM + (f', error="{error}"' if error else ""))


async def principal_of(request: Request) -> Principal | None:
    """The request's principal: a token holder, ANONYMOUS when anonymous read is allowed, else None.
    Raises 401 for a bad token (a bad token is never silently downgraded to anonymous)."""
    store, settings = request.app.state.store, request.app.state.settings
    header = request.headers.get("authorization")
    if not header:
        allowed = await run_in_threadpool(anonymous_read, store, settings)
        return ANONYMOUS if allowed else None
    scheme, _, bearer = header.partition(" ")
    if scheme.lower() != "bearer" or not bearer.strip():
        refused(request, "malformed", "the Authorization header is not 'Bearer <token>'")
        raise unauthorised("the Authorization header must be 'Bearer <token>'", "invalid_request")
    bootstrap = getattr(settings, "write_token", None)
    if bootstrap and hmac.compare_digest(bearer.strip().encode(), str(bootstrap).encode()):
        return BOOTSTRAP
    principal = await run_in_threadpool(lambda: authenticate(store, bearer.strip(), ttl=_ttl(settings)))
    if principal is None:
        refused(request, "invalid", "unknown, mistyped or revoked token")
        raise unauthorised("the token is not valid (unknown, mistyped or revoked)", "invalid_token")
    return principal


def require(role: str) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency admitting callers whose role grants ``role``; it returns (and stores in
    ``request.state.principal``) the caller's Principal."""
    check_role(role)

    async def dependency(request: Request) -> Principal:
        principal = await principal_of(request)
        if principal is None or (principal.anonymous and not principal.allows(role)):
            refused(request, "missing", f"no token where role {role!r} is needed")
            raise unauthorised(f"this needs a token with role {role!r} (Authorization: Bearer <token>)")
        if not principal.allows(role):
            refused(
                request, "role", f"role {principal.role!r} does not grant {role!r}", token_id=principal.token_id or "-"
            )
            raise Forbidden(f"token {principal.token_id} has role {principal.role!r}, which does not grant {role!r}")
        request.state.principal = principal
        return principal

    dependency.__name__ = f"require_{role}"
    return dependency
