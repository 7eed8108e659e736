"""The canonical content hash of a record: what a Threadline-made electronic signature holds (form
``threadline-record-ntriples-sha256/1``), recomputed by every validation to find records changed since signing.

Written by hand because no library hashes "one subject's statements across named graphs", and because the
form must be one an inspector can recompute with a SPARQL query and ``sort -u | sha256sum``
(docs/security.md shows the recipe). The form:

1. The record's statements: every triple whose subject is the record's IRI, in a *data graph* — a batch
   graph (``https://w3id.org/threadline/graph/batch/...``) or any graph outside
   ``https://w3id.org/threadline/graph/`` — except ``tl:sourceRecord`` links (they say where a statement was
   read from, not what the record says). Threadline's own graphs (audit, security, signatures, catalog,
   provenance, archive, validation reports, KPI summaries) and staging graphs do not count.
2. Each statement as one N-Triples line ``<subject> <predicate> object .`` exactly as Oxigraph serialises it
   (RDF 1.1 N-Triples: IRIs in angle brackets, single spaces, simple strings without ``^^xsd:string``,
   language tags in lower case, ``"`` ``\\`` line feed, carriage return and tab escaped with a backslash,
   literals in the store's canonical form, e.g. ``"1.5"^^xsd:decimal`` for ``"01.50"``). A blank-node object
   is written ``_:b`` (labels are store-internal; the mapping pack gives these records none).
2a. When the signature states the ontology version its hash was computed under (``tl:ontologyVersion``; a
   signature that states none was made under ontology 0.1.0) and ontology terms were renamed since (the table
   ``ontology/renames.csv``), each renamed IRI — predicate or object — is written with its name under that
   version, so that ``threadline migrate`` renaming a term never makes a signed record read as changed
   (``names_under``; docs/upgrades.md).
3. Duplicate lines (the same statement held by several batch graphs) are dropped, the lines sorted by their
   UTF-8 bytes, each ended by a line feed.
4. The hash is the lowercase hex SHA-256 of those UTF-8 bytes.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable

import pyoxigraph as ox

from threadline.namespaces import BATCH_GRAPH_PREFIX, GRAPH, STAGING_PREFIX, TL, is_data_graph
from threadline.store import Store
from threadline.store import text as text_of
from threadline.store.params import Bindable

HASH_FORM = "threadline-record-ntriples-sha256/1"
_CHUNK = 1000

# Statements of a batch of records (?s bound as VALUES) in data graphs only; see the module docstring.
# ``namespaces.is_data_graph`` is the same test in Python.
DATA_GRAPH = (
    f'(STRSTARTS(STR(?g), "{BATCH_GRAPH_PREFIX}") || !STRSTARTS(STR(?g), "{GRAPH}")) '
    f'&& !STRSTARTS(STR(?g), "{STAGING_PREFIX}")'
)
RECORD_STATEMENTS = (
    f"SELECT DISTINCT ?s ?p ?o WHERE {{ GRAPH ?g {{ ?s ?p ?o }} FILTER(?p != <{TL}sourceRecord> && {DATA_GRAPH}) }}"
)


def line(subject: str, predicate: ox.NamedNode, obj: object) -> str:
    """One statement as its canonical N-Triples line (step 2), without the line feed."""
    text = "_:b" if isinstance(obj, ox.BlankNode) else str(obj)
    return f"{ox.NamedNode(subject)} {predicate} {text} ."


def digest(lines: Iterable[str]) -> str:
    """SHA-256 of the canonical form: unique lines, sorted by UTF-8 bytes, each ended by a line feed."""
    text = "".join(each + "\n" for each in sorted(set(lines)))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record_statements(store: Store, records: Iterable[str]) -> dict[str, list[tuple[ox.NamedNode, object]]]:
    """(predicate, object) of each record's own statements in data graphs; one query per 1000 records."""
    keys = sorted(set(records))
    found: dict[str, list[tuple[ox.NamedNode, object]]] = defaultdict(list)
    for start in range(0, len(keys), _CHUNK):
        nodes: list[Bindable] = [ox.NamedNode(k) for k in keys[start : start + _CHUNK]]
        for s, p, o in store.select(RECORD_STATEMENTS, {"s": nodes}).rows:
            if not isinstance(p, ox.NamedNode):  # the pattern's predicate: always an IRI
                raise TypeError(f"expected an IRI as predicate, got {p!r}")
            found[text_of(s)].append((p, o))
    return found


def record_hashes(store: Store, records: Iterable[str], under: str | None = None) -> dict[str, str]:
    """The canonical hash of each record's current content (a record with no statements hashes as empty), with
    the term names of ontology version ``under`` (None: the names the store holds)."""
    keys = list(records)
    statements = record_statements(store, keys)
    names = names_under(store, under)
    return {k: digest(line(k, *renamed(p, o, names)) for p, o in statements.get(k, [])) for k in keys}


def record_hash(store: Store, record: str, under: str | None = None) -> str:
    return record_hashes(store, [record], under)[record]


def names_under(store: Store, version: str | None) -> dict[str, str]:
    """Each term renamed since ontology ``version``, from the store's current name to its name then (step 2a);
    empty when nothing was renamed since, or ``version`` is None."""
    from threadline.upgrades import renames
    from threadline.upgrades.record import held_ontology

    if version is None:
        return {}
    held = held_ontology(store)
    return {} if version == held else renames.back_to(renames.load(), version, held)


def renamed(predicate: ox.NamedNode, obj: object, names: dict[str, str]) -> tuple[ox.NamedNode, object]:
    """``predicate`` and ``obj`` with the names of ``names_under`` (unchanged when ``names`` is empty)."""
    if not names:
        return predicate, obj
    if predicate.value in names:
        predicate = ox.NamedNode(names[predicate.value])
    if isinstance(obj, ox.NamedNode) and obj.value in names:
        obj = ox.NamedNode(names[obj.value])
    return predicate, obj


def complete_view(store: Store) -> bool:
    """Whether ``store`` shows every data graph (a scoped view may hide some, and then a record's hash
    computed through it is not the record's hash)."""
    inner = getattr(store, "inner", None)
    visible = getattr(store, "visible", None)
    if inner is None or visible is None:
        return True
    shown = set(visible)
    return all(g in shown for g in inner.graphs() if is_data_graph(g))
