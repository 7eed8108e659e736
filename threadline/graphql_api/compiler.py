"""The SPARQL behind the schema: fixed query shapes, values always bound as VALUES blocks.

Every query here takes a *batch* of subjects (``VALUES ?s { ... }``), so a GraphQL selection costs one
round trip per nesting level and per kind of relation, never one per object. Query texts are constants or
are assembled from constant fragments chosen by which filters are present; user input only ever travels
as bound values (``Store.select(params=...)`` or :func:`bind_inner` for a sub-select), serialised as RDF
terms by pyoxigraph, never formatted into the text.

Shapes follow the measured behaviour of pyoxigraph 0.5.13 (docs: /work/shared/notes/stack-facts.md):
property paths start from the bound end and type checks after a path are ``FILTER EXISTS``, never a
triple pattern (``?x a :Lot`` after ``:consumed+`` makes the optimiser scan every lot first).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from threadline.namespaces import CATALOG_GRAPH, PROV, PROVENANCE_GRAPH, TL
from threadline.store.params import Bindable, values_block

XSD_DATETIME = "http://www.w3.org/2001/XMLSchema#dateTime"
PREFIXES = f"PREFIX tl: <{TL}>\nPREFIX prov: <{PROV}>\n"

# Genealogy edges: a unit or lot consumed an item, or a lot came from another by a split or a merge.
LINKS = "tl:consumed|tl:splitFrom|tl:mergedFrom|tl:derivedFrom"
LOT_LINKS = "tl:splitFrom|tl:mergedFrom|tl:derivedFrom"

# Statements of a batch of subjects. DISTINCT drops the copies of a statement held by several batch graphs;
# tl:sourceRecord links are left to the provenance query (a unit has one per source file).
DESCRIBE = PREFIXES + "SELECT DISTINCT ?s ?p ?o WHERE { ?s ?p ?o FILTER(?p != tl:sourceRecord) }"


def inverse(predicate_local: str) -> str:
    """Subjects pointing at ``?o`` through one predicate, with all their statements (one trip, not two)."""
    return PREFIXES + (
        f"SELECT DISTINCT ?o ?s ?p ?v WHERE {{ ?s tl:{predicate_local} ?o . ?s ?p ?v FILTER(?p != tl:sourceRecord) }}"
    )


def lookup(key_local: str, class_local: str) -> str:
    """Objects by the identifier people use (serial, lot number, ...), with all their statements."""
    return PREFIXES + (
        f"SELECT DISTINCT ?key ?s ?p ?o WHERE {{ ?s tl:{key_local} ?key . FILTER EXISTS {{ ?s a tl:{class_local} }} "
        "?s ?p ?o FILTER(?p != tl:sourceRecord) }"
    )


REVISION_LOOKUP = PREFIXES + (
    "SELECT DISTINCT ?pn ?rl ?s ?p ?o WHERE { ?part tl:partNumber ?pn . "
    "?s tl:revisionOf ?part ; tl:revisionLabel ?rl . ?s ?p ?o FILTER(?p != tl:sourceRecord) }"
)

# Backward genealogy: every edge below each root, as (root, parent, relation, child), with the statements of
# each child (``?p ?o``), which the genealogy shows; levels are computed from the edges, so one query answers any
# depth. Fetching the children here rather than in a describe of the next level saves a round trip per trace
# (as-built record at 10k: 2.0 ms, against 0.7 ms for the edges alone plus a describe of the children).
BACKWARD = PREFIXES + (
    f"SELECT DISTINCT ?root ?a ?rel ?b ?p ?o WHERE {{ ?root ({LINKS})* ?a . ?a ?rel ?b . "
    "VALUES ?rel { tl:consumed tl:splitFrom tl:mergedFrom tl:derivedFrom } "
    "OPTIONAL { ?b ?p ?o FILTER(?p != tl:sourceRecord) } }"
)

# Forward genealogy: serialized units containing each root at any level; ``finished`` = nothing consumed it.
FORWARD = PREFIXES + (
    f"SELECT DISTINCT ?root ?u ?finished WHERE {{ ?u ({LINKS})+ ?root . "
    "FILTER EXISTS { ?u a tl:SerializedUnit } BIND(NOT EXISTS { ?parent tl:consumed ?u } AS ?finished) }"
)


def forward_with(single: Sequence[str], plural: Sequence[str]) -> str:
    """FORWARD plus the statements of each unit found through the given predicates: one trip, not two.

    At 10k units, on the 600 units of question 2 (median of 9, interleaved): 36 ms, against 55 ms for FORWARD
    and then the units' statements through ``FILTER(?p IN (...))`` (the hand-tuned query: 37 ms). Each
    single-valued predicate is an ``OPTIONAL`` column of its own, looked up from the bound unit; the multi-valued
    ones share one ``OPTIONAL ... FILTER(?p IN (...))`` so their values add rows instead of multiplying them
    (one such ``OPTIONAL`` for all the predicates took 47 ms). The predicate IRIs come from the schema's field
    metadata, never from the request.
    """
    columns = " ".join(f"?v{i}" for i in range(len(single)))
    optionals = " ".join(f"OPTIONAL {{ ?u <{p}> ?v{i} }}" for i, p in enumerate(single))
    if plural:
        listed = ", ".join(f"<{p}>" for p in plural)
        columns += " ?mp ?mo"
        optionals += f" OPTIONAL {{ ?u ?mp ?mo FILTER(?mp IN ({listed})) }}"
    return PREFIXES + (
        f"SELECT DISTINCT ?root ?u ?finished {columns} WHERE {{ ?u ({LINKS})+ ?root . "
        "FILTER EXISTS { ?u a tl:SerializedUnit } BIND(NOT EXISTS { ?parent tl:consumed ?u } AS ?finished) "
        f"{optionals} }}"
    )


# Where a lot came from: the received lots it was split or merged from, their receipts, their suppliers and the
# certificates that came with the receipts, with all the suppliers' and certificates' statements (so a lot's
# supplier or certificates cost no further round trip).
LOT_ORIGIN = PREFIXES + (
    f"SELECT DISTINCT ?lot ?src ?sup ?rcpt ?coc ?p ?o WHERE {{ ?lot ({LOT_LINKS})* ?src . "
    "{ ?src tl:suppliedBy ?sup . ?sup ?p ?o FILTER(?p != tl:sourceRecord) } UNION { ?src tl:receivedIn ?rcpt } "
    "UNION { ?src tl:receivedIn ?rcpt . ?rcpt tl:hasCertificate ?coc . ?coc ?p ?o FILTER(?p != tl:sourceRecord) } }"
)

# Where-used: BOM lines using each part, then the parts of their parent revisions, upward to the top.
WHERE_USED = PREFIXES + (
    "SELECT DISTINCT ?root ?p ?line ?rev ?pp WHERE { ?root (^tl:childPart/tl:parentRevision/tl:revisionOf)* ?p . "
    "?line tl:childPart ?p ; tl:parentRevision ?rev . ?rev tl:revisionOf ?pp }"
)

# CAPA affected units: units concerned by its NCRs, or containing a concerned lot or unit at any level.
CAPA_UNITS = PREFIXES + (
    "SELECT DISTINCT ?capa ?u WHERE { { ?capa tl:addresses ?n } UNION { ?n tl:capa ?capa } "
    f"?n tl:concernsItem ?item . ?u ({LINKS})* ?item . FILTER EXISTS {{ ?u a tl:SerializedUnit }} }}"
)

# Revision impact: units built to the revision and started at or after ``?since``, with open NCR / CAPA flags.
IMPACT = PREFIXES + (
    "SELECT ?rev ?u (MAX(?ncrOpen) AS ?openNcr) (MAX(?capaOpen) AS ?openCapa) WHERE { "
    "?u tl:builtTo ?rev ; tl:startedAt ?t . FILTER(?t >= ?since) "
    "OPTIONAL { ?n tl:concernsItem ?u ; tl:ncrStatus ?ns . "
    "  OPTIONAL { { ?n tl:capa ?c } UNION { ?c tl:addresses ?n } ?c tl:capaStatus ?cs } } "
    'BIND(COALESCE(?ns = "open", false) AS ?ncrOpen) BIND(COALESCE(?cs = "open", false) AS ?capaOpen) '
    "} GROUP BY ?rev ?u"
)

# Provenance: the source records of each subject, the batch graph holding the link and the load behind it.
PROVENANCE = PREFIXES + (
    "SELECT ?s ?g ?rec ?file ?loc ?key ?system ?act ?started ?ended ?agent ?actSystem WHERE { "
    "GRAPH ?g { ?s tl:sourceRecord ?rec } "
    "OPTIONAL { GRAPH ?g { ?rec tl:inFile ?file } } OPTIONAL { GRAPH ?g { ?rec tl:locator ?loc } } "
    "OPTIONAL { GRAPH ?g { ?rec tl:sourceKey ?key } } OPTIONAL { GRAPH ?g { ?rec tl:sourceSystem ?system } } "
    f"OPTIONAL {{ GRAPH <{CATALOG_GRAPH}> {{ ?g prov:wasGeneratedBy ?act }} "
    f"  OPTIONAL {{ GRAPH <{PROVENANCE_GRAPH}> {{ ?act prov:startedAtTime ?started }} }} "
    f"  OPTIONAL {{ GRAPH <{PROVENANCE_GRAPH}> {{ ?act prov:endedAtTime ?ended }} }} "
    f"  OPTIONAL {{ GRAPH <{PROVENANCE_GRAPH}> {{ ?act tl:sourceSystem ?actSystem }} }} "
    f"  OPTIONAL {{ GRAPH <{PROVENANCE_GRAPH}> {{ ?act prov:wasAssociatedWith/tl:name ?agent }} }} }} }}"
)


def bind_inner(template: str, params: Mapping[str, Bindable | list[Bindable]]) -> str:
    """Bind ``params`` at the ``#VALUES`` marker of a sub-select (an outer VALUES would not reach it).

    Uses the store's own ``values_block``: the values are serialised as RDF terms, never as text.
    """
    return template.replace("#VALUES", values_block(params) if params else "", 1)


def page(where: str, limit: int) -> str:
    """One page of a list (``where`` binds ``?s`` and its unique sort key ``?key``) with all statements of
    its members, in one round trip. ``limit`` is an int the caller clamped, so it is safe in the text."""
    return PREFIXES + (
        f"SELECT DISTINCT ?s ?key ?p ?o WHERE {{ {{ SELECT DISTINCT ?s ?key WHERE {{ #VALUES {where} }} "
        f"ORDER BY ?key LIMIT {int(limit)} }} ?s ?p ?o FILTER(?p != tl:sourceRecord) }}"
    )


def count(where: str) -> str:
    return PREFIXES + f"SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE {{ #VALUES {where} }}"
