"""OpenAPI path items for the three protocol routes FastAPI cannot describe from signatures.

``/sparql`` (SPARQL 1.1 Protocol), ``/store`` (SPARQL 1.1 Graph Store Protocol) and ``/graphql`` read the raw
request themselves, because their standards define the request forms (query string, form body, direct body,
JSON, GET). These tables state those forms; ``openapi_doc`` adds the error statuses every operation shares.
"""

from __future__ import annotations

from typing import Any

RESULTS = [
    "application/sparql-results+json",
    "application/sparql-results+xml",
    "text/csv",
    "text/tab-separated-values",
    "text/turtle",
    "application/n-triples",
    "application/ld+json",
    "application/rdf+xml",
    "text/html",
]
GRAPHS = ["text/turtle", "application/n-triples", "application/ld+json", "application/rdf+xml"]
TEXT = {"type": "string"}


REASON_NOTE = "Why the change is made (audit trail); the X-Threadline-Reason header, if sent, takes precedence."
# An absolute IRI, in the ASCII subset that needs no escapes (scheme, optional host and port, path, query,
# fragment): what generated clients should send. pyoxigraph accepts more (Unicode, percent escapes), which
# JSON Schema cannot state exactly, so the format is also named: `iri`.
_SEGMENT = "[A-Za-z0-9._~!$&'()*+,;=:@-]"
_QUERY = "[A-Za-z0-9._~!$&'()*+,;=:@/?-]"
IRI = {
    "type": "string",
    "format": "iri",
    "pattern": (
        f"^[A-Za-z][A-Za-z0-9+.-]*:(//[A-Za-z0-9.-]*(:[0-9]*)?|{_SEGMENT}+)?(/{_SEGMENT}+)*/?"
        f"(\\?{_QUERY}*)?(#{_QUERY}*)?$"
    ),
}
IRIS = {"type": "array", "items": IRI}
# Every dataset parameter is checked as an IRI whatever the operation; queries take default-/named-graph-uri,
# updates using-/using-named-graph-uri (an update with default-graph-uri is refused).
DATASET_FORM = {
    name: IRIS for name in ("default-graph-uri", "named-graph-uri", "using-graph-uri", "using-named-graph-uri")
}
DATASET = [
    {"name": "default-graph-uri", "in": "query", "schema": IRIS, "style": "form", "explode": True},
    {"name": "named-graph-uri", "in": "query", "schema": IRIS, "style": "form", "explode": True},
]

# a change id (N or its IRI) or an instant (history.patch.bound)
CHANGE_BOUND = {
    "anyOf": [
        {"type": "string", "pattern": "^(https://w3id[.]org/threadline/id/change/)?[0-9]{1,18}$"},
        {"type": "string", "format": "date-time"},
    ]
}
AS_OF_NOTE = (
    "Answer as the store stood at this instant (xsd:dateTime with its zone) or just after this change id "
    "(docs/history.md); the answer's `X-Threadline-Change` and `X-Threadline-As-Of` name the change and its time. "
    "An instant outside the store's history (before its first change, in the future) is refused with 400; a store "
    "that keeps no past states (memory, remote) answers 501."
)
AS_OF = [
    {"name": "asOf", "in": "query", "schema": CHANGE_BOUND, "description": AS_OF_NOTE},
    {
        "name": "X-Threadline-As-Of",
        "in": "header",
        "schema": CHANGE_BOUND,
        "description": "The same as `asOf` (both given: they must agree).",
    },
]


def _content(types: list[str]) -> dict[str, Any]:
    return {media: {"schema": {}} for media in types}


SPARQL_GET = {
    "summary": "SPARQL query (GET)",
    "description": (
        "A SPARQL 1.1 query in `query=` (reader). Without `query`: the service description, or the query editor "
        "for browsers. Results in the format the `Accept` header asks for (or `format=`); `timeout=` (seconds) "
        "lowers the time limit, and a query past it answers 503 with `X-Threadline-Error: timeout`."
    ),
    "parameters": [
        {"name": "query", "in": "query", "schema": {"type": "string", "format": "sparql-query"}},
        *DATASET,
        *AS_OF,
    ],
    "responses": {"200": {"description": "Query results", "content": _content(RESULTS)}},
    "x-threadline-errors": [400, 406, 422],
}

