"""Electronic signatures over HTTP on the live app and an on-disk store: sign a revision (engineer), a disposition
and a CAPA (compliance), see them in GraphQL and in the audit trail, be refused by role, token and
re-authentication, and see validation (HTTP and CLI, both engines) flag a record changed after signing."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from tests.shacl_demo import REPO, build_demo, store_from
from threadline import audit, auth, features, signatures
from threadline.config import Settings
from threadline.shacl.commands import validate_command
from threadline.store import Store, open_store
from threadline.web.app import create_app

INTEGRITY = "https://w3id.org/threadline/shapes/signatures#SignatureIntegrityCheck"
ERP_BATCHES = "https://w3id.org/threadline/graph/batch/erp/*"
SIGNED = """query Signed($part: String!, $rev: String!, $capa: String!, $ncr: String!) {
  revision(partNumber: $part, revision: $rev) { signatures { id meaning signerName signerToken source recordHash
    recordUnchanged signedAt record { id } } }
  capa(number: $capa) { signatures { meaning signerName source recordUnchanged } }
  ncr(number: $ncr) { disposition { id signatures { meaning signerName source recordUnchanged } } }
}"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    return build_demo(tmp_path_factory.mktemp("signatures-demo"), units=25)


@dataclass
class Plant:
    http: httpx.Client
    store: Store
    path: Path
    secrets: dict[str, str]
    ids: dict[str, str]
    manifest: dict
    exports: Path
    server: object

    def bearer(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets[who]}"}

    def sign(self, who: str, body: dict, password: str | None = None) -> httpx.Response:
        return self.http.post(
            "/signatures", json={**body, "password": password or self.secrets[who]}, headers=self.bearer(who)
        )


@pytest.fixture
def plant(demo: tuple[Path, dict], tmp_path: Path, serve_app) -> Iterator[Plant]:  # type: ignore[no-untyped-def]
    path = tmp_path / "store"
    store = store_from(demo[0], open_store(str(path)))
    secrets, ids = {}, {}
    for who, role, description in (
        ("admin", "admin", "Olga Ops"),
        ("engineer", "engineer", "Alice Engineer"),
        ("quality", "compliance", "Carol Quality"),
        ("reader", "reader", "Rita Reader"),
        ("unnamed", "engineer", ""),
    ):
        ids[who], secrets[who] = auth.create_token(store, role, description=description, actor="root")
    ids["scoped"], secrets["scoped"] = auth.create_token(
        store, "engineer", scopes=[ERP_BATCHES], description="Sam Supplier", actor="root"
    )
    settings = Settings(store=str(path), var_dir=tmp_path / "var", write_token="bootstrap-secret", kpi_summaries=False)
    server = serve_app(create_app(settings, store=store))
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            plant = Plant(http, store, path, secrets, ids, demo[1], demo[0].parent, server)
            yield plant
    finally:
        features.uninstall()  # create_app installed the load hooks process-wide
    plant.store.close()


def _keys(manifest: dict) -> dict[str, str]:
    truth = manifest["groundTruth"]
    return {
        "part": truth["eco"]["part"],
        "rev": truth["eco"]["fromRevision"],
        "capa": truth["capasClosed"][0],
        "ncr": truth["capaWithSeveralNcrs"]["ncrs"][0],
    }


def _integrity(results: list[dict]) -> list[dict]:
    return [r for r in results if r["shape"] == INTEGRITY]


