"""Reading a SPARQL 1.1 Protocol request: which operation, which text, which dataset.

The three ways to send a query (GET ``query=``, POST form, POST ``application/sparql-query``) and the two ways
to send an update (POST form, POST ``application/sparql-update``) are told apart here, with the errors the
W3C protocol suite expects: a repeated ``query``/``update`` parameter, a body without its media type, a body in
another charset than UTF-8, or an update sent with GET are the client's fault (400/405/415). Parameters the
protocol does not define are ignored, as it requires (SPARQLWrapper adds ``format``, ``output``, ``results``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import pyoxigraph as ox
from starlette.requests import Request

from threadline.errors import QueryError

FORM = "application/x-www-form-urlencoded"
QUERY = "application/sparql-query"
UPDATE = "application/sparql-update"


class ProtocolError(QueryError):
    """The request does not follow the SPARQL 1.1 Protocol; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Operation:
    kind: str  # "query", "update" or "none" (nothing asked: the editor page or a service description)
    text: str = ""
    default_graphs: list[str] = field(default_factory=list)
    named_graphs: list[str] = field(default_factory=list)
    using_graphs: list[str] = field(default_factory=list)
    using_named_graphs: list[str] = field(default_factory=list)
    params: dict[str, list[str]] = field(default_factory=dict)

    def first(self, name: str) -> str | None:
        values = self.params.get(name)
        return values[0] if values else None


def pairs(raw: bytes | str) -> dict[str, list[str]]:
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    out: dict[str, list[str]] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        out.setdefault(key, []).append(value)
    return out


def _media(header: str | None) -> tuple[str, str | None]:
    if not header:
        return "", None
    media, *params = (p.strip() for p in header.split(";"))
    charset = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return media.lower(), charset


async def read(request: Request) -> Operation:
    """The operation a GET or POST to the endpoint asks for."""
    url_params = pairs(request.url.query)
    params = {k: list(v) for k, v in url_params.items()}
    text_from_body: tuple[str, str] | None = None
    if request.method == "POST":
        media, charset = _media(request.headers.get("content-type"))
        body = await request.body()
        if media == FORM:
            try:
                for key, values in pairs(body).items():
                    params.setdefault(key, []).extend(values)
            except UnicodeDecodeError as exc:
                raise ProtocolError("the form body is not UTF-8") from exc
        elif media in (QUERY, UPDATE):
            if charset not in (None, "utf-8", "utf8"):
                raise ProtocolError(f"{media} bodies must be UTF-8, not {charset}", 415)
            try:
                text_from_body = ("query" if media == QUERY else "update", body.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise ProtocolError(f"the {media} body is not valid UTF-8") from exc
        else:
            raise ProtocolError(
                f"POST needs Content-Type {FORM}, {QUERY} or {UPDATE}"
                + (f", not {media}" if media else " (none was sent)"),
                415,
            )
    elif request.method not in ("GET", "HEAD"):
        raise ProtocolError(f"{request.method} is not a SPARQL Protocol method: use GET or POST", 405)

    queries, updates = params.get("query", []), params.get("update", [])
    if text_from_body is not None:
        if queries or updates:
            raise ProtocolError("send the operation either in the body or as a parameter, not both")
        kind, text = text_from_body
    elif len(queries) + len(updates) > 1:
        raise ProtocolError("exactly one query or update is allowed per request")
    elif queries:
        kind, text = "query", queries[0]
    elif updates:
        if request.method != "POST":
            raise ProtocolError("updates must be sent with POST", 405)
        kind, text = "update", updates[0]
    elif request.method == "POST":  # a service description is a GET; an empty POST is a mistake, not a request
        raise ProtocolError(f"a POST needs a query or an update: query= or update= in a form, or a {QUERY} body")
    else:
        kind, text = "none", ""
    return Operation(
        kind=kind,
        text=text,
        default_graphs=_graph_iris(params, "default-graph-uri"),
        named_graphs=_graph_iris(params, "named-graph-uri"),
        using_graphs=_graph_iris(params, "using-graph-uri"),
        using_named_graphs=_graph_iris(params, "using-named-graph-uri"),
        params=params,
    )


def _graph_iris(params: dict[str, list[str]], name: str) -> list[str]:
    """The dataset parameter's graph IRIs, refused here (400) if malformed: left to the query runner, an
    IRI like ``""`` made pyoxigraph raise outside its error handling and killed the query worker (503)."""
    values = params.get(name, [])
    for value in values:
        try:
            ox.NamedNode(value)
        except ValueError as exc:
            raise ProtocolError(f"{name} {value!r} is not an absolute IRI: {exc}") from exc
    return values
