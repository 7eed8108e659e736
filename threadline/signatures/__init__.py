"""Electronic signatures made in Threadline (21 CFR Part 11 §11.50, §11.70): sign a record, and find records
that changed after they were signed.

What may be signed, with which meanings and by which role is the table ``RULES``: releasing a part revision
(engineer), approving a disposition and closing a CAPA (compliance), and releasing a device history record
(compliance; ``sign_content``, as the record is derived by ``threadline.records``, not stored). A signature names
its signer by the API token they authenticated with — the token's id and its description, which must name one
person — because that is all Threadline knows of who is calling; it is not linked to a ``tl:Person`` (tokens
carry none). The shared bootstrap token (``THREADLINE_WRITE_TOKEN``) cannot sign: it is nobody's in particular
(§11.100(a)).

Each signature is written to the named graph ``graph/signatures`` together with its ``signature`` audit entry,
in ONE update under ``audit.writer_lock``. The record's hash is computed under the same lock, so no other
Threadline write (loads hold the lock while they commit) can slip in between hashing and signing.

Signatures loaded from a source system (the PLM's release approvals) are ``tl:ElectronicSignature`` too, but
their ``tl:signedRecordHash`` follows the source system's own formula, which Threadline cannot recompute. So a
Threadline-made signature is marked twice: it lives in ``graph/signatures`` and states
``tl:recordHashForm "threadline-record-ntriples-sha256/1"``. ``check`` looks only at signatures with both.

The record's hash and its canonical form are ``threadline.signatures.record_hash``. A signature also states the ontology
version its hash was computed under (``tl:ontologyVersion``; none on signatures made before versions were
recorded: ontology 0.1.0), and ``check`` recomputes each record's hash under that version's term names, so
renaming a term (``threadline migrate``) does not make signed records read as changed (docs/upgrades.md).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from urllib.parse import unquote

import pyoxigraph as ox

from threadline import audit
from threadline.auth.principal import Principal
from threadline.errors import SignatureError, SignatureRefused, UnknownRecord
from threadline.namespaces import GRAPH, ID, RDF, TL, XSD
from threadline.signatures.record_hash import (
    HASH_FORM,
    complete_view,
    digest,
    is_data_graph,
    line,
    names_under,
    record_hash,
    record_hashes,
    record_statements,
    renamed,
)
from threadline.store import Store, text
from threadline.store.base import Params
from threadline.store.params import Bindable
from threadline.upgrades.record import held_ontology
from threadline.upgrades.versions import BASELINE_ONTOLOGY

SIGNATURES_GRAPH = GRAPH + "signatures"
SIGNATURE_PREFIX = ID + "signature/"
_TOKEN_ID = re.compile(r"^[0-9a-f]{12}$")


@dataclass(frozen=True)
class Rule:
    """Who may sign a record of one class, and what their signature may mean."""

    meanings: tuple[str, ...]
    role: str
    noun: str


RULES: dict[str, Rule] = {
    "PartRevision": Rule(("released", "approved", "reviewed"), "engineer", "part revision"),
    "Disposition": Rule(("approved", "reviewed"), "compliance", "disposition"),
    "CAPA": Rule(("closed", "approved", "reviewed"), "compliance", "CAPA"),
    # records Threadline derives (threadline.records), signed with sign_content: their class is no stored class
    "DeviceHistoryRecord": Rule(("released",), "compliance", "device history record"),
}
DERIVED = ("DeviceHistoryRecord",)  # signed through sign_content only


@dataclass(frozen=True)
class Signature:
    """One signature as stored; ``hash_form`` is None for a source system's signature."""

    id: str
    record: str
    meaning: str | None
    signed_at: str | None
    record_hash: str | None
    hash_form: str | None = None
    signer_name: str | None = None
    signer_token: str | None = None
    signer_person: str | None = None
    ontology: str | None = None  # the ontology version the hash was computed under (Threadline-made signatures)

    @property
    def source(self) -> str:
        return "threadline" if self.hash_form else "source system"

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "source": self.source}


@dataclass(frozen=True)
class Mismatch:
    """A Threadline-made signature whose record no longer has the content that was signed."""

    record: str
    record_class: str | None
    signature: str
    signer: str
    meaning: str
    signed_at: str
    stored_hash: str
    current_hash: str
    record_exists: bool

    def message(self) -> str:
        """What changed, in words a reviewer understands."""
        when = self.signed_at.replace("T", " ")[:16] + " UTC" if "T" in self.signed_at else self.signed_at
        what = "was deleted" if not self.record_exists else "changed"
        return (
            f"{describe(self.record)} {what} after {self.signer} signed it '{self.meaning}' on {when}: "
            f"its content hash is now {self.current_hash[:12]}…, the signature holds {self.stored_hash[:12]}…"
        )


