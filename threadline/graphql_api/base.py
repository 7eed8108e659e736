"""What every object type shares: its Resource, field factories reading it, and link resolution.

Scalar fields are generated from the ontology's local names (``text("serialNumber")``) because each is one
line of mapping; links resolve through the request's loaders so they batch. ``wrap`` turns a Resource into
the GraphQL type of its rdf:type, which is how union members (``Item``) and mixed lists are resolved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import strawberry
from strawberry.types import Info

from threadline.graphql_api.resource import RDF_TYPE, Resource
from threadline.namespaces import TL

if TYPE_CHECKING:
    from threadline.graphql_api.context import GraphQLContext
    from threadline.graphql_api.loaders import Loaders

# tl: class local name -> GraphQL type class; filled by the domain modules as they are imported.
_TYPES: dict[str, type] = {}


def register(*class_locals: str) -> Callable[[type], type]:
    """Declare which ontology classes a GraphQL type shows (subclasses such as tl:WorkCenter included)."""

    def decorate(cls: type) -> type:
        for local in class_locals:
            _TYPES[local] = cls
        return cls

    return decorate


def type_for(resource: Resource) -> type | None:
    for iri in sorted(resource.types):
        cls = _TYPES.get(iri.rsplit("#", 1)[-1])
        if cls is not None:
            return cls
    return None


def wrap(resource: Resource | None, expected: type | None = None) -> Any:
    """The GraphQL object for ``resource``; ``expected`` when the link's range is known."""
    if resource is None:
        return None
    cls = expected if expected is not None else type_for(resource)
    return None if cls is None else cls(r=resource, **scalars(cls, resource))


def loaders(info: Info) -> Loaders:
    context: GraphQLContext = info.context
    return context.loaders


async def one(info: Info, iri: str | None, expected: type | None = None) -> Any:
    if iri is None:
        return None
    return wrap(await loaders(info).describe.load(iri), expected)


async def many(
    info: Info, iris: Iterable[str], expected: type | None = None, path: tuple[str, ...] | None = None
) -> list[Any]:
    """The objects of ``iris``. With ``path`` (the sub-fields under which the objects are selected; ``()`` for
    the field's own result) only the statements that selection reads are fetched, when it can tell."""
    keys = list(dict.fromkeys(iris))
    predicates = None if path is None else selected_predicates(info, path)
    if predicates is None:
        resources = await loaders(info).describe.load_many(keys)
    else:
        resources = await loaders(info).fields(predicates).load_many(keys)
    objects = [o for o in (wrap(r, expected) for r in resources) if o is not None]
    await prefetch(info, objects)
    return objects


async def inverse(info: Info, predicate_local: str, iri: str, expected: type | None = None) -> list[Any]:
    resources = await loaders(info).inverse(predicate_local).load(iri)
    objects = [o for o in (wrap(r, expected) for r in resources) if o is not None]
    await prefetch(info, objects)
    return objects


# -- forward links ---------------------------------------------------------------------------------
# A forward link (unit -> revision) is read from the statements already loaded. When a list resolver
# returns objects it *prefetches* the targets of the links its selection names, in one batch, so each
# object's link resolves synchronously: graphql-core then completes the list without one awaitable per
# object (which cost more than the store call on lists of hundreds).
def link(local: str, description: str | None = None) -> Any:
    def resolve(root: Any, info: Info) -> Any:
        iri = root.r.ref(local)
        if iri is None:
            return None
        cache = loaders(info).loaded
        if iri in cache:
            return wrap(cache[iri])
        return one(info, iri)

    return strawberry.field(resolver=resolve, description=description, metadata={"link": local})


def links(local: str, description: str | None = None) -> Any:
    """A forward link to several objects (unit -> consumed items), in IRI order."""

    def resolve(root: Any, info: Info) -> Any:
        iris = sorted(root.r.refs(local))
        cache = loaders(info).loaded
        if all(iri in cache for iri in iris):
            return [o for o in (wrap(cache[iri]) for iri in iris) if o is not None]
        return many(info, iris)

    return strawberry.field(resolver=resolve, description=description, metadata={"link": local})


_LINKS: dict[type, dict[str, str]] = {}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _links_of(cls: type) -> dict[str, str]:
    """GraphQL field name -> tl: predicate of ``cls``'s forward-link fields."""
    found = _LINKS.get(cls)
    if found is None:
        fields = cls.__strawberry_definition__.fields  # type: ignore[attr-defined]
        found = _LINKS[cls] = {
            f.graphql_name or _camel(f.python_name): f.metadata["link"]
            for f in fields
            if f.metadata and "link" in f.metadata
        }
    return found


def _selected(selections: Iterable[Any], into: set[str], connection: bool) -> None:
    for selection in selections:
        name = getattr(selection, "name", None)
        if name is None or not hasattr(selection, "arguments"):  # inline fragment or fragment spread
            _selected(getattr(selection, "selections", []), into, connection)
        elif connection and name in ("nodes", "edges", "node"):
            _selected(selection.selections, into, name == "edges")
        else:
            into.add(name)


