"""The GraphQL schema: the domain types assembled under ``Query``, with the request limits of the settings.

Limits (read with ``getattr`` so the code runs before the settings exist):
``graphql_max_depth`` (selection depth), ``graphql_max_introspection_depth`` (below ``__schema`` / ``__type``,
which the depth limiter skips), ``graphql_max_aliases``, ``graphql_max_tokens`` (parser tokens),
``graphql_max_page_size`` (``first`` of lists). Outside ``debug`` every error that is not the request's own
fault (syntax, validation, limits, NOT_FOUND, BAD_USER_INPUT) is masked: the store's messages, queries and
paths stay on the server.
"""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.schema.config import StrawberryConfig

from threadline.errors import EngineLimit

# Import every domain module so each registers its types (resolution by rdf:type needs them all).
from threadline.graphql_api import (  # noqa: F401
    equipment,
    item,
    lot,
    operation,
    part,
    quality,
    revision,
    signature,
    supplier,
    unit,
)
from threadline.graphql_api.asof import UNMASKED, AsOf
from threadline.graphql_api.errors import GraphQLUserError
from threadline.graphql_api.execution import PlainExecutionContext
from threadline.graphql_api.limits import introspection_depth_rule
from threadline.graphql_api.query import Query

DEFAULT_MAX_DEPTH = 12
DEFAULT_MAX_INTROSPECTION_DEPTH = 15
DEFAULT_MAX_ALIASES = 30
DEFAULT_MAX_TOKENS = 5000

# Types reached only through interfaces must be listed so the schema (and the docs explorer) shows them.
TYPES: list[type] = [
    unit.SerializedUnit,
    unit.Consumption,
    lot.MaterialLot,
    lot.Receipt,
    lot.PurchaseOrder,
    lot.CertificateOfConformance,
    part.Part,
    part.BOMLine,
    revision.PartRevision,
    revision.Document,
    revision.ChangeOrder,
    quality.InspectionResult,
    quality.Characteristic,
    quality.Nonconformance,
    quality.Disposition,
    quality.CAPA,
    operation.OperationExecution,
    operation.RoutingStep,
    operation.WorkOrder,
    equipment.Equipment,
    equipment.Person,
    supplier.Supplier,
    signature.ElectronicSignature,
]


def _should_mask(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None:
        return False  # syntax, validation and limit errors describe the request, not the server
    # an engine limit is not an incident: the caller must learn that this store cannot answer, and why; nor is an
    # as-of instant the history does not cover, or as-of asked of a store that keeps no history
    return not isinstance(original, (GraphQLUserError, EngineLimit, *UNMASKED))


class Schema(strawberry.Schema):
    """Strawberry's schema, logging only the errors that are the server's (a NOT_FOUND is not an incident)."""

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        server_side = [e for e in errors if e.original_error is not None and _should_mask(e)]
        super().process_errors(server_side, execution_context)


def build_schema(settings: Any = None) -> strawberry.Schema:
    """The schema with ``settings``' limits; ``settings=None`` gives the defaults (SDL export, tests)."""
    depth = int(getattr(settings, "graphql_max_depth", DEFAULT_MAX_DEPTH))
    introspection = int(getattr(settings, "graphql_max_introspection_depth", DEFAULT_MAX_INTROSPECTION_DEPTH))
    aliases = int(getattr(settings, "graphql_max_aliases", DEFAULT_MAX_ALIASES))
    tokens = int(getattr(settings, "graphql_max_tokens", DEFAULT_MAX_TOKENS))
    # Factories, not instances: strawberry builds a fresh extension per request. The depth and alias rules are
    # built ONCE (their limiter extensions make a new rule class per request) so the validation cache can key on
    # them: parsing and validating the as-built query cost more than its store calls. Both caches are bounded
    # LRUs; the token limit is a parse option, so it is part of the parse cache's key and applies to every text.
    rules = [depth_rule(depth, None, None), introspection_depth_rule(introspection), alias_rule(aliases)]
    extensions: list[Any] = [
        lambda: AddValidationRules(rules),  # type: ignore[arg-type]  # graphql-core's ValidationRule is an ASTValidationRule at run time
        lambda: MaxTokensLimiter(max_token_count=tokens),
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
        AsOf,  # after validation, before execution: the state the operation's asOf names (graphql_api.asof)
    ]
    if not bool(getattr(settings, "debug", False)):
        extensions.append(lambda: MaskErrors(should_mask_error=_should_mask, error_message="internal error"))
    return Schema(
        query=Query,
        types=TYPES,
        extensions=extensions,
        config=StrawberryConfig(auto_camel_case=True),
        execution_context_class=PlainExecutionContext,
    )


def sdl() -> str:
    """The schema's SDL as committed in ``graphql/schema.graphql``."""
    return build_schema().as_str() + "\n"