# -- naming records ---------------------------------------------------------------------------------------------
def describe(record: str) -> str:
    """``Revision B of part FC-1000``, ``The disposition of NCR NCR-000001``, ``CAPA CAPA-00001`` (from the IRI)."""
    kind, _, key = record.removeprefix(ID).partition("/") if record.startswith(ID) else ("", "", "")
    parts = [unquote(p) for p in key.split("/")] if key else []
    if kind == "rev" and len(parts) == 2:
        return f"Revision {parts[1]} of part {parts[0]}"
    if kind == "disposition" and len(parts) == 1:
        return f"The disposition of NCR {parts[0]}"
    if kind == "capa" and len(parts) == 1:
        return f"CAPA {parts[0]}"
    return f"Record {record}"


_RESOLVE = {
    "revision": f"SELECT ?s WHERE {{ ?part <{TL}partNumber> ?key . ?s <{TL}revisionOf> ?part ; "
    f"<{TL}revisionLabel> ?label }}",
    "ncr": f"SELECT ?s WHERE {{ ?n <{TL}ncrNumber> ?key ; <{TL}hasDisposition> ?s }}",
    "capa": f"SELECT ?s WHERE {{ ?s <{TL}capaNumber> ?key ; a <{TL}CAPA> }}",
}


def resolve(store: Store, kind: str, key: str, label: str | None = None) -> str:
    """The IRI of a revision (part number + label), of an NCR's disposition, or of a CAPA, by the identifiers
    people use; UnknownRecord when the thread has none."""
    params: dict[str, Bindable | list[Bindable]] = {"key": key}
    if kind == "revision":
        params["label"] = label or ""
    found = sorted(set(store.select(_RESOLVE[kind], params).values("s")))
    if not found:
        what = {
            "revision": f"revision {label!r} of part {key!r}",
            "ncr": f"a disposition of NCR {key!r}",
            "capa": f"CAPA {key!r}",
        }[kind]
        raise UnknownRecord(f"the thread has no {what}")
    return found[0]


# -- signing ----------------------------------------------------------------------------------------------------
def signer_name(principal: Principal) -> str:
    """The printed name a signature shows (§11.50(a)(1)): the description of the signer's own token."""
    if principal.anonymous:
        raise SignatureRefused("signing needs an API token (Authorization: Bearer <token>)")
    if not _TOKEN_ID.match(principal.token_id or ""):
        raise SignatureRefused(
            "the bootstrap THREADLINE_WRITE_TOKEN is shared, not one person's: sign with a personal API token "
            "(21 CFR 11.100(a))"
        )
    if not principal.description.strip():
        raise SignatureRefused(
            f"token {principal.token_id} has no description naming its holder; a signature must show the "
            "signer's printed name (21 CFR 11.50(a)(1)): ask an admin for a token described with your name"
        )
    return principal.description.strip()


def sign(store: Store, principal: Principal, record: str, meaning: str, reason: str | None = None) -> Signature:
    """Sign ``record`` with ``meaning`` as ``principal``; the signature and its audit entry land together."""
    name = signer_name(principal)
    meaning = (meaning or "").strip().lower()
    try:
        ox.NamedNode(record)
    except ValueError as exc:
        raise SignatureError(f"not a record IRI: {record!r}") from exc
    with audit.writer_lock(store):
        statements = record_statements(store, [record]).get(record, [])
        if not statements:
            raise UnknownRecord(f"the thread holds no record {record}")
        kind = _signable_class(record, statements)
        _allowed(RULES[kind], meaning, principal)
        content_hash = digest(line(record, p, o) for p, o in statements)
        signature = _new_signature(store, principal, record, meaning, content_hash, HASH_FORM, name)
        _write(store, principal, signature, kind, reason)
    return signature