def test_sign_show_audit_and_flag_changes(plant: Plant, tmp_path: Path) -> None:
    keys = _keys(plant.manifest)
    rev = plant.sign(
        "engineer",
        {"revision": {"part": keys["part"], "revision": keys["rev"]}, "meaning": "approved", "reason": "release"},
    )
    assert rev.status_code == 201, rev.text
    signed = rev.json()
    record = f"https://w3id.org/threadline/id/rev/{keys['part']}/{keys['rev']}"
    assert (signed["record"], signed["meaning"], signed["signerName"], signed["signerToken"], signed["source"]) == (
        record,
        "approved",
        "Alice Engineer",
        plant.ids["engineer"],
        "threadline",
    )
    assert signed["recordHash"] == signatures.record_hash(plant.store, record)
    capa = plant.sign("quality", {"capa": keys["capa"], "meaning": "closed"})
    disposition = plant.sign("quality", {"ncr": keys["ncr"], "meaning": "Approved"})  # meanings are case-blind
    assert capa.status_code == 201 and disposition.status_code == 201, (capa.text, disposition.text)
    assert disposition.json()["record"] == f"https://w3id.org/threadline/id/disposition/{keys['ncr']}"
    again = plant.sign("engineer", {"record": record, "meaning": "approved"})  # a second signature is a new one
    assert again.status_code == 201 and again.json()["id"] != signed["id"]

    # GraphQL shows both the PLM's release signature and ours; the record is unchanged so far
    data = plant.http.post("/graphql", json={"query": SIGNED, "variables": keys}, headers=plant.bearer("reader")).json()
    assert "errors" not in data, data
    shown = data["data"]["revision"]["signatures"]
    assert {s["source"] for s in shown} == {"threadline", "source system"}
    ours = [s for s in shown if s["source"] == "threadline"]
    assert [(s["signerName"], s["recordUnchanged"], s["record"]["id"]) for s in ours] == [
        ("Alice Engineer", True, record)
    ] * 2
    plm = next(s for s in shown if s["source"] == "source system")
    assert plm["signerName"] and plm["recordUnchanged"] is None and plm["signerToken"] is None
    assert data["data"]["capa"]["signatures"] == [
        {"meaning": "closed", "signerName": "Carol Quality", "source": "threadline", "recordUnchanged": True}
    ]
    assert data["data"]["ncr"]["disposition"]["signatures"][0]["meaning"] == "approved"
    listed = plant.http.get("/signatures", params={"record": record}, headers=plant.bearer("reader")).json()
    assert sorted(s["source"] for s in listed["signatures"]) == ["source system", "threadline", "threadline"]

    # one audit entry per signature, naming the token, the record and its hash; the chain still verifies
    trail = audit.verify(plant.store)
    assert trail.intact
    entries = [r for r in trail.rows if r["action"] == "signature"]
    assert len(entries) == 4
    first = json.loads(entries[0]["what"])
    assert entries[0]["actor"] == f"token:{plant.ids['engineer']} (Alice Engineer)" and entries[0]["why"] == "release"
    assert (first["signature"], first["record"], first["recordHash"], first["meaning"]) == (
        signed["id"],
        record,
        signed["recordHash"],
        "approved",
    )
    assert first["graphs"] == [signatures.SIGNATURES_GRAPH]

    # an inspector recomputes the hash through the SPARQL endpoint with the recipe in the docs
    assert _inspector_hash(plant, record) == signed["recordHash"]

    # nothing changed yet: validation reports no signature finding (native and pyshacl)
    for engine in ("native", "pyshacl"):
        before = plant.http.post("/validate", params={"engine": engine}, headers=plant.bearer("reader"))
        assert before.status_code == 200 and not _integrity(before.json()["results"]), engine

    # reloading the revision unchanged (a delta of the same row) keeps the hash
    rows = (plant.exports / "plm" / "revisions.csv").read_text().splitlines()
    row = next(r for r in rows if r.startswith(f"{keys['part']},{keys['rev']},"))
    assert _delta(plant, tmp_path, rows[0], row).status_code == 200
    assert signatures.check(plant.store) == []

    # the PLM changes the signed revision's effectivity end: every validation flags it, once per our signature
    changed = row.split(",")
    changed[5] = "2099-12-31"
    assert _delta(plant, tmp_path, rows[0], ",".join(changed)).status_code == 200
    for engine in ("native", "pyshacl"):
        for profile in ("core", "cfr820"):
            after = plant.http.post(
                "/validate", params={"engine": engine, "profile": profile}, headers=plant.bearer("reader")
            )
            found = _integrity(after.json()["results"])
            assert [r["focus"] for r in found] == [record, record], (engine, profile)
            assert found[0]["severity"] == "Violation" and found[0]["clause"] == "21 CFR 11.70"
            assert (
                found[0]["owner_role"]
                and found[0]["fix_hint"]
                and found[0]["identifier"] == f"{keys['part']}/{keys['rev']}"
            )
            message = found[0]["message"]
            assert message.startswith(f"Revision {keys['rev']} of part {keys['part']} changed after Alice Engineer")
            assert "'approved'" in message
    data = plant.http.post("/graphql", json={"query": SIGNED, "variables": keys}, headers=plant.bearer("reader"))
    ours = [s for s in data.json()["data"]["revision"]["signatures"] if s["source"] == "threadline"]
    assert [s["recordUnchanged"] for s in ours] == [False, False]
    assert data.json()["data"]["capa"]["signatures"][0]["recordUnchanged"] is True

    # the CLI reports it too (the server holds the on-disk store: stop it first)
    plant.server.stop()  # type: ignore[attr-defined]
    plant.store.close()
    result = CliRunner().invoke(validate_command, ["--store", str(plant.path), "--format", "json"])
    assert result.exit_code == 1, result.output
    found = _integrity(json.loads(result.stdout)["results"])
    assert [r["focus"] for r in found] == [record, record]


