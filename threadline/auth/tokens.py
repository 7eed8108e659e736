"""API tokens: created with a role and optional graph scopes, stored hashed, revoked with a reason.

Tokens live in the store itself, in the named graph ``graph/security``, so they work on every backend and
are in every backup. A secret is ``tl_<token id>_<43 random url-safe characters>`` (256 bits from
``secrets``): it is shown once, at creation, and only its sha256 is stored. A slow password hash (argon2,
bcrypt) would add nothing here — it protects low-entropy secrets people choose, and these are random. The
token id inside the secret lets ``authenticate`` fetch exactly one stored hash and compare it in constant time
(``hmac.compare_digest``) instead of searching the store by hash.

Every write to the security graph appends an audit entry in the same update (``threadline.audit``).
Lookups are cached in-process for ``token_cache_seconds`` (default 10 s): a revocation takes effect at once
in the process that made it and within that time in any other process sharing a remote store.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox

from threadline import audit
from threadline.auth.principal import Principal, check_scope
from threadline.auth.roles import AuthError, check_role
from threadline.namespaces import ID, SECURITY_GRAPH, TL, XSD
from threadline.observability import metrics
from threadline.store import Store, text
from threadline.store.engines import truth

TOKEN_PREFIX = ID + "token/"
CACHE_SECONDS = 10.0
_SECRET = re.compile(r"^tl_([0-9a-f]{12})_[A-Za-z0-9_\-]{43}$")
_ID = re.compile(r"^[0-9a-f]{12}$")
_BOOLEAN = ox.NamedNode(XSD + "boolean")

log = logging.getLogger(__name__)


class UnknownToken(AuthError):
    """No token has this id."""

    status = 404


class AlreadyRevoked(AuthError):
    """The token was revoked before."""

    status = 409


@dataclass
class TokenInfo:
    """What ``list_tokens`` shows: everything but the hash."""

    token_id: str
    role: str
    scopes: list[str] = field(default_factory=list)
    description: str = ""
    created_at: str = ""
    created_by: str = ""
    revoked: bool = False
    revoked_at: str | None = None
    revoked_by: str | None = None
    revocation_reason: str | None = None


def _p(name: str) -> str:
    return f"<{TL}{name}>"


def token_iri(token_id: str) -> ox.NamedNode:
    return ox.NamedNode(TOKEN_PREFIX + token_id)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


# -- writing -------------------------------------------------------------------------------------------------
def create_token(
    store: Store, role: str, *, scopes: list[str] | tuple[str, ...] = (), description: str = "", actor: str
) -> tuple[str, str]:
    """Make a token; returns ``(token_id, secret)``. The secret is not stored and cannot be shown again."""
    check_role(role)
    scopes = sorted({check_scope(scope) for scope in scopes})
    token_id = secrets.token_hex(6)
    secret = f"tl_{token_id}_{secrets.token_urlsafe(32)}"
    node = token_iri(token_id)
    triples = [
        f"{node} a {_p('ApiToken')} ; {_p('tokenId')} {ox.Literal(token_id)} ; {_p('tokenRole')} {ox.Literal(role)} ;",
        f"  {_p('secretHash')} {ox.Literal(secret_hash(secret))} ;",
        f"  {_p('tokenDescription')} {ox.Literal(description)} ;",
        f"  {_p('createdAt')} {ox.Literal(audit.chain.utc_now(), datatype=ox.NamedNode(XSD + 'dateTime'))} ;",
        f"  {_p('createdBy')} {ox.Literal(actor)} ; {_p('revoked')} {ox.Literal('false', datatype=_BOOLEAN)} .",
        *(f"{node} {_p('scope')} {ox.Literal(scope)} ." for scope in scopes),
    ]
    change = f"INSERT DATA {{ GRAPH <{SECURITY_GRAPH}> {{\n" + "\n".join(triples) + "\n} }"
    what = {"graphs": [SECURITY_GRAPH], "token": token_id, "role": role, "scopes": scopes, "description": description}
    with audit.writer_lock(store):
        entry = audit.entry_update(store, action="token-create", actor=actor, what=what, why=None)
        audit.commit(store, change + " ;\n" + entry)
    invalidate(store)
    _changed("created", token_id, role, actor)
    return token_id, secret


def revoke_token(store: Store, token_id: str, *, actor: str, reason: str) -> TokenInfo:
    """Revoke a token (kept, flagged, with who, when and why); returns it as it now is."""
    if not reason or not reason.strip():
        raise AuthError("a reason is required to revoke a token")
    with audit.writer_lock(store):
        current = _find(store, token_id)
        if current.revoked:
            raise AlreadyRevoked(f"token {token_id} was already revoked at {current.revoked_at}")
        node, when = token_iri(token_id), audit.chain.utc_now()
        change = (
            f"DELETE DATA {{ GRAPH <{SECURITY_GRAPH}> {{ {node} {_p('revoked')} "
            f"{ox.Literal('false', datatype=_BOOLEAN)} }} }} ;\n"
            f"INSERT DATA {{ GRAPH <{SECURITY_GRAPH}> {{ {node} {_p('revoked')} "
            f"{ox.Literal('true', datatype=_BOOLEAN)} ;"
            f" {_p('revokedAt')} {ox.Literal(when, datatype=ox.NamedNode(XSD + 'dateTime'))} ;"
            f" {_p('revokedBy')} {ox.Literal(actor)} ; {_p('revocationReason')} {ox.Literal(reason.strip())} }} }}"
        )
        what = {"graphs": [SECURITY_GRAPH], "token": token_id, "role": current.role}
        entry = audit.entry_update(store, action="token-revoke", actor=actor, what=what, why=reason)
        audit.commit(store, change + " ;\n" + entry)
    invalidate(store)
    _changed("revoked", token_id, current.role, actor)
    return _find(store, token_id)


def _changed(change: str, token_id: str, role: str, actor: str) -> None:
    """Log and count a token change: its id, role and who made it; never the secret or its hash."""
    metrics.TOKEN_CHANGES.labels(change).inc()
    log.info(
        "token %s %s (role %s) by %s",
        token_id,
        change,
        role,
        actor,
        extra={"token_id": token_id, "change": change, "role": role, "actor": actor},
    )


# -- reading -------------------------------------------------------------------------------------------------
_FIELDS = {
    "role": "tokenRole",
    "description": "tokenDescription",
    "created_at": "createdAt",
    "created_by": "createdBy",
    "revoked": "revoked",
    "revoked_at": "revokedAt",
    "revoked_by": "revokedBy",
    "revocation_reason": "revocationReason",
    "scope": "scope",
    "hash": "secretHash",
}


@dataclass
class _Row:
    """One token's statements in the security graph: lexical values by field name, its scopes, and whether it
    is revoked (None: no ``tl:revoked`` statement)."""

    values: dict[str, str] = field(default_factory=dict)
    scopes: set[str] = field(default_factory=set)
    revoked: bool | None = None


def _rows(store: Store, token_id: str | None = None) -> dict[str, _Row]:
    optional = " ".join(f"OPTIONAL {{ ?t {_p(p)} ?{name} }}" for name, p in _FIELDS.items())
    result = store.select(
        f"SELECT ?id ?{' ?'.join(_FIELDS)} WHERE {{ GRAPH <{SECURITY_GRAPH}> {{ ?t a {_p('ApiToken')} ; "
        f"{_p('tokenId')} ?id . {optional} }} }}",
        {"id": token_id} if token_id is not None else None,
    )
    tokens: dict[str, _Row] = {}
    for row in result.dicts():
        token = tokens.setdefault(text(row["id"]), _Row())
        for name, term in row.items():
            if name == "scope":
                token.scopes.add(text(term))
            elif name == "revoked":  # by value: an engine may write "0" for false (threadline.store.engines)
                token.revoked = truth(term)
            elif name != "id":
                token.values[name] = text(term)
    return tokens


def _info(token_id: str, row: _Row) -> TokenInfo:
    values = row.values
    return TokenInfo(
        token_id=token_id,
        role=values.get("role", ""),
        scopes=sorted(row.scopes),
        description=values.get("description", ""),
        created_at=values.get("created_at", ""),
        created_by=values.get("created_by", ""),
        revoked=row.revoked is not False,  # anything but an explicit false counts as revoked
        revoked_at=values.get("revoked_at"),
        revoked_by=values.get("revoked_by"),
        revocation_reason=values.get("revocation_reason"),
    )


def list_tokens(store: Store) -> list[TokenInfo]:
    tokens = [_info(token_id, row) for token_id, row in _rows(store).items()]
    return sorted(tokens, key=lambda t: (t.created_at, t.token_id))


def _find(store: Store, token_id: str) -> TokenInfo:
    rows = _rows(store, token_id) if _ID.match(token_id or "") else {}
    if token_id not in rows:
        raise UnknownToken(f"no token with id {token_id!r}")
    return _info(token_id, rows[token_id])


# -- authenticating, with a short in-process cache -----------------------------------------------------------
_cache: weakref.WeakKeyDictionary[Store, dict[str, tuple[float, object]]] = weakref.WeakKeyDictionary()


def invalidate(store: Store) -> None:
    _cache.pop(store, None)


def _cached(store: Store, key: str, ttl: float, compute: Callable[[], Any]) -> Any:
    entries = _cache.setdefault(store, {})
    hit = entries.get(key)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]
    value = compute()
    entries[key] = (now + ttl, value)
    return value


def authenticate(store: Store, bearer: str, *, ttl: float = CACHE_SECONDS) -> Principal | None:
    """The principal a bearer secret stands for, or None (malformed, unknown, wrong secret or revoked)."""
    match = _SECRET.match(bearer or "")
    if match is None:
        return None
    digest = secret_hash(bearer)
    return _cached(store, "secret:" + digest, ttl, lambda: _lookup(store, match.group(1), digest))


def _lookup(store: Store, token_id: str, digest: str) -> Principal | None:
    row = _rows(store, token_id).get(token_id)
    if row is None or not hmac.compare_digest(row.values.get("hash", "").encode(), digest.encode()):
        return None
    info = _info(token_id, row)
    if info.revoked:
        return None
    return Principal(token_id, info.role, tuple(info.scopes), info.description)


def any_tokens(store: Store, *, ttl: float = CACHE_SECONDS) -> bool:
    """Whether any token was ever created (revoked ones count: revoking the last token must not reopen the
    thread to anonymous readers)."""
    return _cached(
        store, "any", ttl, lambda: store.ask(f"ASK {{ GRAPH <{SECURITY_GRAPH}> {{ ?t a {_p('ApiToken')} }} }}")
    )