def sign_content(
    store: Store,
    principal: Principal,
    record: str,
    kind: str,
    meaning: str,
    content: Callable[[], tuple[str, str]],
    reason: str | None = None,
) -> Signature:
    """Sign a record Threadline derives rather than stores (a device history record, ``threadline.records``):
    ``content()`` returns its content hash and the form of that hash, computed under the writer lock like a
    stored record's (so no write lands between hashing and signing) and free to refuse (raise) instead. ``kind``
    is the record's entry in ``RULES``. ``check`` leaves such signatures alone: their hash form is not
    ``HASH_FORM``; the deriving package compares them with the record's current hash."""
    name = signer_name(principal)
    meaning = (meaning or "").strip().lower()
    _allowed(RULES[kind], meaning, principal)
    with audit.writer_lock(store):
        content_hash, form = content()
        signature = _new_signature(store, principal, record, meaning, content_hash, form, name)
        _write(store, principal, signature, kind, reason)
    return signature


def _allowed(rule: Rule, meaning: str, principal: Principal) -> None:
    """Refuse a meaning the record's rule does not offer, or a signer without the rule's role."""
    if meaning not in rule.meanings:
        raise SignatureError(
            f"a {rule.noun} can be signed as {', '.join(repr(m) for m in rule.meanings)}, not {meaning!r}"
        )
    if not principal.allows(rule.role):
        raise SignatureRefused(
            f"signing a {rule.noun} needs role {rule.role!r}; token {principal.token_id} has {principal.role!r}"
        )


def _new_signature(
    store: Store,
    principal: Principal,
    record: str,
    meaning: str,
    content_hash: str,
    form: str = HASH_FORM,
    name: str | None = None,
) -> Signature:
    return Signature(
        id=f"{SIGNATURE_PREFIX}tl-{uuid.uuid4().hex}",
        record=record,
        meaning=meaning,
        signed_at=audit.chain.utc_now(),
        record_hash=content_hash,
        hash_form=form,
        signer_name=name or signer_name(principal),
        signer_token=principal.token_id,
        ontology=held_ontology(store),
    )


def _write(store: Store, principal: Principal, signature: Signature, kind: str, reason: str | None) -> None:
    """The signature and its audit entry in one update (the caller holds the writer lock)."""
    lines = _signature_lines(signature, ox.NamedNode(signature.record))
    what = {
        "graphs": [SIGNATURES_GRAPH],
        "records": 1,
        "triples": len(lines),
        "signature": signature.id,
        "record": signature.record,
        "recordClass": kind,
        "meaning": signature.meaning,
        "recordHash": signature.record_hash,
        "hashForm": signature.hash_form,
        "ontologyVersion": signature.ontology,
        "after": digest(lines),
    }
    change = f"INSERT DATA {{ GRAPH <{SIGNATURES_GRAPH}> {{\n" + "\n".join(lines) + "\n} }"
    entry = audit.entry_update(store, action="signature", actor=principal.actor, what=what, why=reason)
    audit.commit(store, change + " ;\n" + entry)


def _signable_class(record: str, statements: list[tuple[ox.NamedNode, object]]) -> str:
    types = sorted(o.value for p, o in statements if p.value == RDF + "type" and isinstance(o, ox.NamedNode))
    for iri in types:
        if iri.startswith(TL) and iri[len(TL) :] in RULES:
            return iri[len(TL) :]
    shown = ", ".join(t.rsplit("#", 1)[-1] for t in types) or "of no class"
    raise SignatureError(f"{record} ({shown}) cannot be signed: only part revisions, dispositions and CAPAs can")


def _signature_lines(signature: Signature, subject: ox.NamedNode) -> list[str]:
    def lit(value: str, datatype: str | None = None) -> str:
        return str(ox.Literal(value, datatype=ox.NamedNode(XSD + datatype)) if datatype else ox.Literal(value))

    node = str(ox.NamedNode(signature.id))
    pairs = [
        (RDF + "type", str(ox.NamedNode(TL + "ElectronicSignature"))),
        (TL + "signs", str(subject)),
        (TL + "signatureMeaning", lit(signature.meaning or "")),
        (TL + "signedAt", lit(signature.signed_at or "", "dateTime")),
        (TL + "signedRecordHash", lit(signature.record_hash or "")),
        (TL + "recordHashForm", lit(signature.hash_form or HASH_FORM)),
        (TL + "signerName", lit(signature.signer_name or "")),
        (TL + "signerTokenId", lit(signature.signer_token or "")),
        (TL + "ontologyVersion", lit(signature.ontology or "")),
    ]
    return [f"{node} <{p}> {o} ." for p, o in pairs]


