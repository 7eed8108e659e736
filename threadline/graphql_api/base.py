"""What every object type shares: its Resource, field factories reading it, and link resolution.

Scalar fields are generated from the ontology's local names (``text("serialNumber")``) because each is one
line of mapping; links resolve through the request's loaders so they batch. ``wrap`` turns a Resource into
the GraphQL type of its rdf:type, which is how union members (``Item``) and mixed lists are resolved.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

import strawberry
from strawberry.types import Info

from threadline.graphql_api.execution import NotPlain
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


def registered(class_local: str) -> type:
    """The GraphQL type showing ``tl:<class_local>`` (for modules that cannot import it without a cycle)."""
    return _TYPES[class_local]


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
    if cls is None:
        return None
    if cls not in _LAZY:
        _make_lazy(cls)
    # Not ``cls(r=...)``: the dataclass __init__ would store every scalar field's default, hiding its reader.
    obj = cls.__new__(cls)  # type: ignore[call-overload]  # cls is one of the strawberry types in _TYPES
    obj.r = resource
    return obj


def loaders(info: Info) -> Loaders:
    context: GraphQLContext = info.context
    return context.loaders


async def one(info: Info, iri: str | None, expected: type | None = None) -> Any:
    if iri is None:
        return None
    return wrap(await loaders(info).describe.load(iri), expected)


async def many(info: Info, iris: Iterable[str], expected: type | None = None) -> list[Any]:
    """The objects of ``iris``, and then what their selection links to (``prefetch``)."""
    keys = list(dict.fromkeys(iris))
    lds = loaders(info)
    if all(k in lds.loaded for k in keys):  # fetched already (primed by a trace or a prefetch): no await per key
        found = [loaded_as(lds, k, expected) for k in keys]
    else:
        found = [wrap(r, expected) for r in await lds.describe.load_many(keys)]
    objects = [o for o in found if o is not None]
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
# object (which cost more than the store call on lists of hundreds). ``metadata["plain"]`` is the same read
# without ``Info``, for the execution context's plans (``execution.py``), which skip graphql-core per field.
def loaded_object(lds: Loaders, iri: str) -> Any:
    """The object of an already loaded ``iri``, built once per request (a revision shared by 600 units
    is wrapped once, not 600 times); ``NotPlain`` when it is not loaded yet."""
    found = lds.objects.get(iri, _MISSING)
    if found is _MISSING:
        if iri not in lds.loaded:
            raise NotPlain(iri)
        found = lds.objects[iri] = wrap(lds.loaded[iri])
    return found


_MISSING = object()


def loaded_as(lds: Loaders, iri: str, expected: type | None = None) -> Any:
    """``loaded_object``, shown as ``expected`` when the field's type is known; ``NotPlain`` when not loaded."""
    if expected is None:
        return loaded_object(lds, iri)
    if iri not in lds.loaded:
        raise NotPlain(iri)
    return wrap(lds.loaded[iri], expected)


def link(local: str, description: str | None = None) -> Any:
    def plain(root: Any, context: GraphQLContext) -> Any:
        iri = root.r.ref(local)
        return None if iri is None else loaded_object(context.loaders, iri)

    def resolve(root: Any, info: Info) -> Any:
        try:
            return plain(root, info.context)
        except NotPlain:
            return one(info, root.r.ref(local))

    return strawberry.field(resolver=resolve, description=description, metadata={"link": local, "plain": plain})


