"""API tokens: lifecycle (secret shown once, stored only hashed, revoked with a reason, all audited), roles and
scopes, and ``require()`` on the live app: 401 / 403 / 200 and anonymous read auto / on / off."""

from __future__ import annotations

import getpass
import hashlib
import io
import json
from collections.abc import Iterator

import httpx
import pyoxigraph as ox
import pytest
from click.testing import CliRunner
from fastapi import Depends

from threadline import audit, auth
from threadline.auth.commands import token_group
from threadline.config import Settings
from threadline.store import Store, open_store
from threadline.web.app import create_app

ERP = "https://w3id.org/threadline/graph/batch/erp/*"
ONE = "https://w3id.org/threadline/graph/batch/plm/20260101T000000Z-0000aaaa/0"


def dump(store: Store) -> bytes:
    buffer = io.BytesIO()
    store.dump(buffer, ox.RdfFormat.N_QUADS)
    return buffer.getvalue()


def test_token_lifecycle(any_store: Store) -> None:
    token_id, secret = auth.create_token(
        any_store, "integrator", scopes=[ERP, ONE], description="ERP nightly", actor="alice"
    )
    assert secret.startswith(f"tl_{token_id}_") and len(secret) > 50
    everything = dump(any_store)
    assert secret.encode() not in everything and secret.split("_", 2)[2].encode() not in everything
    assert hashlib.sha256(secret.encode()).hexdigest().encode() in everything  # stored hashed, and only so

    [info] = auth.list_tokens(any_store)
    assert (info.token_id, info.role, info.scopes, info.description, info.created_by, info.revoked) == (
        token_id,
        "integrator",
        sorted([ERP, ONE]),
        "ERP nightly",
        "alice",
        False,
    )
    assert secret not in json.dumps(info.__dict__)

    principal = auth.authenticate(any_store, secret)
    assert principal == auth.Principal(token_id, "integrator", tuple(sorted([ERP, ONE])), "ERP nightly")
    assert principal.allows("integrator") and principal.allows("reader") and not principal.allows("admin")
    assert auth.authenticate(any_store, secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    assert auth.authenticate(any_store, "not-a-token") is None

    with pytest.raises(auth.AuthError, match="reason"):
        auth.revoke_token(any_store, token_id, actor="alice", reason=" ")
    revoked = auth.revoke_token(any_store, token_id, actor="bob", reason="laptop lost")
    assert (revoked.revoked, revoked.revoked_by, revoked.revocation_reason) == (True, "bob", "laptop lost")
    assert auth.authenticate(any_store, secret) is None  # the cached principal was dropped at once
    with pytest.raises(auth.AlreadyRevoked):
        auth.revoke_token(any_store, token_id, actor="bob", reason="again")
    with pytest.raises(auth.UnknownToken):
        auth.revoke_token(any_store, "0123456789ab", actor="bob", reason="typo")

    trail = audit.verify(any_store)
    assert trail.intact and [(r["action"], r["actor"], r["why"]) for r in trail.rows] == [
        ("token-create", "alice", None),
        ("token-revoke", "bob", "laptop lost"),
    ]
    assert json.loads(trail.rows[0]["what"])["token"] == token_id


def test_bad_roles_and_scopes_are_refused() -> None:
    store = open_store("memory:")
    with pytest.raises(auth.AuthError, match="unknown role"):
        auth.create_token(store, "superuser", actor="alice")
    with pytest.raises(auth.AuthError, match="scope"):
        auth.create_token(store, "reader", scopes=["not an iri"], actor="alice")
    assert auth.list_tokens(store) == [] and audit.verify(store).entries == 0


def test_role_table_is_explicit() -> None:
    assert auth.GRANTS["admin"] == frozenset(auth.ROLES)
    assert {role for role in auth.ROLES if auth.grants(role, "reader")} == set(auth.ROLES)
    assert not auth.grants("compliance", "integrator") and not auth.grants("integrator", "compliance")
    assert not auth.grants("engineer", "compliance") and not auth.grants("reader", "engineer")


def test_scopes_and_system_graphs() -> None:
    scoped = auth.Principal("a" * 12, "reader", (ERP, ONE))
    assert scoped.may_read_graph("https://w3id.org/threadline/graph/batch/erp/x/0")
    assert scoped.may_read_graph(ONE) and not scoped.may_read_graph(ONE + "1")
    assert not scoped.may_read_graph("https://w3id.org/threadline/graph/batch/mes/x/0")
    everything = [auth.SECURITY_GRAPH, audit.AUDIT_GRAPH, audit.archive_iri(ONE), ONE]
    assert auth.Principal("b" * 12, "reader").visible_graphs(everything) == [ONE]
    assert auth.Principal("c" * 12, "compliance").visible_graphs(everything) == everything[1:]
    assert auth.Principal("d" * 12, "admin").visible_graphs(everything) == everything


def test_lookups_are_cached_briefly(memory_store: Store) -> None:
    token_id, secret = auth.create_token(memory_store, "reader", actor="alice")
    assert auth.authenticate(memory_store, secret) is not None
    # another process revokes it (no invalidation here): this process notices after the TTL, not before
    memory_store.update(
        f"DELETE DATA {{ GRAPH <{auth.SECURITY_GRAPH}> {{ <https://w3id.org/threadline/id/token/{token_id}> "
        f"<https://w3id.org/threadline/ontology#revoked> false }} }}"
    )
    assert auth.authenticate(memory_store, secret, ttl=60) is not None
    auth.invalidate(memory_store)
    assert auth.authenticate(memory_store, secret) is None


@pytest.fixture
def memory_store() -> Store:
    return open_store("memory:")


# -- over HTTP ------------------------------------------------------------------------------------------------
class AuthSettings(Settings):
    """The settings the lead will add, declared here until config.py has them."""

    anonymous_read: str = "auto"
    token_cache_seconds: float = 10.0


def probe(role: str):  # type: ignore[no-untyped-def]
    """A route needing ``role`` that answers who the caller is."""

    def answer(principal: auth.Principal = Depends(auth.require(role))) -> dict[str, object]:  # noqa: B008
        return {"role": principal.role, "token": principal.token_id, "actor": principal.actor}

    return answer


def serve(serve_app, store: Store, mode: str) -> str:  # type: ignore[no-untyped-def]
    app = create_app(AuthSettings(store="memory:", anonymous_read=mode), store=store)
    for role in ("reader", "integrator", "compliance"):
        app.get(f"/probe/{role}")(probe(role))
    return serve_app(app).url


@pytest.fixture
def client(serve_app, memory_store: Store) -> Iterator[httpx.Client]:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=serve(serve_app, memory_store, "auto"), timeout=30) as http:
        yield http


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_require_over_http(client: httpx.Client, memory_store: Store) -> None:
    # a fresh install: no token yet, so anonymous callers may read ("auto")
    assert client.get("/probe/reader").json() == {"role": "reader", "token": None, "actor": "anonymous"}
    refused = client.get("/probe/integrator")
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
    assert "integrator" in refused.json()["error"]

    _, admin = auth.create_token(memory_store, "admin", description="ops", actor="root")  # as the CLI does
    assert client.get("/probe/reader").status_code == 401  # auto: off once a token exists

    reader_id, reader = auth.create_token(memory_store, "reader", actor="root")
    _, integrator = auth.create_token(memory_store, "integrator", actor="root")
    assert client.get("/probe/reader", headers=bearer(reader)).json()["token"] == reader_id
    forbidden = client.get("/probe/integrator", headers=bearer(reader))
    assert forbidden.status_code == 403 and "'reader'" in forbidden.json()["error"]
    assert client.get("/probe/integrator", headers=bearer(integrator)).json()["role"] == "integrator"
    assert client.get("/probe/compliance", headers=bearer(admin)).json()["role"] == "admin"
    wrong = client.get("/probe/reader", headers=bearer(reader[:-2] + "xx"))
    assert wrong.status_code == 401 and 'error="invalid_token"' in wrong.headers["www-authenticate"]
    assert client.get("/probe/reader", headers={"Authorization": "Basic Zm9vOmJhcg=="}).status_code == 401


