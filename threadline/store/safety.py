"""What a query or update may do here, decided before anything runs.

pyoxigraph executes ``SERVICE <url>`` (it will call any URL it names) and ``LOAD <url>`` with no switch to turn
either off, so both are refused before the text reaches the engine. The decision comes from a real parse, not
from tokens: a hand-written lexer read some spellings differently from pyoxigraph (``?o.SERVICE``, ``ex:a\\#``,
``"\\u0022"``) and let SERVICE through. pyoxigraph has no parse-only call, and executing to check would run the
SERVICE/LOAD being checked, so rdflib's SPARQL grammar parses the text and any ``ServiceGraphPattern`` or
``Load`` node in the tree is refused. Layers, in order:

1. A text in which ``service`` (queries) or ``service``/``load`` (updates) appears nowhere, in any case, cannot
   hold the keyword and is not parsed (rdflib costs tens of milliseconds on large texts).
2. Otherwise rdflib parses it; a SERVICE or LOAD anywhere in the tree is refused (403-like ``ForbiddenOperation``,
   answered 400). If rdflib cannot parse the text (syntax it lacks, such as SPARQL 1.2 triple terms) the text is
   refused as unverifiable: a rare false refusal, never a fetch.
3. ``threadline.store.sandbox`` runs the engine with no network, so a parser mismatch still cannot reach a URL.

``\\uXXXX`` escapes: pyoxigraph decodes them only inside strings and IRIs (``\\u0053ERVICE`` as a keyword is a
syntax error there), whereas rdflib's ``parseQuery`` decodes them everywhere first, which turns ``"\\u0022"``
into a quote that re-delimits strings. So the text given to rdflib has each escape replaced by a character
that cannot change token boundaries: the decoded character when it is an ASCII letter, digit or ``_`` (so a
would-be ``\\u0053ERVICE`` still reads as SERVICE: refused, safe side), else ``x``. Inside strings and IRIs the
replacement keeps the structure pyoxigraph sees; outside them pyoxigraph rejects the text anyway.

The small lexer (``threadline.store.lexer``) is still used for what is not a security decision: the query form
for content negotiation and where to add the protocol's ``using-graph-uri`` as ``USING`` clauses (pyoxigraph's
update API cannot take them as arguments); the final update text is checked again after those are added.

It lives with the store, beside the sandbox and the lexer, rather than with the SPARQL endpoint: it guards what
the engine runs, and the audit trail's writer (``threadline.audit.writes``), which sits below the endpoint,
checks every update it sends.
"""

from __future__ import annotations

import functools
import re
import threading
from typing import Any

from threadline.errors import QueryError
from threadline.store.lexer import Token, tokens, unescape

FORMS = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")
_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})|\\(.)")
_SAFE = re.compile(r"[A-Za-z0-9_]")
PARSE_LOCK = threading.Lock()  # pyparsing grammars hold state (packrat cache): one parse at a time, everywhere


class ForbiddenOperation(QueryError):
    """The text asks for something this endpoint never does (federation, fetching URLs)."""


class Unverifiable(QueryError):
    """The text mentions SERVICE or LOAD but the checking parser cannot read it, so it is not run."""


def query_form(text: str) -> str | None:
    """SELECT, ASK, CONSTRUCT or DESCRIBE: the first form keyword, or None when there is none."""
    for token in tokens(text):  # raw: pyoxigraph decodes escapes only inside strings and IRIs
        if token.keyword in FORMS:
            return token.keyword
    return None


def check_query(text: str) -> str:
    """Refuse federation before execution; returns the query form (for content negotiation only)."""
    _refuse(text, update=False)
    return query_form(text) or "SELECT"


def check_update(text: str) -> None:
    """Refuse updates that would make the engine call out (SERVICE in a WHERE, LOAD of a URL)."""
    _refuse(text, update=True)


def neutral(text: str) -> str:
    """``text`` as the checking parser reads it: each escape replaced so that it cannot move a token boundary.

    Escapes are read left to right in pairs, as the engine reads them (``\\\\u0022`` is a backslash and
    ``u0022``). ``\\uXXXX``/``\\UXXXXXXXX`` become the decoded character when it is an ASCII letter, digit or
    ``_``, else ``x``; ``\\"`` and ``\\'`` become ``xx`` (rdflib's grammar lacks some of those escapes, and
    inside a string or a prefixed name two letters delimit exactly as the escape does).
    """

    def replace(match: re.Match[str]) -> str:
        if match.group(3) is not None:
            return "xx" if match.group(3) in "\"'" else match.group(0)
        code = int(match.group(1) or match.group(2), 16)
        char = chr(code) if code < 0x80 else ""
        return char if _SAFE.fullmatch(char) else "x"

    return _ESCAPE.sub(replace, text)


