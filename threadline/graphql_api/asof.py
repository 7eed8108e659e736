"""``asOf`` on the root fields: the whole request reads the thread as it stood at a past instant (docs/history.md).

The argument is declared on every root field, where a reader of the schema looks for it, but it is read once per
request, before any resolver runs (``AsOf.on_execute``): one request reads one state. So the root fields of the
operation must all give the same instant, or none: a root field without it beside one with it would answer the
present next to the past, and two instants would need two states and two sets of loaders. The state
(``threadline.history.asof.open_state``) becomes the context's store, cut to the caller's graphs of that time as
the present is (``GraphQLContext.read_as_of``), with loaders of its own; it is closed when the request ends. The
answer's ``extensions.asOf`` names the change and its time. A refusal — an instant outside the history, a store
that keeps no past states — is the request's one error, carrying its code and HTTP status, and no data.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import strawberry
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    VariableNode,
)
from graphql import ExecutionResult as CoreResult
from strawberry.extensions import SchemaExtension

from threadline.errors import ThreadlineError
from threadline.graphql_api.context import GraphQLContext
from threadline.graphql_api.errors import GraphQLUserError
from threadline.history.asof import AsOfUnsupported, OutOfHistory
from threadline.history.patch import BadBound

ARGUMENT = "asOf"
DESCRIPTION = (
    "Answer as the thread stood at this instant: an xsd:dateTime with its zone, or a change id. One request reads "
    "one instant: give the same on every root field, or on none."
)

REFUSED = (OutOfHistory, BadBound)  # an instant that is none, or one the history does not cover: the caller's to fix
UNMASKED = (*REFUSED, AsOfUnsupported)  # what the caller must read as it is, outside debug mode too

InstantArgument = Annotated[str | None, strawberry.argument(name=ARGUMENT, description=DESCRIPTION)]


class AsOf(SchemaExtension):
    """Opens the state the operation asks for before execution, closes it after; names it in the extensions."""

    async def on_execute(self) -> AsyncIterator[None]:
        run = self.execution_context
        context = run.context
        opened = False
        if run.graphql_document is not None and isinstance(context, GraphQLContext):
            try:
                wanted = requested(run.graphql_document, run.operation_name, run.variables)
                if wanted is not None:
                    opened = True
                    await context.read_as_of(wanted)
            except ThreadlineError as exc:
                run.result = CoreResult(data=None, errors=[refusal(exc)])
        try:
            yield
        finally:
            if opened:
                assert isinstance(context, GraphQLContext)
                await context.close_as_of()

    def get_results(self) -> dict[str, Any]:
        instant = getattr(self.execution_context.context, "instant", None)
        if instant is None:
            return {}
        return {ARGUMENT: {"asked": instant.asked, "change": instant.sequence, "time": instant.time}}


def refusal(exc: ThreadlineError) -> GraphQLError:
    """The request's one error: its code (BAD_USER_INPUT for an instant out of history or a request that mixes
    instants, AS_OF_UNSUPPORTED for a store without history), its HTTP status and its details."""
    if isinstance(exc, GraphQLUserError):
        extensions = dict(exc.extensions)
    elif isinstance(exc, AsOfUnsupported):
        extensions = {"code": "AS_OF_UNSUPPORTED", "status": exc.status}
    elif isinstance(exc, REFUSED):
        extensions = {"code": "BAD_USER_INPUT", "status": exc.status, "argument": ARGUMENT, **exc.details()}
    else:
        raise exc  # anything else is the server's: strawberry reports it, masked
    return GraphQLError(str(exc), original_error=exc, extensions=extensions)


def requested(document: DocumentNode, operation_name: str | None, variables: dict[str, Any] | None) -> str | None:
    """The one instant the operation's root fields ask for, or None; refused when they ask for different ones or
    only some ask (introspection fields aside: they read the schema, not the thread)."""
    operation = _operation(document, operation_name)
    if operation is None:
        return None  # graphql-core reports the missing or ambiguous operation itself
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    given: dict[str, str | None] = {}
    for field in _root_fields(operation.selection_set, fragments, set()):
        if not field.name.value.startswith("__"):
            key = field.alias.value if field.alias else field.name.value
            given[key] = _value(field, operation, variables or {})
    instants = set(given.values())
    if instants <= {None}:
        return None
    if len(instants) > 1:
        shown = ", ".join(f"{name}: {value!r}" if value else f"{name}: none" for name, value in given.items())
        raise GraphQLUserError(
            f"one request reads one instant: give the same {ARGUMENT} on every root field, or on none ({shown})",
            argument=ARGUMENT,
        )
    return instants.pop()


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name is not None and o.name.value == name), None)


def _root_fields(
    selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], seen: set[str]
) -> Iterator[FieldNode]:
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _root_fields(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
            seen.add(selection.name.value)
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                yield from _root_fields(fragment.selection_set, fragments, seen)


def _value(field: FieldNode, operation: OperationDefinitionNode, variables: dict[str, Any]) -> str | None:
    """The field's ``asOf``: a literal, or a variable's value (its default when not sent). Anything but a string
    reads as none here; graphql-core then refuses the variable before any resolver runs."""
    argument = next((a for a in field.arguments or () if a.name.value == ARGUMENT), None)
    if argument is None:
        return None
    node = argument.value
    if isinstance(node, StringValueNode):
        return node.value
    if isinstance(node, VariableNode):
        name = node.name.value
        if name in variables:
            value = variables[name]
            return value if isinstance(value, str) else None
        definition = next((v for v in operation.variable_definitions or () if v.variable.name.value == name), None)
        default = definition.default_value if definition is not None else None
        return default.value if isinstance(default, StringValueNode) else None
    return None