def _delta(plant: Plant, tmp_path: Path, header: str, row: str) -> httpx.Response:
    folder = tmp_path / "delta"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    (folder / "revisions.csv").write_text(f"{header}\n{row}\n", encoding="utf-8")
    with (folder / "revisions.csv").open("rb") as handle:
        return plant.http.post(
            "/ingest/plm",
            params={"mode": "delta"},
            files=[("files", ("revisions.csv", handle, "text/csv"))],
            headers=plant.bearer("admin"),
        )


def _inspector_hash(plant: Plant, record: str) -> str:
    docs = (REPO / "docs" / "security.md").read_text(encoding="utf-8")
    query = re.search(r"```sparql\n(CONSTRUCT \{ <RECORD> .*?)```", docs, re.S).group(1)  # type: ignore[union-attr]
    response = plant.http.post(
        "/sparql",
        data={"query": query.replace("<RECORD>", f"<{record}>")},
        headers={**plant.bearer("reader"), "Accept": "application/n-triples"},
    )
    assert response.status_code == 200, response.text
    lines = sorted({line for line in response.content.decode("utf-8").splitlines() if line.strip()})
    return hashlib.sha256("".join(line + "\n" for line in lines).encode("utf-8")).hexdigest()


def test_refusals_leave_no_trace(plant: Plant) -> None:
    keys = _keys(plant.manifest)
    revision = {"revision": {"part": keys["part"], "revision": keys["rev"]}, "meaning": "released"}
    entries = audit.verify(plant.store).entries

    nobody = plant.http.post("/signatures", json={**revision, "password": "x"})
    assert nobody.status_code == 401 and nobody.headers["www-authenticate"].startswith("Bearer")
    wrong_role = plant.sign("quality", revision)
    assert wrong_role.status_code == 403 and "'engineer'" in wrong_role.json()["error"]
    reader = plant.sign("reader", {"capa": keys["capa"], "meaning": "closed"})
    assert reader.status_code == 403 and "'compliance'" in reader.json()["error"]
    no_password = plant.http.post("/signatures", json=revision, headers=plant.bearer("engineer"))
    assert no_password.status_code == 401 and "re-authentication" in no_password.json()["error"]
    other_token = plant.sign("engineer", revision, password=plant.secrets["admin"])
    assert other_token.status_code == 401 and "re-authentication failed" in other_token.json()["error"]
    mistyped = plant.sign("engineer", revision, password=plant.secrets["engineer"][:-1] + "?")
    assert mistyped.status_code == 401
    bootstrap = plant.http.post(
        "/signatures",
        json={**revision, "password": "bootstrap-secret"},
        headers={"Authorization": "Bearer bootstrap-secret"},
    )
    assert bootstrap.status_code == 403 and "shared" in bootstrap.json()["error"]  # nobody's in particular
    unnamed = plant.sign("unnamed", revision)
    assert unnamed.status_code == 403 and "printed name" in unnamed.json()["error"]

    unknown = plant.sign("engineer", {"revision": {"part": keys["part"], "revision": "Z"}, "meaning": "released"})
    assert unknown.status_code == 404 and "revision 'Z'" in unknown.json()["error"]
    no_record = plant.sign("engineer", {"record": "https://w3id.org/threadline/id/rev/NOPE/A", "meaning": "released"})
    assert no_record.status_code == 404
    not_an_iri = plant.sign("engineer", {"record": "not an IRI", "meaning": "released"})
    assert not_an_iri.status_code == 422 and "IRI" in not_an_iri.json()["error"]
    out_of_scope = plant.sign("scoped", revision)  # the PLM's revisions are outside an ERP-scoped token
    assert out_of_scope.status_code == 404
    bad_meaning = plant.sign("quality", {"capa": keys["capa"], "meaning": "released"})
    assert bad_meaning.status_code == 422
    assert bad_meaning.json()["error"] == "a CAPA can be signed as 'closed', 'approved', 'reviewed', not 'released'"
    unit = plant.manifest["groundTruth"]["exampleUnit"]["serial"]
    not_signable = plant.sign("admin", {"record": f"https://w3id.org/threadline/id/unit/{unit}", "meaning": "approved"})
    assert not_signable.status_code == 422 and "SerializedUnit" in not_signable.json()["error"]
    two_names = plant.sign("quality", {"capa": keys["capa"], "ncr": keys["ncr"], "meaning": "approved"})
    assert two_names.status_code == 422

    assert audit.verify(plant.store).entries == entries  # nothing was written
    assert plant.store.select(f"SELECT * WHERE {{ GRAPH <{signatures.SIGNATURES_GRAPH}> {{ ?s ?p ?o }} }}").rows == []