def links(local: str, description: str | None = None) -> Any:
    """A forward link to several objects (unit -> consumed items), in IRI order."""

    def plain(root: Any, context: GraphQLContext) -> Any:
        objects = (loaded_object(context.loaders, iri) for iri in sorted(root.r.refs(local)))
        return [o for o in objects if o is not None]

    def resolve(root: Any, info: Info) -> Any:
        try:
            return plain(root, info.context)
        except NotPlain:
            return many(info, sorted(root.r.refs(local)))

    return strawberry.field(
        resolver=resolve, description=description, metadata={"link": local, "many": True, "plain": plain}
    )


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _selected(selections: Iterable[Any], into: set[str], connection: bool) -> None:
    for selection in selections:
        name = getattr(selection, "name", None)
        if name is None or not hasattr(selection, "arguments"):  # inline fragment or fragment spread
            _selected(getattr(selection, "selections", []), into, connection)
        elif connection and name in ("nodes", "edges", "node"):
            _selected(selection.selections, into, name == "edges")
        else:
            into.add(name)


def _type_reads(cls: type) -> dict[str, set[str] | None]:
    """GraphQL field name -> predicate IRIs its value reads on ``cls`` (None: unknown)."""
    found = _READS_OF.get(cls)
    if found is None:
        found = _READS_OF[cls] = {}
        for f in cls.__strawberry_definition__.fields:  # type: ignore[attr-defined]  # strawberry adds __strawberry_definition__ to decorated classes
            meta = f.metadata or {}
            if "tl" in meta:
                needs: set[str] | None = {TL + meta["tl"][1]}
                if meta["tl"][0] == "texts":
                    _PLURAL.add(TL + meta["tl"][1])
            elif "link" in meta:
                needs = {TL + meta["link"]}
                if meta.get("many"):
                    _PLURAL.add(TL + meta["link"])
            elif "reads" in meta:
                needs = {TL + local for local in meta["reads"]}
            else:
                needs = None
            found[f.graphql_name or _camel(f.python_name)] = needs
    return found


_READS_OF: dict[type, dict[str, set[str] | None]] = {}
_PLURAL: set[str] = set()


def plural_predicates() -> frozenset[str]:
    """Predicates some field reads several values of (``texts``, ``links``), over every type: a query fetching
    them must not give each its own OPTIONAL column, or the rows would multiply."""
    for cls in set(_TYPES.values()):
        _type_reads(cls)
    return frozenset(_PLURAL)


def reads(*locals_: str) -> dict[str, Any]:
    """Field metadata of a resolver that reads only these tl: statements of its object (none: only its IRI)."""
    return {"reads": locals_}


def selected_predicates(info: Info, path: tuple[str, ...], of: type) -> frozenset[str] | None:
    """Predicates the selection at ``path`` below the current field reads on objects of type ``of`` (``status``
    of a unit reads tl:unitStatus only; names from fragments on other types are ignored); None when a selected
    field's needs are unknown."""
    level = [s for f in info.selected_fields for s in f.selections]
    for step in path:
        names: list[Any] = []
        _walk(level, step, names)
        level = [s for f in names for s in f.selections]
    names_selected: set[str] = set()
    _selected(level, names_selected, False)
    table = _type_reads(of)
    out = {RDF_TYPE}
    for name in names_selected:
        if name == "__typename" or name not in table:
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


async def prefetch(
    info: Info,
    objects: list[Any],
    connection: bool = False,
    path: tuple[str, ...] = (),
    more: Iterable[tuple[list[Any], tuple[str, ...]]] = (),
) -> None:
    """Load, in one batch, what the selection at ``path`` names on ``objects`` that can be fetched ahead: the
    targets of forward links, and the relations of fields declaring ``metadata["prefetch"]`` (a lot's origin).
    ``more``: other (objects, path) pairs to load in the same batch. Then those fields read from memory."""
    lds = loaders(info)
    wanted: dict[str, None] = {}
    ahead: dict[Callable[[Loaders, list[str]], Awaitable[Any]], dict[str, None]] = {}
    for batch, at in ((objects, path), *more):
        if not batch:
            continue
        names = _names_at(info, at, connection)
        for obj in batch:
            for name, (local, fetch) in _ahead_of(type(obj)).items():
                if name not in names:
                    continue
                if fetch is not None:
                    ahead.setdefault(fetch, {})[obj.r.iri] = None
                else:
                    wanted.update((iri, None) for iri in obj.r.refs(local) if iri not in lds.loaded)
    waits: list[Awaitable[Any]] = [fetch(lds, list(iris)) for fetch, iris in ahead.items()]
    if wanted:
        waits.append(lds.describe.load_many(list(wanted)))
    if len(waits) == 1:
        await waits[0]
    elif waits:
        await asyncio.gather(*waits)


