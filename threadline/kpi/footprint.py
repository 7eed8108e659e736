"""Which graphs a materialised KPI's answer depends on, so that a reader limited to some data graphs is served
the summary exactly when it is their answer too.

Why: the summary holds each KPI's answer over the union of every graph. A token scoped to one system's graphs
used to run the plain aggregate over its explicit graph list instead — 4x the admin's plain time at 10k units,
and hundreds of times the summary's (docs/performance.md, "Scoped readers"). Yet a scoped reader's plain answer is the
admin's whenever every quad the query can match lies in graphs the reader may read.

Soundness. A KPI's answer depends only on the quads whose predicate one of its triple patterns names: a pattern
with a constant predicate (or a path over constant predicates that cannot match zero steps) matches no other
quad, and nothing else in a SELECT reads the data. So ``predicates`` reads the query with rdflib's parser and
algebra and gives up (None) on anything that could read beyond them: a variable or blank-node predicate, a
negated property set, a ``*`` or ``?`` path (a zero-length step matches every node of the graph), ``GRAPH``,
``SERVICE``, a dataset clause; and on what makes two runs of one query differ (``NOW``, ``RAND``, ``UUID``,
``STRUUID``, ``BNODE``, ``SAMPLE``, ``GROUP_CONCAT``, ``LIMIT``/``OFFSET``), since the summary is one run and
the reader's query another. Each refresh records, beside the rows and from the same consistent view of the
store, the named graphs holding at least one quad with one of those predicates (``kpi:footprint``), and
``kpi:footprintKnown`` once that set is complete: never when the store's own default graph holds such a quad
(no scoped reader may read it), nor on a remote store, whose default graph cannot be inspected apart over the
protocol. pyoxigraph counts a triple once per graph holding it both in the union and in an explicit list, so
when the footprint lies within the reader's graphs, the union and the reader's merge hold the same multiset
of matching triples, and the plain query gives the same rows on both.

The parse costs up to seconds (rdflib, ``oee-by-work-unit``), so the summary keeps its result beside the
footprint (``kpi:analysedText``, a digest of the text; ``kpi:reads``, the predicates; ``kpi:readsAnything``)
and a refresh reuses it while the text is unchanged and no write has outdated the summary: a load through the
CLI then parses nothing. The summary graph is trusted for this as for its rows (admins could write either).

At request time ``guarded_read_query`` checks that rule in the same query that reads the rows, so check and
read see one snapshot (a load landing between a separate check and the read could otherwise serve a summary
computed from a graph the reader may not read): the footprint must be known and within the reader's graphs,
the stored variables the ones expected, and, unless the caller accepts an outdated summary, the summary fresh
by the admin's rule (``threadline.kpi.FRESH_PATTERN``). Otherwise the caller runs the plain query.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox

from threadline.kpi import FRESH_PATTERN, KPI_GRAPH, SUMMARY, K, node_of
from threadline.store.recovery import STORED_DEFAULT

if TYPE_CHECKING:
    from threadline.queries import NamedQuery
    from threadline.store import Store

FOOTPRINT, KNOWN = K + "footprint", K + "footprintKnown"
DIGEST, READS, UNBOUNDED = K + "analysedText", K + "reads", K + "readsAnything"
TRUE = ox.Literal("true", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#boolean"))
# parse-tree nodes after which the answer may read more than its predicates' quads, or differ from run to run
UNSAFE = frozenset(
    {
        "GraphGraphPattern",
        "ServiceGraphPattern",
        "LimitOffsetClauses",
        "Aggregate_Sample",
        "Aggregate_GroupConcat",
        "Builtin_NOW",
        "Builtin_RAND",
        "Builtin_UUID",
        "Builtin_STRUUID",
        "Builtin_BNODE",
    }
)
MARKERS = ("__ok", "__index")  # the guarded read's own columns, taken away by ``split``


class Unbounded(Exception):
    """The query may read quads other than those of the predicates its patterns name."""


@functools.lru_cache(maxsize=32)
def predicates(text: str) -> frozenset[str] | None:
    """Every predicate the query's patterns can match, or None when the answer may depend on other quads (see the
    module's soundness argument). Cached: rdflib takes 0.2–1 s on a KPI's text, and refreshes repeat it."""
    from rdflib.plugins.sparql.algebra import translateQuery
    from rdflib.plugins.sparql.parser import parseQuery

    from threadline.store.safety import PARSE_LOCK

    try:
        with PARSE_LOCK:
            tree = parseQuery(text)
        if tree[1].name != "SelectQuery" or "datasetClause" in tree[1] or _names(tree) & UNSAFE:
            return None
        found: set[str] = set()
        _collect(translateQuery(tree).algebra, found)
        return frozenset(found)
    except Unbounded:
        return None
    except Exception:  # rdflib cannot read it: no proof, so no shortcut
        return None


def _names(node: Any) -> set[str]:
    """The names of every parse-tree node under ``node``."""
    out: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            name = getattr(item, "name", None)  # rdflib's CompValue: a dict with a name
            if name:
                out.add(name)
            stack.extend(item.values())
        elif isinstance(item, list | tuple) or type(item).__name__ == "ParseResults":
            stack.extend(item)
    return out


def _collect(node: Any, found: set[str]) -> None:
    """Add the predicates of every triple pattern under ``node``: translated ``BGP``s, and the untranslated
    ``TriplesBlock``s rdflib leaves inside ``EXISTS`` (flat lists of subject, predicate, object)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            name = getattr(item, "name", None)
            if name in ("Graph", "ServiceGraphPattern"):
                raise Unbounded(name)
            if name == "BGP":
                for triple in item["triples"]:
                    _predicate(triple[1], found)
            elif name == "TriplesBlock":
                for flat in item["triples"]:
                    if len(flat) % 3:
                        raise Unbounded("a triples block of unexpected shape")
                    for index in range(1, len(flat), 3):
                        _predicate(flat[index], found)
            stack.extend(v for k, v in item.items() if k not in ("triples", "_vars"))
        elif isinstance(item, list | tuple):
            stack.extend(item)


