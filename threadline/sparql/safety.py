"""What a query or update may do here, decided before anything runs.

pyoxigraph executes ``SERVICE <url>`` (it will call any URL it names) and ``LOAD <url>`` with no switch to turn
either off, so both are refused before the text reaches the engine. A substring search is not enough: the word
may sit in a string, an IRI, a comment or a prefixed name (``ex:SERVICE``) and be harmless, or be spelled with
SPARQL's ``\\uXXXX`` escapes, which the engine decodes before parsing. So the text is unescaped the same way and
split into tokens by a small lexer that knows SPARQL's strings, IRIs, comments, variables and prefixed names;
only a bare keyword token counts. The same tokens give the query form (for content negotiation before
execution) and the place to add the protocol's ``using-graph-uri`` / ``using-named-graph-uri`` as ``USING``
clauses, which pyoxigraph's update API cannot take as arguments.

Written by hand: rdflib's parser rejects syntax pyoxigraph accepts (SPARQL 1.2, some property paths) and costs
tens of milliseconds on large queries; the lexer is the smallest thing that cannot be fooled by quoting.
"""

from __future__ import annotations

from threadline.errors import QueryError
from threadline.store.lexer import Token, tokens, unescape

FORMS = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")


class ForbiddenOperation(QueryError):
    """The text asks for something this endpoint never does (federation, fetching URLs)."""


def query_form(text: str) -> str | None:
    """SELECT, ASK, CONSTRUCT or DESCRIBE: the first form keyword, or None when there is none."""
    for token in tokens(unescape(text)):
        if token.keyword in FORMS:
            return token.keyword
    return None


def check_query(text: str) -> str:
    """Refuse federation before execution; returns the query form."""
    text = unescape(text)
    found = tokens(text)
    _refuse(text, found, {"SERVICE"})
    form = next((t.keyword for t in found if t.keyword in FORMS), None)
    return form or "SELECT"


def check_update(text: str) -> None:
    """Refuse updates that would make the engine call out (SERVICE in a WHERE, LOAD of a URL)."""
    text = unescape(text)
    _refuse(text, tokens(text), {"SERVICE", "LOAD"})


def _refuse(text: str, found: list[Token], words: set[str]) -> None:
    for token in found:
        if token.keyword in words:
            line = text.count("\n", 0, token.start) + 1
            column = token.start - (text.rfind("\n", 0, token.start) + 1) + 1
            what = "SERVICE (federated query)" if token.keyword == "SERVICE" else "LOAD"
            raise ForbiddenOperation(
                f"{what} is disabled on this endpoint: it would make the server fetch other URLs",
                position=f"line {line}, column {column}",
            )


def add_using(update: str, using: list[str], using_named: list[str]) -> str:
    """Apply the protocol's ``using-graph-uri`` / ``using-named-graph-uri`` to every DELETE/INSERT…WHERE.

    The protocol forbids combining them with ``USING``/``WITH`` in the text (400), as the W3C suite checks.
    """
    if not using and not using_named:
        return update
    text = unescape(update)
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


def parse_update(text: str, base: str | None = None) -> None:
    """Raise QueryError with pyoxigraph's message and position if the update does not parse. pyoxigraph has no
    parse-only call, so the update runs on an empty in-memory store, where it can change nothing that stays."""
    import pyoxigraph as ox

    from threadline.store.embedded import _position

    try:
        ox.Store().update((f"BASE <{base}>\n" if base else "") + text)
    except SyntaxError as exc:
        raise QueryError(f"malformed update: {exc}", position=_position(exc)) from exc
    except (OSError, RuntimeError, ValueError):
        pass  # it parsed; what it does is checked against the real store
