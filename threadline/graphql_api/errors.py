"""Errors the GraphQL API shows its users as they are, even when other errors are masked.

An identifier that names nothing is an error with code ``NOT_FOUND`` (not a ``null`` that reads like "no
data"); a list argument out of range is ``BAD_USER_INPUT``. Both subclass the project's one hierarchy;
graphql-core copies ``extensions`` from the original exception into the response.
"""

from __future__ import annotations

from typing import Any

from threadline.errors import ThreadlineError


class GraphQLUserError(ThreadlineError):
    """An error caused by the request itself: safe to show outside debug mode."""

    code = "BAD_USER_INPUT"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.extensions: dict[str, Any] = {"code": self.code, **details}


class NotFoundError(GraphQLUserError):
    """No object has the identifier the request named."""

    code = "NOT_FOUND"
    status = 404

    def __init__(self, kind: str, **identifier: str) -> None:
        said = ", ".join(f"{name} {value!r}" for name, value in identifier.items())
        super().__init__(f"no {kind} with {said}", kind=kind, identifier=identifier)