def _predicate(term: Any, found: set[str]) -> None:
    from rdflib import URIRef
    from rdflib.paths import AlternativePath, InvPath, MulPath, SequencePath

    if isinstance(term, URIRef):
        found.add(str(term))
    elif isinstance(term, SequencePath | AlternativePath):
        for part in term.args:
            _predicate(part, found)
    elif isinstance(term, InvPath):
        _predicate(term.arg, found)
    elif isinstance(term, MulPath) and term.mod == "+":
        _predicate(term.path, found)
    else:  # a variable, a blank node, a negated set, a zero-length step: any quad may match
        raise Unbounded(repr(term))


@dataclass(frozen=True)
class Footprint:
    """One KPI's analysis (``predicates``, None: unbounded; ``digest`` names the text it was made from) and the
    graphs holding its predicates' quads (None: not known, so no scoped reader gets the summary)."""

    digest: str
    predicates: frozenset[str] | None
    graphs: list[str] | None

    def triples(self, name: str) -> list[ox.Triple]:
        node = ox.NamedNode(node_of(name))
        out = [ox.Triple(node, ox.NamedNode(DIGEST), ox.Literal(self.digest))]
        if self.predicates is None:
            out.append(ox.Triple(node, ox.NamedNode(UNBOUNDED), TRUE))
        out += [ox.Triple(node, ox.NamedNode(READS), ox.NamedNode(p)) for p in sorted(self.predicates or ())]
        if self.graphs is not None:
            out.append(ox.Triple(node, ox.NamedNode(KNOWN), TRUE))
            out += [ox.Triple(node, ox.NamedNode(FOOTPRINT), ox.NamedNode(g)) for g in self.graphs]
        return out


def recorded(store: Store) -> bool:
    """Whether the stored summary carries footprints (one written before they existed does not)."""
    return store.ask(f"ASK {{ GRAPH <{KPI_GRAPH}> {{ ?q <{DIGEST}> ?d }} }}")


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def record(view: Store, queries: list[NamedQuery]) -> dict[str, Footprint]:
    """Per KPI, its predicates and the named graphs of ``view`` holding a quad of one of them. Two queries
    whatever the size (each graph and predicate is one index lookup), plus a parse for a KPI whose text the
    stored summary has not analysed."""
    from threadline.store import EmbeddedStore

    analysed = stored_analysis(view)
    wanted: dict[str, tuple[str, frozenset[str] | None]] = {}
    for query in queries:
        key = digest(query.text)
        known = analysed.get(query.name)
        wanted[query.name] = (key, known[1] if known and known[0] == key else predicates(query.text))
    if not isinstance(view, EmbeddedStore):  # a remote store's own default graph cannot be looked at apart
        return {name: Footprint(key, used, None) for name, (key, used) in wanted.items()}
    every = sorted(set().union(*(used for _, used in wanted.values() if used is not None)))
    pairs: set[tuple[str, str]] = set()
    in_default: set[str] = set()
    if every:
        values = " ".join(f"<{ox.NamedNode(p).value}>" for p in every)
        exists = f"VALUES ?p {{ {values} }} FILTER EXISTS {{ GRAPH ?g {{ ?s ?p ?o }} }}"
        found = view.select(f"SELECT DISTINCT ?g ?p WHERE {{ GRAPH ?g {{ }} {exists} }}")
        pairs = {(text(g), text(p)) for g, p in found.rows}
        stored = f"SELECT DISTINCT ?p WHERE {{ VALUES ?p {{ {values} }} FILTER EXISTS {{ ?s ?p ?o }} }}"
        in_default = set(view.select(stored, default_graphs=[STORED_DEFAULT]).values("p"))
    out: dict[str, Footprint] = {}
    for name, (key, used) in wanted.items():
        graphs = None if used is None or used & in_default else sorted({g for g, p in pairs if p in used})
        out[name] = Footprint(key, used, graphs)
    return out