def test_admin_routes(client: httpx.Client, memory_store: Store) -> None:
    admin_id, admin = auth.create_token(memory_store, "admin", description="ops", actor="root")
    _, reader = auth.create_token(memory_store, "reader", actor="root")
    assert client.post("/admin/tokens", json={"role": "reader"}).status_code == 401
    assert client.post("/admin/tokens", json={"role": "reader"}, headers=bearer(reader)).status_code == 403
    assert client.post("/admin/tokens", json={"role": "boss"}, headers=bearer(admin)).status_code == 422

    made = client.post(
        "/admin/tokens", json={"role": "compliance", "scopes": [ERP], "description": "QA"}, headers=bearer(admin)
    )
    assert made.status_code == 201 and made.headers["cache-control"] == "no-store"
    body = made.json()
    assert body["role"] == "compliance" and body["scopes"] == [ERP]
    assert client.get("/probe/compliance", headers=bearer(body["secret"])).status_code == 200

    listing = client.get("/admin/tokens", headers=bearer(admin))
    assert body["secret"] not in listing.text
    assert hashlib.sha256(body["secret"].encode()).hexdigest() not in listing.text
    assert {t["token_id"]: t["role"] for t in listing.json()["tokens"]}[body["id"]] == "compliance"

    assert client.delete(f"/admin/tokens/{body['id']}", headers=bearer(admin)).status_code == 422
    assert client.delete("/admin/tokens/0123456789ab", params={"reason": "x"}, headers=bearer(admin)).status_code == 404
    gone = client.delete(f"/admin/tokens/{body['id']}", params={"reason": "left the company"}, headers=bearer(admin))
    assert gone.status_code == 200 and gone.json()["revoked"] is True
    again = client.delete(f"/admin/tokens/{body['id']}", params={"reason": "x"}, headers=bearer(admin))
    assert again.status_code == 409
    assert client.get("/probe/compliance", headers=bearer(body["secret"])).status_code == 401

    rows = audit.verify(memory_store).rows
    assert [(r["action"], r["actor"], r["why"]) for r in rows[-2:]] == [
        ("token-create", f"token:{admin_id} (ops)", None),
        ("token-revoke", f"token:{admin_id} (ops)", "left the company"),
    ]


