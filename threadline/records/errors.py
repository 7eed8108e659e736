"""The records' refusals: a record of nothing the thread holds (404), a release while exceptions remain (409)."""

from __future__ import annotations

from typing import Any

from threadline.errors import NotFound, ThreadlineError


class RecordNotFound(NotFound):
    """No unit, lot or part revision of that identifier: the message names what was asked for."""


class ReleaseBlocked(ThreadlineError):
    """A record with open exceptions cannot be released; the answer lists them (HTTP 409: the record's state,
    not the request, must change first)."""

    status = 409

    def __init__(self, message: str, exceptions: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.exceptions = exceptions

    def details(self) -> dict[str, Any]:
        return {"exceptions": self.exceptions}