def test_deleted_record_and_source_signatures(demo: tuple[Path, dict]) -> None:
    """The engine alone: a deleted record is reported as deleted; PLM signatures are never checked."""
    store = store_from(demo[0])
    capa = signatures.resolve(store, "capa", _keys(demo[1])["capa"])
    signer = auth.Principal("0123456789ab", "compliance", (), "Carol Quality")
    signatures.sign(store, signer, capa, "closed")
    assert signatures.check(store) == []
    plm = [s for s in signatures.signatures_of(store) if s.source == "source system"]
    assert plm and all(s.record_hash for s in plm)  # their hashes use the PLM's formula, and are left alone
    store.update(f"DELETE WHERE {{ GRAPH ?g {{ <{capa}> ?p ?o }} }}")
    [mismatch] = signatures.check(store)
    assert mismatch.record == capa and not mismatch.record_exists
    assert mismatch.message().startswith(f"CAPA {_keys(demo[1])['capa']} was deleted after Carol Quality signed it")
    assert mismatch.current_hash == hashlib.sha256(b"").hexdigest()


SIGNATURES_OF_EVERY_REVISION = """{ parts(first: 100) { nodes { revisions { revision signatures {
  meaning signerName source recordUnchanged signer { name } } } } } }"""


def test_signature_fields_batch_per_level(demo: tuple[Path, dict]) -> None:
    """Listing every revision's signatures (with signer names and the recomputed hash) costs the same number of
    store round trips however many signatures there are."""
    from tests.test_graphql_roundtrips import CountingStore
    from threadline.graphql_api import execute

    store = store_from(demo[0])
    engineer = auth.Principal("0123456789ab", "engineer", (), "Alice Engineer")
    revisions = sorted(set(store.select(f"SELECT ?r WHERE {{ ?r a <{signatures.TL}PartRevision> }}").values("r")))

    def trips() -> tuple[int, list[dict]]:
        counting = CountingStore(store)
        result = execute(counting, SIGNATURES_OF_EVERY_REVISION)
        assert result.errors is None, result.errors
        shown = [s for p in result.data["parts"]["nodes"] for r in p["revisions"] for s in r["signatures"]]
        return len(counting.queries), shown

    signatures.sign(store, engineer, revisions[0], "reviewed")
    few, shown = trips()
    assert [s["recordUnchanged"] for s in shown if s["source"] == "threadline"] == [True]
    for revision in revisions[1:]:
        signatures.sign(store, engineer, revision, "released")
    many, shown = trips()
    assert len([s for s in shown if s["source"] == "threadline"]) == len(revisions) > 3
    assert all(s["signerName"] for s in shown)  # PLM signatures show their person's name
    assert many == few