def _names_at(info: Info, path: tuple[str, ...], connection: bool) -> set[str]:
    """Field names selected at ``path`` below the current field, fragments flattened (cached per request: the
    same field of each of 600 objects asks the same question, and strawberry rebuilds ``selected_fields``)."""
    key = (tuple(map(id, info._raw_info.field_nodes)), path, connection)  # the nodes live as long as the request
    cache = loaders(info).selections
    names = cache.get(key)
    if names is None:
        level = list(info.selected_fields)
        for step in path:
            found: list[Any] = []
            _walk([s for f in level for s in f.selections], step, found)
            level = found
        names = cache[key] = set()
        for field in level:
            _selected(field.selections, names, connection)
    return names


def _ahead_of(cls: type) -> dict[str, tuple[str, Callable[[Loaders, list[str]], Awaitable[Any]] | None]]:
    """GraphQL field name -> (tl: predicate of a forward link, or the field's ``prefetch``) of ``cls``."""
    found = _AHEAD.get(cls)
    if found is None:
        found = _AHEAD[cls] = {}
        for f in cls.__strawberry_definition__.fields:  # type: ignore[attr-defined]  # strawberry adds __strawberry_definition__ to decorated classes
            meta = f.metadata or {}
            if "link" in meta or "prefetch" in meta:
                found[f.graphql_name or _camel(f.python_name)] = (meta.get("link", ""), meta.get("prefetch"))
    return found


_AHEAD: dict[type, dict[str, tuple[str, Callable[[Loaders, list[str]], Awaitable[Any]] | None]]] = {}


# -- scalar field factories ------------------------------------------------------------------------
# Scalar fields are plain data fields, not resolvers: strawberry builds an ``Info`` object for every resolver call
# (about 80 us each), which dominated lists of hundreds of objects. Their values are read from the Resource when
# first asked for (``_Scalar``): reading every scalar field of every object when wrapping it cost 7 of the 8 us of
# wrapping a unit, 4-5 ms of the 600 units of question 2, which select four fields each.
_READERS: dict[str, Callable[[Resource, str], Any]] = {
    "text": Resource.text,
    "texts": Resource.texts,
    "number": Resource.number,
    "integer": Resource.integer,
    "boolean": Resource.boolean,
    "timestamp": Resource.datetime,
    "day": Resource.date,
}


class _Scalar:
    """Class attribute standing for a scalar field: reads the value from the object's Resource on first access
    and keeps it in the instance (a non-data descriptor, so the instance's value wins from then on)."""

    __slots__ = ("local", "name", "read")

    def __init__(self, name: str, read: Callable[[Resource, str], Any], local: str) -> None:
        self.name, self.read, self.local = name, read, local

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:  # the class's own attribute: the dataclass default
            return None
        value = obj.__dict__[self.name] = self.read(obj.r, self.local)
        return value


_LAZY: set[type] = set()


def _make_lazy(cls: type) -> None:
    for f in cls.__strawberry_definition__.fields:  # type: ignore[attr-defined]  # strawberry adds __strawberry_definition__ to decorated classes
        if f.metadata and "tl" in f.metadata:
            kind, local = f.metadata["tl"]
            setattr(cls, f.python_name, _Scalar(f.python_name, _READERS[kind], local))
    _LAZY.add(cls)


def _scalar(kind: str, local: str, description: str | None) -> Any:
    if kind == "texts":
        return strawberry.field(default_factory=list, description=description, metadata={"tl": (kind, local)})
    return strawberry.field(default=None, description=description, metadata={"tl": (kind, local)})


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
