"""Who may do what: API tokens with roles and graph scopes, and the ``require(role)`` route guard.

``roles`` (the implication table), ``principal`` (a caller and the graphs it may see), ``tokens`` (create,
list, revoke, authenticate; stored hashed in the security graph), ``guard`` (the FastAPI dependency),
``routes`` (admin HTTP) and ``commands`` (``threadline token``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from threadline.auth.principal import ANONYMOUS, Principal, check_scope
from threadline.auth.roles import GRANTS, ROLES, AuthError, grants
from threadline.auth.tokens import (
    AlreadyRevoked,
    TokenInfo,
    UnknownToken,
    any_tokens,
    authenticate,
    create_token,
    invalidate,
    list_tokens,
    revoke_token,
)
from threadline.namespaces import SECURITY_GRAPH, system_role

if TYPE_CHECKING:
    from threadline.auth.guard import anonymous_read, principal_of, require

_GUARD = ("anonymous_read", "principal_of", "require")


def __getattr__(name: str) -> Any:
    """The route guard on first use: it imports FastAPI (about 2 s), which the CLI's verbs never need."""
    if name in _GUARD:
        from threadline.auth import guard

        return getattr(guard, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ANONYMOUS",
    "GRANTS",
    "ROLES",
    "SECURITY_GRAPH",
    "AlreadyRevoked",
    "AuthError",
    "Principal",
    "TokenInfo",
    "UnknownToken",
    "anonymous_read",
    "any_tokens",
    "authenticate",
    "check_scope",
    "create_token",
    "grants",
    "invalidate",
    "list_tokens",
    "principal_of",
    "require",
    "revoke_token",
    "system_role",
]