@pytest.mark.parametrize(("mode", "with_token", "status"), [("on", True, 200), ("off", False, 401)])
def test_anonymous_read_setting(serve_app, mode: str, with_token: bool, status: int) -> None:  # type: ignore[no-untyped-def]
    store = open_store("memory:")
    if with_token:
        auth.create_token(store, "admin", actor="root")
    url = serve(serve_app, store, mode)
    assert httpx.get(f"{url}/probe/reader", timeout=30).status_code == status
    assert httpx.get(f"{url}/probe/integrator", timeout=30).status_code == 401  # anonymous never writes


def test_cli(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = str(tmp_path / "store")
    runner = CliRunner()
    made = runner.invoke(token_group, ["create", "admin", "--description", "first admin", "--store", path])
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip().splitlines()[-1]
    assert secret.startswith("tl_")
    scoped = runner.invoke(token_group, ["create", "reader", "--scope", ERP, "--store", path])
    assert scoped.exit_code == 0
    listing = runner.invoke(token_group, ["list", "--store", path])
    assert listing.exit_code == 0 and "first admin" in listing.output and ERP in listing.output
    assert secret not in listing.output
    token_id = secret.split("_", 2)[1]
    assert runner.invoke(token_group, ["revoke", token_id, "--store", path]).exit_code == 2  # --reason required
    revoked = runner.invoke(token_group, ["revoke", token_id, "--reason", "rotated", "--store", path])
    assert revoked.exit_code == 0, revoked.output
    assert runner.invoke(token_group, ["create", "boss", "--store", path]).exit_code == 2
    store = open_store(path)
    try:
        assert auth.authenticate(store, secret) is None
        rows = audit.verify(store).rows
        assert [(r["action"], r["actor"]) for r in rows] == [
            ("token-create", getpass.getuser()),
            ("token-create", getpass.getuser()),
            ("token-revoke", getpass.getuser()),
        ]
    finally:
        store.close()
