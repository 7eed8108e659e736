"""A depth limit for introspection, which strawberry's depth limiter skips.

``QueryDepthLimiter`` stops counting at every field whose name starts with ``__``, so
``{ __schema { types { fields { type { ofType { ofType … } } } } } }`` is answered at any depth, and each
level multiplies the work by the size of the schema. This rule counts the levels *below* ``__schema`` and
``__type`` (fragments expanded, each at most once per path) and refuses a document deeper than
``graphql_max_introspection_depth``. GraphiQL's own introspection query is 15 levels deep (its ``TypeRef``
nests nine ``ofType``); ordinary selections stay under ``graphql_max_depth``, which this rule does not touch.
"""

from __future__ import annotations

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)

ROOTS = frozenset({"__schema", "__type"})


def introspection_depth_rule(max_depth: int) -> type[ValidationRule]:
    """A validation rule class refusing introspection selections nested deeper than ``max_depth``."""

    class IntrospectionDepth(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            fragments = {d.name.value: d for d in context.document.definitions if isinstance(d, FragmentDefinitionNode)}
            for definition in context.document.definitions:
                if isinstance(definition, OperationDefinitionNode):
                    depth = _deepest(definition.selection_set, fragments, None, frozenset(), max_depth)
                    if depth > max_depth:
                        name = definition.name.value if definition.name else "anonymous"
                        context.report_error(
                            GraphQLError(f"'{name}' exceeds maximum introspection depth of {max_depth}", [definition])
                        )

    return IntrospectionDepth


def _deepest(
    selections: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    depth: int | None,
    visited: frozenset[str],
    limit: int,
) -> int:
    """Deepest level reached below an introspection root (``depth`` is None above any root).

    Stops descending once past ``limit``: the answer is then "too deep", however much deeper it goes.
    """
    if selections is None or (depth is not None and depth > limit):
        return depth or 0
    deepest = depth or 0
    for node in selections.selections:
        if isinstance(node, FieldNode):
            below = (1 if node.name.value in ROOTS else None) if depth is None else depth + 1
            if below is None:
                deepest = max(deepest, _deepest(node.selection_set, fragments, None, visited, limit))
            else:
                deepest = max(deepest, below, _deepest(node.selection_set, fragments, below, visited, limit))
        elif isinstance(node, InlineFragmentNode):
            deepest = max(deepest, _deepest(node.selection_set, fragments, depth, visited, limit))
        elif isinstance(node, FragmentSpreadNode):
            name = node.name.value
            if name in visited or name not in fragments:
                continue
            deepest = max(deepest, _deepest(fragments[name].selection_set, fragments, depth, visited | {name}, limit))
    return deepest