def _field_reads() -> dict[str, set[str] | None]:
    """GraphQL field name -> predicate IRIs its value reads, over every registered type (None: unknown)."""
    if _READS:
        return _READS
    for cls in set(_TYPES.values()):
        for f in cls.__strawberry_definition__.fields:  # type: ignore[attr-defined]
            name = f.graphql_name or _camel(f.python_name)
            meta = f.metadata or {}
            if "tl" in meta:
                needs: set[str] | None = {TL + meta["tl"][1]}
            elif "link" in meta:
                needs = {TL + meta["link"]}
            elif "reads" in meta:
                needs = {TL + local for local in meta["reads"]}
            else:
                needs = None
            if name in _READS and (_READS[name] is None or needs is None):
                _READS[name] = None
            elif name in _READS:
                _READS[name] |= needs  # type: ignore[operator]
            else:
                _READS[name] = needs
    return _READS


_READS: dict[str, set[str] | None] = {}


def reads(*locals_: str) -> dict[str, Any]:
    """Field metadata of a resolver that reads only these tl: statements of its object (none: only its IRI)."""
    return {"reads": locals_}


def selected_predicates(info: Info, path: tuple[str, ...]) -> frozenset[str] | None:
    """Predicates the selection at ``path`` below the current field reads; None when a field's needs are unknown."""
    level = [s for f in info.selected_fields for s in f.selections]
    for step in path:
        names: list[Any] = []
        _walk(level, step, names)
        level = [s for f in names for s in f.selections]
    names_selected: set[str] = set()
    _selected(level, names_selected, False)
    table = _field_reads()
    out = {RDF_TYPE}
    for name in names_selected:
        if name == "__typename":
            continue
        needs = table.get(name)
        if needs is None:
            return None
        out |= needs
    return frozenset(out)


def _walk(selections: Iterable[Any], name: str, into: list[Any]) -> None:
    for selection in selections:
        if getattr(selection, "name", None) is None or not hasattr(selection, "arguments"):
            _walk(getattr(selection, "selections", []), name, into)
        elif selection.name == name:
            into.append(selection)


async def prefetch(info: Info, objects: list[Any], connection: bool = False) -> None:
    """Load, in one batch, the targets of the forward links the selection names on ``objects``."""
    if not objects:
        return
    names: set[str] = set()
    for field in info.selected_fields:
        _selected(field.selections, names, connection)
    cache = loaders(info).loaded
    wanted: list[str] = []
    for obj in objects:
        for name, local in _links_of(type(obj)).items():
            if name in names:
                wanted.extend(iri for iri in obj.r.refs(local) if iri not in cache)
    if wanted:
        await loaders(info).describe.load_many(list(dict.fromkeys(wanted)))


# -- scalar field factories ------------------------------------------------------------------------
# Scalar fields are plain data fields filled by ``wrap`` from the Resource, not resolvers: strawberry builds an
# ``Info`` object for every resolver call (about 80 us each), which dominated lists of hundreds of objects.
_READERS: dict[str, Callable[[Resource, str], Any]] = {
    "text": Resource.text,
    "texts": Resource.texts,
    "number": Resource.number,
    "integer": Resource.integer,
    "boolean": Resource.boolean,
    "timestamp": Resource.datetime,
    "day": Resource.date,
}
_SPECS: dict[type, list[tuple[str, Callable[[Resource, str], Any], str]]] = {}


def _scalar(kind: str, local: str, description: str | None) -> Any:
    if kind == "texts":
        return strawberry.field(default_factory=list, description=description, metadata={"tl": (kind, local)})
    return strawberry.field(default=None, description=description, metadata={"tl": (kind, local)})


def scalars(cls: type, resource: Resource) -> dict[str, Any]:
    """The values of ``cls``'s scalar fields read from ``resource``."""
    spec = _SPECS.get(cls)
    if spec is None:
        fields = cls.__strawberry_definition__.fields  # type: ignore[attr-defined]
        spec = _SPECS[cls] = [
            (f.python_name, _READERS[f.metadata["tl"][0]], f.metadata["tl"][1])
            for f in fields
            if f.metadata and "tl" in f.metadata
        ]
    return {name: read(resource, local) for name, read, local in spec}


def text(local: str, description: str | None = None) -> Any:
    return _scalar("text", local, description)


def texts(local: str, description: str | None = None) -> Any:
    return _scalar("texts", local, description)


def number(local: str, description: str | None = None) -> Any:
    return _scalar("number", local, description)


def integer(local: str, description: str | None = None) -> Any:
    return _scalar("integer", local, description)


def boolean(local: str, description: str | None = None) -> Any:
    return _scalar("boolean", local, description)


def timestamp(local: str, description: str | None = None) -> Any:
    return _scalar("timestamp", local, description)


def day(local: str, description: str | None = None) -> Any:
    return _scalar("day", local, description)
