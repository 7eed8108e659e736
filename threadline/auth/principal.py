"""Who is asking: a token's role and graph scopes, or the anonymous reader.

Scopes limit which named graphs a token's holder may read or write. A scope is a graph IRI (that graph
only) or an IRI ending in ``*`` (every graph whose IRI starts with the rest), e.g.
``https://w3id.org/threadline/graph/batch/erp/*``. No scopes means every data graph.

The system graphs are governed by role, never by scope: the security graph (token hashes and metadata) and
the store's version record (``graph/store``) and the writer leases of a shared store (``graph/lease``) are for
``admin`` only; the audit graph, its guards and the archive of replaced statements for ``compliance`` (and so
admin).
Every read path must hand the store only the graphs ``may_read_graph`` allows (``visible_graphs``): the union
default graph otherwise shows all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyoxigraph as ox

from threadline.auth.roles import AuthError, grants
from threadline.namespaces import system_role


def check_scope(scope: str) -> str:
    """A valid scope (an absolute IRI, optionally ending in ``*``), or AuthError naming it."""
    scope = (scope or "").strip()
    iri = scope[:-1] if scope.endswith("*") else scope
    try:
        ox.NamedNode(iri)
    except ValueError as exc:
        raise AuthError(f"scope {scope!r} is not an IRI or IRI prefix ending in '*'") from exc
    if ":" not in iri:
        raise AuthError(f"scope {scope!r} is not an absolute IRI")
    return scope


@dataclass(frozen=True)
class Principal:
    """An authenticated token holder (``token_id`` set) or the anonymous reader (``token_id`` None)."""

    token_id: str | None
    role: str
    scopes: tuple[str, ...] = ()
    description: str = ""

    @property
    def anonymous(self) -> bool:
        return self.token_id is None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def actor(self) -> str:
        """How the audit trail names this principal."""
        if self.token_id is None:
            return "anonymous"
        return f"token:{self.token_id}" + (f" ({self.description})" if self.description else "")

    def allows(self, role: str) -> bool:
        return grants(self.role, role)

    def in_scope(self, graph: str) -> bool:
        if not self.scopes:
            return True
        return any(graph.startswith(s[:-1]) if s.endswith("*") else graph == s for s in self.scopes)

    def may_read_graph(self, graph: str) -> bool:
        needed = system_role(graph)
        if needed is not None:
            return self.allows(needed)
        return self.in_scope(graph)

    def visible_graphs(self, graphs: list[str]) -> list[str]:
        """The subset of ``graphs`` this principal may read: pass it as ``default_graphs`` to queries."""
        return [graph for graph in graphs if self.may_read_graph(graph)]


ANONYMOUS = Principal(None, "reader", (), "anonymous")
