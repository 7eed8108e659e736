"""Roles and what each implies, as one explicit table rather than an order: "compliance" and "integrator"
are not ranks of one ladder (an integration service account loads data but must not sign or approve), so a
role grants exactly the roles listed for it here.

| role        | grants                                         | meant for                                          |
|-------------|------------------------------------------------|----------------------------------------------------|
| reader      | reader                                         | anyone who reads the thread (GraphQL, SPARQL query) |
| engineer    | engineer, reader                               | engineers: release revisions (signatures)           |
| compliance  | compliance, reader                             | QA/RA: validation evidence, audit trail, approvals  |
| integrator  | integrator, reader                             | loaders, graph store writes (service accounts)      |
| admin       | admin, integrator, compliance, engineer, reader | tokens, SPARQL Update, everything                   |
"""

from __future__ import annotations

from threadline.errors import ThreadlineError

ROLES: tuple[str, ...] = ("reader", "engineer", "compliance", "integrator", "admin")

GRANTS: dict[str, frozenset[str]] = {
    "reader": frozenset({"reader"}),
    "engineer": frozenset({"engineer", "reader"}),
    "compliance": frozenset({"compliance", "reader"}),
    "integrator": frozenset({"integrator", "reader"}),
    "admin": frozenset(ROLES),
}


class AuthError(ThreadlineError):
    """A token cannot be created, found or revoked as asked (unknown role, bad scope, unknown token)."""

    status = 422


def check_role(role: str) -> str:
    if role not in GRANTS:
        raise AuthError(f"unknown role {role!r}; roles are: {', '.join(ROLES)}")
    return role


def grants(held: str, needed: str) -> bool:
    """Whether a holder of ``held`` may do what needs ``needed``."""
    return needed in GRANTS.get(held, frozenset())
