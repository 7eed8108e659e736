"""``threadline token create|list|revoke``: token administration for the operator.

The CLI runs with the operator's own rights over the store (file permissions, or the remote store's
network access), so it needs no token; the audit trail names the operating-system user as the actor. This
is how the first admin token is made.
"""

from __future__ import annotations

import getpass

import click
from rich.console import Console
from rich.table import Table

from threadline.auth.roles import ROLES

store_option = click.option("--store", "store_url", default=None, help="Store URL (default: THREADLINE_STORE).")


def operator(explicit: str | None = None) -> str:
    """The person responsible for a CLI change (the audit trail's actor, a load's agent): ``--actor``, else
    ``THREADLINE_ACTOR``, else the operating-system user running the command — never the program's name."""
    from threadline.config import Settings

    for given in (explicit, Settings().actor):
        if given and given.strip():
            return given.strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown-os-user"


@click.group(name="token")
def token_group() -> None:
    """API tokens: create (secret shown once), list, revoke."""


@token_group.command(name="create")
@click.argument("role", type=click.Choice(ROLES))
@click.option("--scope", "scopes", multiple=True, help="Graph IRI or IRI prefix ending in '*' (repeatable).")
@click.option("--description", default="", help="Whose token this is and what for.")
@store_option
def create_command(role: str, scopes: tuple[str, ...], description: str, store_url: str | None) -> None:
    """Create a token with ROLE; prints its secret once, on standard output."""
    from threadline.audit.commands import open_store
    from threadline.auth.tokens import create_token

    with open_store(store_url) as store:
        token_id, secret = create_token(store, role, scopes=list(scopes), description=description, actor=operator())
    click.echo(f"token {token_id} ({role}) created; its secret follows and will not be shown again:", err=True)
    click.echo(secret)


@token_group.command(name="list")
@store_option
def list_command(store_url: str | None) -> None:
    """List tokens (never their secrets)."""
    from threadline.audit.commands import open_store
    from threadline.auth.tokens import list_tokens

    with open_store(store_url) as store:
        tokens = list_tokens(store)
    table = Table("id", "role", "scopes", "description", "created", "by", "status")
    for t in tokens:
        status = f"revoked {t.revoked_at} by {t.revoked_by}: {t.revocation_reason}" if t.revoked else "active"
        table.add_row(
            t.token_id, t.role, "\n".join(t.scopes) or "(all graphs)", t.description, t.created_at, t.created_by, status
        )
    Console(width=200).print(table)


@token_group.command(name="revoke")
@click.argument("token_id")
@click.option("--reason", required=True, help="Why the token is revoked (recorded in the audit trail).")
@store_option
def revoke_command(token_id: str, reason: str, store_url: str | None) -> None:
    """Revoke the token TOKEN_ID."""
    from threadline.audit.commands import open_store
    from threadline.auth.tokens import revoke_token

    with open_store(store_url) as store:
        revoke_token(store, token_id, actor=operator(), reason=reason)
    click.echo(f"token {token_id} revoked")
