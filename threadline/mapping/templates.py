"""RML templates: ``"https://x/{a}/{b}"`` split into literal text and references, and value-to-text rules."""

from __future__ import annotations

from typing import Any

from threadline.errors import MappingError


def parse_template(template: str) -> list[tuple[bool, str]]:
    """Split a template into ``(is_reference, text)`` parts; ``\\{``, ``\\}`` and ``\\\\`` are escapes."""
    parts: list[tuple[bool, str]] = []
    buf: list[str] = []
    in_ref = False
    i = 0
    while i < len(template):
        ch = template[i]
        if ch == "\\":
            if i + 1 >= len(template) or template[i + 1] not in "{}\\":
                raise MappingError(f"template {template!r}: invalid escape at position {i}")
            buf.append(template[i + 1])
            i += 2
            continue
        if ch == "{":
            if in_ref:
                raise MappingError(f"template {template!r}: nested '{{' at position {i}")
            parts.append((False, "".join(buf)))
            buf, in_ref = [], True
        elif ch == "}":
            if not in_ref:
                raise MappingError(f"template {template!r}: unmatched '}}' at position {i}")
            if not buf:
                raise MappingError(f"template {template!r}: empty reference")
            parts.append((True, "".join(buf)))
            buf, in_ref = [], False
        else:
            buf.append(ch)
        i += 1
    if in_ref:
        raise MappingError(f"template {template!r}: unclosed '{{'")
    parts.append((False, "".join(buf)))
    return [p for p in parts if p[0] or p[1]]


def to_text(value: Any) -> str:
    if value.__class__ is str:
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)