def _refuse(text: str, *, update: bool) -> None:
    words = ("service", "load") if update else ("service",)
    folded = (text + "\n" + unescape(text)).lower()
    if not any(word in folded for word in words):
        return  # the keyword cannot be in a text that does not contain its letters
    verdict = _verdict(text, update) if len(text) <= MAX_CACHED else _verdict.__wrapped__(text, update)
    if verdict is not None:
        kind, message, position = verdict
        raise (ForbiddenOperation if kind == "forbidden" else Unverifiable)(message, position=position)


MAX_CACHED = 65_536  # longer texts are checked every time rather than held in the cache


@functools.lru_cache(maxsize=256)
def _verdict(text: str, update: bool) -> tuple[str, str, str | None] | None:
    """None, or (kind, message, position) of the refusal; cached because clients repeat texts and rdflib's
    parse costs milliseconds."""
    from pyparsing import ParseBaseException
    from rdflib.plugins.sparql.parser import Query, UpdateUnit

    view = neutral(text)
    what = "update" if update else "query"
    try:
        with PARSE_LOCK:
            tree = (UpdateUnit if update else Query).parse_string(view, parse_all=True)
    except ParseBaseException as exc:
        return (
            "unverifiable",
            f"the {what} mentions SERVICE or LOAD and could not be verified: the checking parser (rdflib) cannot "
            f"read it ({exc.msg}); SERVICE and LOAD are disabled on this endpoint, and a text that cannot be "
            "verified is not run",
            f"line {exc.lineno}, column {exc.col}",
        )
    except RecursionError:
        return ("unverifiable", f"the {what} is nested too deeply to be verified, so it is not run", None)
    found = _find(tree, {"ServiceGraphPattern", "Load"} if update else {"ServiceGraphPattern"})
    if found is None:
        return None
    service = found == "ServiceGraphPattern"
    return (
        "forbidden",
        f"{'SERVICE (federated query)' if service else 'LOAD'} is disabled on this endpoint: it would make the "
        "server fetch other URLs",
        _near(view, "service" if service else "load"),
    )


def _find(node: Any, names: set[str]) -> str | None:
    stack = [node]
    while stack:
        item = stack.pop()
        if getattr(item, "name", None) in names and isinstance(item, dict):
            return item.name  # type: ignore[attr-defined]  # rdflib's CompValue: a dict with a name
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)) or type(item).__name__ == "ParseResults":
            stack.extend(item)
    return None


def _near(text: str, word: str) -> str | None:
    """Where the keyword probably is (a hint for the caller; the decision above is the parse's)."""
    for match in re.finditer(rf"(?i)(?<![\w:?$]){word}(?![\w:])", text):
        line = text.count("\n", 0, match.start()) + 1
        column = match.start() - (text.rfind("\n", 0, match.start()) + 1) + 1
        return f"line {line}, column {column}"
    return None


def add_using(update: str, using: list[str], using_named: list[str]) -> str:
    """Apply the protocol's ``using-graph-uri`` / ``using-named-graph-uri`` to every DELETE/INSERT…WHERE.

    The protocol forbids combining them with ``USING``/``WITH`` in the text (400), as the W3C suite checks.
    """
    if not using and not using_named:
        return update
    text = update  # never unescaped: the engine must run the text that was checked
    found = tokens(text)
    if any(t.keyword in ("USING", "WITH") for t in found):
        raise QueryError("using-graph-uri/using-named-graph-uri cannot be combined with USING or WITH in the update")
    clauses = " ".join([f"USING <{_iri(g)}>" for g in using] + [f"USING NAMED <{_iri(g)}>" for g in using_named])
    depth, insert_at = 0, []
    in_modify = False
    previous: Token | None = None
    for token in found:
        if token.text == "{":
            depth += 1
        elif token.text == "}":
            depth -= 1
        elif depth == 0 and token.keyword in ("DELETE", "INSERT"):
            in_modify = True
        elif depth == 0 and token.text == ";":
            in_modify = False
        elif depth == 0 and in_modify and token.keyword == "WHERE":
            if previous is None or previous.keyword != "DELETE":  # DELETE WHERE takes no USING
                insert_at.append(token.start)
            in_modify = False
        previous = token
    for position in reversed(insert_at):
        text = f"{text[:position]}{clauses} {text[position:]}"
    return text


def _iri(value: str) -> str:
    import pyoxigraph as ox

    try:
        return ox.NamedNode(value).value
    except ValueError as exc:
        raise QueryError(f"not a valid graph IRI: {value!r}") from exc
