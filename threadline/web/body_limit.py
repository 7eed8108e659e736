"""ASGI middleware: refuse a request body over ``max_request_bytes`` while it streams in (413).

Starlette has no body limit: multipart uploads are spooled to temporary files whole, and ``request.body()``
reads everything into memory, before any route can look at the size. A declared ``Content-Length`` over the
limit is refused before one byte is read; a chunked body is counted as it arrives, and the first chunk past
the limit stops the request (the app sees an exception from ``receive`` and we answer 413 instead of it).
Written by hand because it is a dozen lines over the ASGI protocol and no maintained package does just this.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    """The request body passed the limit (raised inside the app's ``receive``).

    An ``HTTPException`` so that FastAPI's body parsing re-raises it as it is (it turns any other
    exception from form parsing into a 400) and the app's own handler answers 413.
    """

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, _message(max_bytes))


def _message(max_bytes: int) -> str:
    return f"request body larger than the limit of {max_bytes} bytes (THREADLINE_MAX_REQUEST_BYTES)"


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"error": _message(self.max_bytes)}).encode()  # the shape of every error (web.errors)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def install(app: Any, max_bytes: int) -> None:
    """Wrap ``app`` (outermost, so nothing reads a byte past the limit)."""
    app.add_middleware(BodyLimit, max_bytes=max_bytes)
