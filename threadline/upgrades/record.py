"""What a store says about itself: its format and the ontology version its data is named in.

Kept in the system graph ``STORE_GRAPH`` (``https://w3id.org/threadline/graph/store``), one resource with four
statements. Only admins read it (``threadline.namespaces.system_role``): reader views delete it from their
copies and every reader's dataset leaves it out, as for the security graph. No SPARQL Update or Graph Store
write may touch it (``threadline.audit.writes.SYSTEM_GRAPHS``); only ``open_store`` (a new store) and
``threadline migrate`` write it, each in one update, so the record is always whole.

``migratingTo`` is present only while a migration runs: a store that still has it was interrupted mid-way, and
is refused until ``threadline migrate`` is run again (which finishes the job: every step is idempotent).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyoxigraph as ox

from threadline.errors import StoreVersionError
from threadline.namespaces import ID, LEASE_GRAPH, STORE_GRAPH, TL, XSD
from threadline.store.base import Store, text
from threadline.upgrades.versions import STORE_FORMAT, ontology_version, package_version

STORE_RECORD = ID + "store"

_READ = (
    f"SELECT ?format ?ontology ?release ?migrating WHERE {{ GRAPH <{STORE_GRAPH}> {{ "
    f"<{STORE_RECORD}> <{TL}storeFormat> ?format . "
    f"OPTIONAL {{ <{STORE_RECORD}> <{TL}ontologyVersion> ?ontology }} "
    f"OPTIONAL {{ <{STORE_RECORD}> <{TL}writtenByRelease> ?release }} "
    f"OPTIONAL {{ <{STORE_RECORD}> <{TL}migratingTo> ?migrating }} }} }}"
)
# any statement but the record's (queries see the union of the graphs and the stored default graph as default)
_ANY_DATA = (  # writer leases of other processes are no data either (threadline.store.lease)
    "ASK { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } "
    f"FILTER NOT EXISTS {{ GRAPH <{STORE_GRAPH}> {{ ?s ?p ?o }} }} "
    f"FILTER NOT EXISTS {{ GRAPH <{LEASE_GRAPH}> {{ ?s ?p ?o }} }} }}"
)


@dataclass(frozen=True)
class StoreVersion:
    """A store's format and ontology version; ``migrating_to`` names an unfinished migration's target."""

    format: int
    ontology: str
    release: str | None = None
    migrating_to: str | None = None

    def __str__(self) -> str:
        return f"store format {self.format}, ontology {self.ontology}"


def current() -> StoreVersion:
    """The versions this Threadline writes."""
    return StoreVersion(STORE_FORMAT, ontology_version(), package_version())


def read(store: Store) -> StoreVersion | None:
    """The store's record, or None when it has none (a new store, or one the previous release wrote)."""
    rows = store.select(_READ).dicts()
    if not rows:
        return None
    row = {name: text(term) for name, term in rows[0].items()}
    try:
        fmt = int(row["format"])
    except ValueError:
        raise StoreVersionError(
            f"the store's version record is unreadable: tl:storeFormat {row['format']!r} in {STORE_GRAPH}"
        ) from None
    return StoreVersion(fmt, row.get("ontology", ""), row.get("release"), row.get("migrating"))


def has_data(store: Store) -> bool:
    """Whether the store holds anything besides its version record and lease claims (an empty store's record is
    no data)."""
    return store.ask(_ANY_DATA)


def held_ontology(store: Store) -> str:
    """The ontology version whose names the store's data uses: its record's, else this Threadline's (a store
    without a record is a memory store or one ``open_store`` let through, which needs no term renamed)."""
    found = read(store)
    return found.ontology if found is not None and found.ontology else ontology_version()


def write_text(version: StoreVersion) -> str:
    """SPARQL Update text that replaces the record by ``version`` (one request with whatever follows it)."""
    node = str(ox.NamedNode(STORE_RECORD))
    statements = [
        f"{node} <{TL}storeFormat> {ox.Literal(str(version.format), datatype=ox.NamedNode(XSD + 'integer'))} .",
        f"{node} <{TL}ontologyVersion> {ox.Literal(version.ontology)} .",
    ]
    if version.release:
        statements.append(f"{node} <{TL}writtenByRelease> {ox.Literal(version.release)} .")
    if version.migrating_to:
        statements.append(f"{node} <{TL}migratingTo> {ox.Literal(version.migrating_to)} .")
    return (
        f"DELETE WHERE {{ GRAPH <{STORE_GRAPH}> {{ {node} ?p ?o }} }} ;\n"
        f"INSERT DATA {{ GRAPH <{STORE_GRAPH}> {{\n" + "\n".join(statements) + "\n} }"
    )


def write(store: Store, version: StoreVersion) -> None:
    store.update(write_text(version))
