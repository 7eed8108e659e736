"""A record as canonical JSON-LD, and its content hash.

The document is one ``@graph``: the record node (what it is of, its members, its exceptions), one node per
exception, and one node per *source*: the source record (``tl:SourceRecord``: system, file, locators, key) whose
named graph (``@graph`` inside it) holds exactly the statements read from it, so every value carries where it came
from; each source names the batch graph(s) it was loaded into (``rec:loadedInto``), and each batch graph the load
activity that committed it (``prov:wasGeneratedBy``, embedded: its start time and system). No blank nodes:
exceptions get IRIs under the record's (``#exception-`` and a digest of what they say).

Canonical: keys sorted, arrays sorted (nodes by ``@id``, values by their N-Triples form), plain strings as JSON
strings, compact JSON with one node of ``@graph`` per line, UTF-8, one trailing line feed; the same thread gives
the same bytes.

The content hash (``rec:contentHash``, form ``HASH_FORM``) is the SHA-256 of the compact canonical JSON of the
document *without* what a reload of the same files changes: the batch graphs and load activities (their IRIs
carry a time and a random suffix), the hash itself, and the record's release signatures (they sign the hash).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pyoxigraph as ox

from threadline.namespaces import PROV, RDF, TL, XSD
from threadline.records.facts import Facts, Value
from threadline.records.review import Finding

REC = "https://w3id.org/threadline/record#"
HASH_FORM = "threadline-record-jsonld-sha256/1"
CONTEXT = {"prov": PROV, "rec": REC, "tl": TL, "xsd": XSD}
VOLATILE = ("rec:loadedInto",)


def compact(iri: str) -> str:
    for prefix, namespace in (("tl", TL), ("xsd", XSD), ("prov", PROV), ("rec", REC)):
        if iri.startswith(namespace):
            return f"{prefix}:{iri[len(namespace) :]}"
    return iri


def _value(value: Value) -> dict[str, str] | str:
    """An IRI as ``{"@id": …}``, a plain string as itself, any other literal as a value object."""
    if isinstance(value, ox.NamedNode):
        return {"@id": value.value}
    if isinstance(value, ox.BlankNode):
        return {"@id": "_:b"}  # the mapping pack writes none; kept readable rather than dropped
    if value.language:
        return {"@value": value.value, "@language": value.language}
    if value.datatype.value == XSD + "string":
        return value.value
    return {"@value": value.value, "@type": compact(value.datatype.value)}


def _by_source(facts: Facts) -> dict[str, dict[str, dict[str, list[Value]]]]:
    """The statements as source -> subject -> predicate -> values (one pass, not one per source)."""
    out: dict[str, dict[str, dict[str, list[Value]]]] = {}
    for subject, predicates in facts.statements.items():
        for predicate, by_value in predicates.items():
            for value, ids in by_value.items():
                for sid in ids:
                    out.setdefault(sid, {}).setdefault(subject, {}).setdefault(predicate, []).append(value)
    return out


def _nodes(statements: dict[str, dict[str, list[Value]]]) -> list[dict[str, Any]]:
    """One node object per subject of one source's statements."""
    nodes = []
    for subject in sorted(statements):
        node: dict[str, Any] = {"@id": subject}
        for predicate, found in sorted(statements[subject].items()):
            values = sorted(found, key=str)
            if predicate == RDF + "type" and all(isinstance(v, ox.NamedNode) for v in values):
                node["@type"] = [compact(v.value) for v in values]
            else:
                node[compact(predicate)] = [_value(v) for v in values]
        nodes.append(node)
    return nodes


def _sources(facts: Facts) -> list[dict[str, Any]]:
    out = []
    stated = _by_source(facts)
    for sid, source in sorted(facts.sources.items()):
        if sid not in stated:
            continue
        node: dict[str, Any] = {"@id": sid, "@graph": _nodes(stated[sid])}
        if source.file is not None:
            node["@type"] = ["tl:SourceRecord"]
            node["tl:inFile"] = source.file
        if source.locators:
            node["tl:locator"] = list(source.locators)
        if source.key is not None:
            node["tl:sourceKey"] = source.key
        if source.system is not None:
            node["tl:sourceSystem"] = source.system
        node["rec:loadedInto"] = [{"@id": g} for g in source.graphs]
        out.append(node)
    return out


def _loads(facts: Facts, sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One node per batch graph the sources were loaded into, with the load activity that committed it."""
    graphs = sorted({g["@id"] for node in sources for g in node["rec:loadedInto"]})
    out: list[dict[str, Any]] = []
    for graph in graphs:
        load = facts.loads.get(graph)
        if load is None or load.activity is None:
            continue
        activity: dict[str, Any] = {"@id": load.activity, "@type": ["prov:Activity", "tl:IngestActivity"]}
        if load.started:
            activity["prov:startedAtTime"] = {"@value": load.started, "@type": "xsd:dateTime"}
        if load.system:
            activity["tl:sourceSystem"] = load.system
        out.append({"@id": graph, "prov:wasGeneratedBy": activity})
    return out


def _finding(record: str, finding: Finding) -> dict[str, Any]:
    node: dict[str, Any] = {
        "@id": finding.id(record),
        "@type": ["rec:Exception"],
        "rec:kind": finding.kind,
        "rec:focus": {"@id": finding.focus},
        "rec:message": finding.message,
        "rec:severity": finding.severity,
    }
    if finding.path:
        node["rec:path"] = {"@id": finding.path}
    for key, value in (("tl:clause", finding.clause), ("tl:ownerRole", finding.owner), ("tl:fixHint", finding.fix)):
        if value:
            node[key] = value
    return node


def document(
    record: str, record_type: str, about: str, facts: Facts, findings: list[Finding], extra: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    """The record's JSON-LD document and its content hash. ``extra``: more properties of the record node
    (identification for FAI forms, the subject's identifier), which the hash covers."""
    sources = _sources(facts)
    head: dict[str, Any] = {
        "@id": record,
        "@type": [record_type],
        "rec:about": {"@id": about},
        "rec:member": [{"@id": m} for m in sorted(facts.statements)],
        "rec:exception": [{"@id": f.id(record)} for f in findings],
        "rec:hashForm": HASH_FORM,
        **extra,
    }
    nodes = [head, *(_finding(record, f) for f in findings), *sources]
    digest = content_hash(nodes)
    head["rec:contentHash"] = digest
    return {"@context": CONTEXT, "@graph": sorted(nodes + _loads(facts, sources), key=_order)}, digest


def _order(node: dict[str, Any]) -> str:
    return str(node["@id"])


def content_hash(nodes: list[dict[str, Any]]) -> str:
    """SHA-256 of the compact canonical JSON of ``nodes`` without their volatile keys (module docstring)."""
    stable = [{k: v for k, v in node.items() if k not in VOLATILE} for node in sorted(nodes, key=_order)]
    text = _compact(stable)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def dumps(doc: dict[str, Any]) -> bytes:
    """The canonical bytes: the context, then one node of ``@graph`` per line, each compact with sorted keys; UTF-8,
    one trailing line feed (a line per node keeps two records' differences readable in a diff)."""
    nodes = ",\n".join(_compact(node) for node in doc["@graph"])
    return f'{{"@context":{_compact(doc["@context"])},\n"@graph":[\n{nodes}\n]}}\n'.encode()


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
