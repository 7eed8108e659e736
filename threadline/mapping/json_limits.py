"""Parse JSON within the input limits, turning the stdlib's own refusals into located errors.

``json.loads`` recurses once per nesting level (RecursionError near 1000 levels) and refuses integers of
more than ``sys.get_int_max_str_digits()`` digits (ValueError); neither says where. The parser decides;
this module only finds the place for the message: the first bracket past the depth limit, or the first run
of that many digits. A parsed value is then walked iteratively (an explicit stack, not recursion, so a
value exactly at the parser's limit cannot overflow us) for the configured depth and value size.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from threadline.mapping.limits import InputLimits

# JSON strings (skipped whole, escapes included) or brackets: enough to count nesting outside strings.
_STRUCTURE = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


class LimitExceeded(Exception):
    """A value breaks an input limit; ``locator`` is a JSONPath or ``line L column C``."""

    def __init__(self, message: str, locator: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.locator = locator
        self.field = field


class _LongNumber(Exception):
    def __init__(self, digits: str) -> None:
        self.digits = digits


def _parse_int(digits: str) -> int:
    if len(digits.lstrip("-")) > sys.get_int_max_str_digits():
        raise _LongNumber(digits)
    return int(digits)


def parse_json(text: str, limits: InputLimits) -> Any:
    """``json.loads`` that raises ``LimitExceeded`` (located) instead of RecursionError / ValueError."""
    try:
        value = json.loads(text, parse_int=_parse_int)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise LimitExceeded(
            f"JSON nested deeper than the limit of {limits.nesting_depth} levels",
            _deep_position(text, limits.nesting_depth),
        ) from None
    except _LongNumber as exc:
        offset = text.find(exc.digits)
        raise LimitExceeded(
            f"number of {len(exc.digits.lstrip('-'))} digits is longer than the "
            f"{sys.get_int_max_str_digits()} digits allowed",
            _position(text, offset),
            _key_before(text, offset),
        ) from None
    check_value(value, limits)
    return value


def check_value(value: Any, limits: InputLimits) -> None:
    """Refuse nesting deeper than ``limits.nesting_depth`` and strings longer than ``limits.field_chars``."""
    stack: list[tuple[Any, int, str, str | None]] = [(value, 0, "$", None)]
    while stack:
        node, depth, path, key = stack.pop()
        if isinstance(node, str):
            if len(node) > limits.field_chars:
                raise LimitExceeded(
                    f"value of {len(node)} characters is longer than the field limit of {limits.field_chars}", path, key
                )
            continue
        if not isinstance(node, dict | list):
            continue
        if depth >= limits.nesting_depth:
            raise LimitExceeded(f"JSON nested deeper than the limit of {limits.nesting_depth} levels", path, key)
        if isinstance(node, dict):
            for k, v in node.items():
                if len(k) > limits.field_chars:
                    raise LimitExceeded(f"key longer than the field limit of {limits.field_chars}", path, None)
                stack.append((v, depth + 1, f"{path}.{k}" if _PLAIN.match(k) else f"{path}[{json.dumps(k)}]", k))
        else:
            stack.extend((v, depth + 1, f"{path}[{i}]", key) for i, v in enumerate(node))


_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _deep_position(text: str, limit: int) -> str:
    depth = 0
    for match in _STRUCTURE.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                return _position(text, match.start())
        elif token in "]}":
            depth -= 1
    return "line 1 column 1"


_KEY = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:\s*\Z')


def _key_before(text: str, offset: int) -> str | None:
    """The object key the value at ``offset`` belongs to, when it directly follows one."""
    match = _KEY.search(text[max(0, offset - 200) : max(offset, 0)])
    if match is None:
        return None
    try:
        return str(json.loads(f'"{match.group(1)}"'))
    except ValueError:
        return None


def _position(text: str, offset: int) -> str:
    offset = max(offset, 0)
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"line {line} column {column}"