SPARQL_POST = {
    "summary": "SPARQL query or update (POST)",
    "description": (
        "A query as `application/sparql-query` or a form `query=`; an update (admin) as `application/sparql-update` "
        "or a form `update=`, with a reason in `X-Threadline-Reason` or `reason=` (audit trail). Dataset IRIs "
        "(`default-graph-uri`, `named-graph-uri` for queries, `using-graph-uri` for updates) go in the form or, "
        "with a direct body, in the query string. Parameters the protocol does not define are ignored."
    ),
    "parameters": [
        {"name": "reason", "in": "query", "schema": {"type": "string"}, "description": REASON_NOTE},
        *AS_OF,  # queries only: an update with asOf is refused (400)
    ],
    "requestBody": {
        "required": True,
        "content": {
            "application/sparql-query": {"schema": {"type": "string", "format": "sparql-query"}},
            "application/sparql-update": {"schema": {"type": "string", "format": "sparql-update"}},
            "application/x-www-form-urlencoded": {
                "schema": {
                    "oneOf": [
                        {
                            "type": "object",
                            "properties": {
                                "query": {"type": "string", "format": "sparql-query"},
                                "asOf": {**CHANGE_BOUND, "description": AS_OF_NOTE},
                                **DATASET_FORM,
                            },
                            "required": ["query"],
                            "not": {"required": ["update"]},  # one operation per request
                        },
                        {
                            "type": "object",
                            "properties": {"update": {"type": "string", "format": "sparql-update"}, **DATASET_FORM},
                            "required": ["update"],
                            "not": {
                                "anyOf": [
                                    {"required": ["default-graph-uri"]},
                                    {"required": ["named-graph-uri"]},
                                    {"required": ["query"]},  # one operation per request
                                ]
                            },
                        },
                    ]
                }
            },
        },
    },
    "responses": {
        "200": {"description": "Query results", "content": _content(RESULTS)},
        "204": {"description": "Update applied"},
    },
    "x-threadline-errors": [406, 415],
}

GRAPH = {"name": "graph", "in": "query", "required": True, "schema": IRI}
REASON = {"name": "reason", "in": "query", "schema": {"type": "string"}, "description": REASON_NOTE}
GRAPH_PARAMS = [GRAPH, REASON]
NAMING = (
    " The graph is named by `graph=IRI`; `?default` (instead of `graph`) addresses the default graph, and "
    "`/store/...` paths address the graph whose IRI is the request URL."
)
STORE = {
    "get": {
        "summary": "Read a graph (Graph Store Protocol)",
        "description": "The graph in the RDF format `Accept` asks for (reader)." + NAMING,
        "parameters": [GRAPH],
        "responses": {"200": {"description": "The graph", "content": _content(GRAPHS)}},
        "x-threadline-errors": [400, 404, 406],
    },
    "put": {
        "summary": "Replace a graph (integrator; reason required)",
        "description": "Reason in `X-Threadline-Reason` or `reason=` (audit trail)." + NAMING,
        "parameters": GRAPH_PARAMS,
        "requestBody": {"required": True, "content": _content(GRAPHS)},
        "responses": {"201": {"description": "Graph created"}, "204": {"description": "Graph replaced"}},
        "x-threadline-errors": [404],
    },
    "post": {
        "summary": "Add to a graph, or create one (integrator)",
        "description": "Without `graph`: a new graph is created, answered 201 with its `Location`." + NAMING,
        "parameters": [{**GRAPH, "required": False}],
        "requestBody": {"required": True, "content": _content(GRAPHS)},
        "responses": {"201": {"description": "Graph created"}, "204": {"description": "Triples added"}},
        "x-threadline-errors": [404],
    },
    "delete": {
        "summary": "Delete a graph (integrator; reason required)",
        "description": "Reason in `X-Threadline-Reason` or `reason=` (audit trail)." + NAMING,
        "parameters": GRAPH_PARAMS,
        "responses": {"204": {"description": "Graph deleted"}},
        "x-threadline-errors": [400, 404],
    },
}

GRAPHQL_BODY = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "format": "graphql"},
    },
    "required": ["query"],
}
GRAPHQL_RESULT = {
    "type": "object",
    "properties": {"data": {"type": ["object", "null"]}, "errors": {"type": "array"}},
}
GRAPHQL_NOTE = (
    "GraphQL over HTTP (reader): `query`, and optionally `variables` (JSON) and `operationName`, as GET "
    "parameters or a JSON body. A request that cannot be read answers 400 with the error body; errors of a "
    "readable one (syntax, limits) are in the result's `errors`. Every root field takes `asOf` (an instant or "
    "change id, the same on every root field of a request): the answer is the thread as it stood then, and "
    "`extensions.asOf` names the change and its time."
)
GRAPHQL = {
    "get": {
        "summary": "GraphQL query (GET), or the GraphiQL explorer for browsers",
        "description": GRAPHQL_NOTE,
        "parameters": [
            {"name": "query", "in": "query", "schema": {"type": "string", "format": "graphql"}},
        ],  # asOf is an argument of the root fields (the schema's own documentation), not a parameter
        "responses": {
            "200": {
                "description": "Result (errors, if any, in `errors`), or the explorer page",
                "content": {"application/json": {"schema": GRAPHQL_RESULT}, "text/html": {"schema": TEXT}},
            }
        },
        "x-threadline-errors": [400, 404, 405],
    },
    "post": {
        "summary": "GraphQL query",
        "description": GRAPHQL_NOTE,
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": GRAPHQL_BODY},
                "application/graphql": {"schema": {"type": "string", "format": "graphql"}},
            },
        },
        "responses": {
            "200": {
                "description": "Result (errors, if any, in `errors`)",
                "content": {"application/json": {"schema": GRAPHQL_RESULT}},
            }
        },
        "x-threadline-errors": [400, 415],
    },
}

PROTOCOL_PATHS: dict[str, dict[str, Any]] = {
    "/sparql": {"get": SPARQL_GET, "head": SPARQL_GET, "post": SPARQL_POST},
    "/store": {**STORE, "head": STORE["get"]},
    "/graphql": GRAPHQL,
}