# -- reading and checking ---------------------------------------------------------------------------------------
_FIELDS = {
    "meaning": "signatureMeaning",
    "at": "signedAt",
    "hash": "signedRecordHash",
    "name": "signerName",
    "token": "signerTokenId",
    "person": "signer",
    "ontology": "ontologyVersion",
}


def signatures_of(store: Store, records: list[str] | None = None) -> list[Signature]:
    """Every signature (Threadline-made and source-system) of ``records`` (all records when None)."""
    optional = " ".join(f"OPTIONAL {{ ?sig <{TL}{p}> ?{name} }}" for name, p in _FIELDS.items())
    query = (
        f"SELECT ?sig ?record ?form {' '.join('?' + n for n in _FIELDS)} WHERE {{ "
        f"?sig a <{TL}ElectronicSignature> ; <{TL}signs> ?record . {optional} "
        f"OPTIONAL {{ GRAPH <{SIGNATURES_GRAPH}> {{ ?sig <{TL}recordHashForm> ?form }} }} }}"
    )
    params: Params = {"record": [ox.NamedNode(r) for r in records]} if records is not None else None
    if records is not None and not records:
        return []
    found: dict[str, Signature] = {}
    for values in store.select(query, params).texts():
        found.setdefault(
            values["sig"],
            Signature(
                id=values["sig"],
                record=values["record"],
                meaning=values.get("meaning"),
                signed_at=values.get("at"),
                record_hash=values.get("hash"),
                hash_form=values.get("form"),
                signer_name=values.get("name"),
                signer_token=values.get("token"),
                signer_person=values.get("person"),
                ontology=values.get("ontology"),
            ),
        )
    return sorted(found.values(), key=lambda s: (s.record, s.signed_at or "", s.id))


def check(store: Store) -> list[Mismatch]:
    """Threadline-made signatures whose record's current hash differs from the signed one."""
    rows = store.select(
        f"SELECT ?sig ?record ?hash ?meaning ?at ?name ?token ?class WHERE {{ GRAPH <{SIGNATURES_GRAPH}> {{ "
        f"?sig a <{TL}ElectronicSignature> ; <{TL}signs> ?record ; <{TL}signedRecordHash> ?hash ; "
        f"<{TL}recordHashForm> ?form . "
        f"OPTIONAL {{ ?sig <{TL}signatureMeaning> ?meaning }} OPTIONAL {{ ?sig <{TL}signedAt> ?at }} "
        f"OPTIONAL {{ ?sig <{TL}signerName> ?name }} OPTIONAL {{ ?sig <{TL}signerTokenId> ?token }} "
        f"OPTIONAL {{ ?sig <{TL}ontologyVersion> ?ontology }} }} }}",
        {"form": HASH_FORM},
    ).dicts()
    if not rows:
        return []
    records = sorted({text(row["record"]) for row in rows})
    statements = record_statements(store, records)
    names: dict[str, dict[str, str]] = {}  # per ontology version signed under: current name -> name then
    out = []
    for row in rows:
        values = {k: text(v) for k, v in row.items()}
        record = values["record"]
        version = values.get("ontology") or BASELINE_ONTOLOGY
        if version not in names:
            names[version] = names_under(store, version)
        current = digest(line(record, *renamed(p, o, names[version])) for p, o in statements.get(record, []))
        if current == values["hash"]:
            continue
        kinds = [
            o.value[len(TL) :]
            for p, o in statements.get(record, [])
            if p.value == RDF + "type" and isinstance(o, ox.NamedNode) and o.value[len(TL) :] in RULES
        ]
        signer = values.get("name") or (f"token {values['token']}" if values.get("token") else "an unnamed signer")
        out.append(
            Mismatch(
                record=record,
                record_class=kinds[0] if kinds else None,
                signature=values["sig"],
                signer=signer,
                meaning=values.get("meaning", ""),
                signed_at=values.get("at", ""),
                stored_hash=values["hash"],
                current_hash=current,
                record_exists=bool(statements.get(record)),
            )
        )
    return sorted(out, key=lambda m: (m.record, m.signed_at, m.signature))


__all__ = [
    "DERIVED",
    "HASH_FORM",
    "RULES",
    "SIGNATURES_GRAPH",
    "Mismatch",
    "Rule",
    "Signature",
    "check",
    "complete_view",
    "describe",
    "digest",
    "is_data_graph",
    "record_hash",
    "record_hashes",
    "record_statements",
    "resolve",
    "sign",
    "sign_content",
    "signatures_of",
    "signer_name",
]
