"""What differs between the SPARQL engines a remote store may be, so the rest of Threadline sees one behaviour.

The SPARQL 1.1 protocols leave room that engines fill differently, and each difference here was measured
against the embedded store's answers (docs/stores.md):

- Transport. Virtuoso 7.2 never answers a ``POST`` with ``Content-Type: application/sparql-query``; GET and
  form-encoded POST are answered by every engine, so those are the default (``THREADLINE_STORE_QUERY_METHOD``).
- Values. Virtuoso returns a stored ``"false"^^xsd:boolean`` as ``"0"`` and an ASK as a one-row SELECT
  (``__ASK_RETVAL``, an integer). Booleans are rewritten to their canonical form here, by value; computed
  booleans (``EXISTS``, comparisons) come back as integers there, which callers read with ``truth``.
- The union default graph. Virtuoso's holds its own system graphs (``virtrdf``, LDP, URIQA, DAV, …) unless they
  are made private on the server; a store that shows them is refused at open (``check_system_graphs``).
- Graph patterns. Virtuoso answers ``GRAPH ?g { }`` with no graph, and ``GRAPH <g> { }`` as true for any IRI:
  ``any_graph`` is the pattern that lists named graphs there.
- Partial answers. Virtuoso caps a result at ``ResultSetMaxRows`` and, past ``MaxQueryExecutionTime``, returns
  what it found so far ("anytime" queries); it says so only in response headers. Such answers are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, overload

import httpx
import pyoxigraph as ox

from threadline.errors import EngineLimit, StoreError

if TYPE_CHECKING:
    from threadline.store.base import Term

XSD = "http://www.w3.org/2001/XMLSchema#"
BOOLEAN = ox.NamedNode(XSD + "boolean")
NUMERIC = {XSD + t for t in ("integer", "decimal", "float", "double", "int", "long", "short", "byte")}
# capabilities an engine may lack, named by the queries that need them (a named query's ``needs:``)
BOUND_PATHS = "bound-paths"  # a property path (* or +) walked from a start bound by VALUES or by a join
VIRTUOSO_LIMITS = {
    BOUND_PATHS: (
        "Virtuoso 7.2 walks a SPARQL property path (* or +) from a start bound by VALUES or by a join wrongly "
        "(no rows, extra rows, or 'transitive start not given'; measured, docs/stores.md)"
    ),
}
ASK_COLUMN = "__ASK_RETVAL"
# Virtuoso answers ``GRAPH ?g { }`` with no graph and ``GRAPH <g> { }`` as true for any IRI: it needs a triple
VIRTUOSO_ANY_GRAPH = "GRAPH ?g { [] ?_anyp [] }"
SHORT_GET = 1800  # bytes of URL a GET may carry: well under the 8 KB request line most servers accept

# graph IRIs Virtuoso creates for itself (found on a fresh 7.2.5 database and after its DAV/ODS packages)
VIRTUOSO_SYSTEM_PREFIXES = (
    "http://www.openlinksw.com/",
    "http://localuriqaserver/",
    "http://www.w3.org/ns/ldp#",
    "http://www.w3.org/2002/07/owl#",
    "http://www.w3.org/2000/01/rdf-schema#",
)


class PartialAnswer(StoreError):
    """The engine cut an answer short and said so only in a header: refused rather than served as whole."""

    public = True  # names the engine's setting that cut it, which is what a client can work around


@dataclass
class Engine:
    """The behaviour of one kind of SPARQL service (``generic`` is plain SPARQL 1.1)."""

    name: str = "generic"

    @property
    def is_virtuoso(self) -> bool:
        return self.name == "virtuoso"

    @property
    def limits(self) -> dict[str, str]:
        """What this engine is known to answer wrongly, and why."""
        return VIRTUOSO_LIMITS if self.is_virtuoso else {}

    def require(self, *capabilities: str) -> None:
        """Refuse a question this engine is known to answer wrongly (``EngineLimit``, HTTP 501)."""
        for capability in capabilities:
            if capability in self.limits:
                raise EngineLimit(f"the {self.name} store cannot answer this: {self.limits[capability]}")

    def endpoints(self, base: str) -> tuple[str, str, str]:
        """Default (query, update, graph store) endpoints under ``base``."""
        if self.is_virtuoso:
            return f"{base}/sparql", f"{base}/sparql", f"{base}/sparql-graph-crud"
        return f"{base}/query", f"{base}/update", f"{base}/store"

    def check_system_graphs(self, graphs: list[str]) -> None:
        """Refuse a store whose SPARQL users see the engine's own graphs: they would be part of every answer
        over the union default graph (counts, listings, backups). Virtuoso 7.2.5's query-level exclusion
        (``DEFINE input:default-graph-exclude``) makes ``ASK { GRAPH <g> { … } }`` true for any ``g``, so the
        graphs must be private on the server (deploy/virtuoso-setup.sql)."""
        visible = [g for g in graphs if is_system_graph(g)]
        if visible:
            raise StoreError(
                f"the {self.name} store shows its own system graphs to SPARQL users ({', '.join(visible[:4])}"
                f"{' …' if len(visible) > 4 else ''}): they would appear in every answer over the whole thread. "
                "Make them private by running deploy/virtuoso-setup.sql with isql as dba (docs/stores.md)"
            )

    def check_whole(self, response: httpx.Response) -> None:
        """Refuse an answer the engine marked as partial."""
        state = response.headers.get("x-sql-state")
        if state:
            message = response.headers.get("x-sql-message", "")
            raise PartialAnswer(
                f"the {self.name} store returned a partial answer ({state} {message}): its own time limit "
                "(MaxQueryExecutionTime) cut the query short; raise that limit or narrow the query"
            )
        if response.headers.get("x-sparql-maxrows"):
            raise PartialAnswer(
                f"the {self.name} store cut the answer at {response.headers['x-sparql-maxrows']} rows "
                "(its ResultSetMaxRows setting): raise that limit in virtuoso.ini or page with LIMIT/OFFSET"
            )


def detect(client: httpx.Client, base: str) -> str:
    """The engine behind ``base``, from the ``Server`` header of one cheap request (``generic`` if unsure)."""
    try:
        response = client.get(base + "/", timeout=10)
    except httpx.HTTPError:
        return "generic"
    return "virtuoso" if response.headers.get("server", "").lower().startswith("virtuoso") else "generic"


def is_system_graph(graph: str) -> bool:
    return graph.startswith(VIRTUOSO_SYSTEM_PREFIXES) or "/DAV/" in graph


DATETIME = ox.NamedNode("http://www.w3.org/2001/XMLSchema#dateTime")
# a fraction that ends in a zero: not the canonical form (XSD 1.1 §3.3.7.2: no trailing zeros)
_PADDED_FRACTION = re.compile(r"(?P<head>[^.]*T\d\d:\d\d:\d\d)\.(?P<fraction>\d*0)(?P<zone>Z|[+-]\d\d:\d\d)?")


@overload
def canonical(term: Term) -> Term: ...
@overload
def canonical(term: None) -> None: ...
@overload
def canonical(term: Term | None) -> Term | None: ...
def canonical(term: Term | None) -> Term | None:
    """Booleans and dateTimes in their canonical lexical form, any other term as it is: Virtuoso gives a stored
    ``"false"`` back as ``"0"`` and pads fractional seconds to three digits (``.12`` as ``.120``), and what
    Threadline hashed (audit entries, signed records) must read back exactly as it was written."""
    if isinstance(term, ox.Literal) and term.datatype == BOOLEAN and term.value in ("0", "1"):
        return ox.Literal("true" if term.value == "1" else "false", datatype=BOOLEAN)
    if isinstance(term, ox.Literal) and term.datatype == DATETIME:
        match = _PADDED_FRACTION.fullmatch(term.value)
        if match:
            fraction = match["fraction"].rstrip("0")
            text = match["head"] + (f".{fraction}" if fraction else "") + (match["zone"] or "")
            return ox.Literal(text, datatype=DATETIME)
    return term


def ask_value(names: list[str], rows: list[tuple[Term | None, ...]]) -> bool | None:
    """The boolean of an ASK that came back SELECT-shaped (one ``__ASK_RETVAL`` column), else None."""
    if names != [ASK_COLUMN]:
        return None
    return bool(rows) and truth(rows[0][0])


def truth(term: Term | None) -> bool:
    """A term's effective boolean value (SPARQL 1.1 §17.2.2), read by value, never by lexical form: a boolean
    is true for ``"true"``/``"1"``; a number (how Virtuoso returns ``EXISTS`` and comparisons) when not zero."""
    if not isinstance(term, ox.Literal):
        return term is not None
    datatype = term.datatype.value
    if datatype == BOOLEAN.value:
        return term.value.strip() in ("true", "1")
    if datatype in NUMERIC:
        try:
            return float(term.value) != 0.0
        except ValueError:
            return False
    return term.value != ""
