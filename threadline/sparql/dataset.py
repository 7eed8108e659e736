"""Which RDF dataset a query runs on: the protocol's, else the query's own ``FROM`` / ``FROM NAMED``, else the
union of every graph; and how that dataset is limited to what a caller may read.

Why this exists: Threadline runs queries with pyoxigraph's union default graph, and pyoxigraph (0.5.13) then
ignores the query's dataset clause, as does ``oxigraph serve --union-default-graph``. SPARQL 1.1 Protocol
§2.1.4 says the protocol's ``default-graph-uri``/``named-graph-uri`` win, and otherwise the query's clause
applies. So the clause is read here and handed to the engine as an explicit dataset, the one form every
backend honours (the worker processes, ``oxigraph serve``) and the one that can be intersected with a scoped
caller's view: a graph outside the view reads as empty, never as other data.

The clause comes from rdflib's SPARQL parser (a real parse, with ``BASE`` and prefixes resolved), but only for
texts in which our lexer (``threadline.store.lexer``, which cannot be fooled by strings, IRIs or comments)
finds a bare ``FROM`` keyword: ``FROM`` can start nothing but a dataset clause, so a text without one has
none. rdflib takes over a second on our larger named queries, so it parses only the query's head (everything
up to the last dataset clause, closed by ``WHERE {}``), falling back to the whole text when the head alone
does not parse. A text with ``FROM`` that rdflib cannot parse is refused (400) rather than run on a guessed
dataset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox

from threadline.errors import QueryError
from threadline.store.lexer import Token, tokens, unescape
from threadline.store.recovery import STORED_DEFAULT, graph_term

# ``STORED_DEFAULT`` names the store's own default graph (the one ``/store?default`` writes) inside an explicit
# list of default graphs; never a graph IRI (the protocol refuses an empty IRI, a clause's IRIs are absolute).
__all__ = ["STORED_DEFAULT", "Clause", "Dataset", "clause", "graph_term", "limited", "requested"]

Graphs = list[str] | None
Dataset = tuple[Graphs, Graphs]  # (default graphs, named graphs); (None, None): the union of every graph


@dataclass(frozen=True)
class Clause:
    """A query's ``FROM`` IRIs and ``FROM NAMED`` IRIs, absolute, in the order written."""

    default: tuple[str, ...] = ()
    named: tuple[str, ...] = ()


def clause(text: str, base: str | None = None) -> Clause | None:
    """The query's dataset clause, or None when it has none."""
    plain = unescape(text)
    if "FROM" not in plain.upper():  # no such word at all: certainly no clause (microseconds, most queries)
        return None
    found = tokens(plain)
    last = max((i for i, token in enumerate(found) if token.keyword == "FROM"), default=None)
    if last is None:
        return None
    try:
        parsed = _parse(_head(plain, found, last))
    except Exception:  # the head did not parse on its own: parse the whole text (slow, but exact)
        parsed = None
    try:
        parsed = parsed if parsed is not None else _parse(text)
        from rdflib.plugins.sparql.algebra import translatePrologue

        prologue = translatePrologue(parsed[0], base)
        entries = parsed[1].get("datasetClause") or []
        default = tuple(_absolute(prologue.absolutize(e["default"])) for e in entries if "default" in e)
        named = tuple(_absolute(prologue.absolutize(e["named"])) for e in entries if "named" in e)
    except QueryError:
        raise
    except Exception as exc:  # rdflib raises pyparsing's and its own errors for what it cannot read
        _raise_engine_syntax_error(text, base)
        raise QueryError(
            f"cannot read this query's FROM/FROM NAMED clause ({exc}); without it the dataset would be guessed, "
            "so the query is refused: name the graphs with default-graph-uri/named-graph-uri instead"
        ) from exc
    return Clause(default, named) if default or named else None


def _head(text: str, found: list[Token], last: int) -> str:
    """The query up to its last dataset clause, closed by an empty ``WHERE {}``: prologue, query form and
    dataset clause are all before the ``WHERE`` group, and rdflib parses this head in milliseconds where the
    whole of a large query takes over a second (``bench/dataset_clause.py``)."""
    graph = last + 2 if last + 1 < len(found) and found[last + 1].keyword == "NAMED" else last + 1
    if graph >= len(found):
        return text
    end = found[graph].start + len(found[graph].text)
    return text[:end] + "\nWHERE {}"


def _parse(text: str) -> Any:
    from rdflib.plugins.sparql.parser import parseQuery

    from threadline.store.safety import PARSE_LOCK

    with PARSE_LOCK:  # rdflib's grammar is not thread-safe (threadline.store.safety)
        return parseQuery(text)


def requested(default: list[str], named: list[str], own: Clause | None) -> Dataset:
    """The dataset asked for: the protocol's if it names any graph, else the query's clause, else the union.

    Once a dataset is given, a part it leaves out is empty (SPARQL 1.1 §13.2: ``FROM NAMED`` alone gives an
    empty default graph; ``FROM`` alone, no named graphs), never the union.
    """
    if default or named:
        return list(default), list(named)
    if own is not None:
        return list(own.default), list(own.named)
    return None, None


def limited(wanted: Dataset, visible: list[str], *, stored_default: bool) -> Dataset:
    """``wanted`` cut down to the ``visible`` graphs; the union becomes the merge of the visible graphs, with the
    store's own default graph when the caller may read it (``stored_default``), as they may over ``/store``."""
    default, named = wanted
    allowed = set(visible)
    if default is None and named is None:
        return visible + ([STORED_DEFAULT] if stored_default else []), list(visible)
    return [g for g in default or [] if g in allowed], [g for g in named or [] if g in allowed]


def _absolute(iri: object) -> str:
    try:
        return ox.NamedNode(str(iri)).value
    except ValueError as exc:
        raise QueryError(f"FROM <{iri}> does not name a graph by an absolute IRI: {exc}") from exc


def _raise_engine_syntax_error(text: str, base: str | None) -> None:
    """If the engine itself rejects the text, its message and position are the better answer (empty store)."""
    from threadline.sparql.execution import position
    from threadline.store import sandbox

    try:  # on an empty store, and with no network (threadline.store.sandbox): the text passed the SERVICE check
        sandbox.confined(_parse_on_empty_store, text, base)
    except SyntaxError as exc:
        raise QueryError(f"malformed query: {exc}", position=position(str(exc))) from exc
    except (RuntimeError, ValueError, OSError):
        pass


def _parse_on_empty_store(text: str, base: str | None) -> None:
    """Parse (pyoxigraph has no parse-only call); the lazy result is dropped unread, on this thread."""
    ox.Store().query(text, base_iri=base)