def stored_analysis(store: Store) -> dict[str, tuple[str, frozenset[str] | None]]:
    """Per KPI, the digest of the text the stored summary analysed and its predicates (None: unbounded), so a
    new process does not parse again (rdflib: up to seconds per KPI). Only from a summary no write outdated:
    the summary graph is Threadline's own record (its rows are trusted the same way), and any write through
    SPARQL or the Graph Store Protocol marks it outdated until a refresh has replaced it."""
    rows = store.select(
        f"SELECT ?name ?digest ?p ?any WHERE {{ GRAPH <{KPI_GRAPH}> {{ <{SUMMARY}> <{K}activities> ?__n "
        f"FILTER NOT EXISTS {{ <{SUMMARY}> <{K}staleSince> ?__t }} ?q <{K}name> ?name ; <{DIGEST}> ?digest "
        f"OPTIONAL {{ ?q <{READS}> ?p }} OPTIONAL {{ ?q <{UNBOUNDED}> ?any }} }} }}"
    ).rows
    found: dict[str, tuple[str, set[str], bool]] = {}
    for name, key, predicate, unbounded in rows:
        entry = found.setdefault(text(name), (text(key), set(), False))
        if predicate is not None:
            entry[1].add(text(predicate))
        if unbounded is not None:
            found[text(name)] = (entry[0], entry[1], True)
    return {name: (key, None if unbounded else frozenset(used)) for name, (key, used, unbounded) in found.items()}


def guarded_read_query(name: str, variables: list[str], visible: list[str], *, fresh: bool) -> str:
    """A query giving the stored rows of ``name`` (as ``threadline.kpi.read_query``) with two more columns:
    ``?__ok``, true on every row when the summary answers for a reader of the ``visible`` graphs (and, with
    ``fresh``, is fresh), and ``?__index``, unbound on the one row given when there is no stored row to give.
    Run it on the union of every graph: it reads only the summary and the activity count, whoever asks."""
    node = node_of(name)
    allowed = " ".join(f"<{ox.NamedNode(g).value}>" for g in visible)
    stored = ox.Literal(" ".join(variables))
    checks = [
        f"EXISTS {{ GRAPH <{KPI_GRAPH}> {{ <{node}> <{KNOWN}> true ; <{K}variables> {stored} }} }}",
        # not ``NOT IN (…)``: pyoxigraph 0.5.13 takes ``?x NOT IN ()`` for false, which would let a reader of no
        # graph at all through; an empty VALUES block is simply no graph
        f"NOT EXISTS {{ GRAPH <{KPI_GRAPH}> {{ <{node}> <{FOOTPRINT}> ?__g }} "
        f"FILTER NOT EXISTS {{ VALUES ?__g {{ {allowed} }} }} }}",
        *([f"EXISTS {FRESH_PATTERN}"] if fresh else []),
    ]
    cells = " ".join(f"OPTIONAL {{ ?__row <{K}{v}> ?{v} }}" for v in variables)
    projection = " ".join(f"?{v}" for v in variables)
    return (
        f"SELECT ?__ok ?__index {projection} WHERE {{ BIND ({' && '.join(checks)} AS ?__ok) OPTIONAL {{ "
        f"GRAPH <{KPI_GRAPH}> {{ ?__row <{K}query> {ox.Literal(name)} ; <{K}index> ?__index . {cells} }} "
        "FILTER (?__ok) } } ORDER BY ?__index"
    )


def split(variables: list[str], rows: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]] | None:
    """The KPI's own variables and rows from a guarded read's answer, or None when the guard said no."""
    if not rows or rows[0].get("__ok") is not True:
        return None
    kept = [v for v in variables if v not in MARKERS]
    return kept, [{v: row[v] for v in kept} for row in rows if row.get("__index") is not None]


def text(term: object) -> str:
    """The lexical value of an IRI, blank node or literal read from the summary (never a quoted triple there)."""
    if isinstance(term, ox.NamedNode | ox.BlankNode | ox.Literal):
        return term.value
    raise TypeError(f"expected an IRI or a literal in the KPI summary, got {term!r}")
