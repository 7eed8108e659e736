"""Logging: the standard library's, configured once per process, in text or JSON lines, with request ids.

Every module logs through ``logging.getLogger(__name__)``; ``configure`` (called once by ``threadline`` at
start, ``serve`` included) installs one handler on the root logger and routes uvicorn's loggers through it,
so a process writes one format. The request id lives in a context variable: Starlette's
``run_in_threadpool`` runs its function in a copy of the caller's context, so lines logged from worker
threads carry the id of the request that caused them.

The JSON formatter is a dozen lines over ``json.dumps``, written here rather than taken from
python-json-logger: we need no field renaming or custom encoders, and one more dependency would buy nothing.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from typing import IO, Any

REQUEST_ID: ContextVar[str | None] = ContextVar("threadline_request_id", default=None)
_SANE_ID = re.compile(r"\A[A-Za-z0-9._:\-]{1,128}\Z")
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
# the remote store's HTTP client, and uvicorn's access line (``threadline.access`` replaces it): at info both
# log raw URLs, which may hold credentials (a store URL's user:password, a ``?token=`` a client sent)
QUIET_LOGGERS = ("httpx", "httpcore", "uvicorn.access")
# attributes every LogRecord has: anything else on a record came from ``extra=`` and is an event field
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "request_id"}
_STANDARD.add("color_message")  # uvicorn's message with terminal colours


def request_id_from(header: str | None) -> str:
    """The client's ``X-Request-ID`` when it is short and made of safe characters (so it cannot forge log
    lines or bloat them), else a fresh one."""
    if header is not None and _SANE_ID.match(header):
        return header
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Stamps every record with the current request id ("-" outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get() or "-"
        return True


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """The event fields a record carries (its ``extra=``)."""
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}


def _timestamp(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, then the event's fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        entry.update(fields(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger [request id] message key=value ...``: one line per record. Continuation lines (a
    multi-line message, a traceback) are indented, so text a client sent can never pass for a record."""

    def format(self, record: logging.LogRecord) -> str:
        extra = " ".join(f"{k}={v}" for k, v in fields(record).items())
        line = (
            f"{_timestamp(record)} {record.levelname:<7} {record.name} [{getattr(record, 'request_id', '-')}] "
            f"{record.getMessage()}" + (f" {extra}" if extra else "")
        )
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line.replace("\n", "\n    ")


class StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the record (a CLI test runner swaps it)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, value: IO[str]) -> None:
        pass


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure(settings: Any, stream: IO[str] | None = None) -> logging.Handler:
    """Install Threadline's one handler on the root logger (replacing the one a previous call installed) at the
    settings' level and format; uvicorn's loggers hand their records to it. Returns the handler."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "threadline", False)]:
        root.removeHandler(old)
    handler: logging.Handler = logging.StreamHandler(stream) if stream is not None else StderrHandler()
    handler.threadline = True  # type: ignore[attr-defined]  # marks our own handler, to find it again
    handler.setFormatter(formatter(str(getattr(settings, "log_format", "text"))))
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    level = str(getattr(settings, "log_level", "info")).upper()
    root.setLevel(level)
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    return handler
