"""A small SPARQL lexer: strings, IRIs, comments, variables, prefixed names, keywords and punctuation.

Two places must read SPARQL text without being fooled by quoting: the endpoint's safety checks (is ``SERVICE``
a keyword here, or a word in a string?) and parameter binding (where does the outermost group pattern start?).
Written by hand: rdflib's parser rejects syntax pyoxigraph accepts (SPARQL 1.2, some property paths) and costs
tens of milliseconds on large queries; this is the smallest thing that cannot be fooled by quoting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_WORD = re.compile(r"[A-Za-z_\u00C0-\uFFFF][A-Za-z0-9_\-.\u00B7\u00C0-\uFFFF]*")


@dataclass(frozen=True)
class Token:
    kind: str  # "word" (keyword or prefixed name), "iri", "string", "var", "punct"
    text: str
    start: int

    @property
    def keyword(self) -> str | None:
        """Upper-cased keyword, or None for prefixed names such as ``ex:SERVICE``."""
        return self.text.upper() if self.kind == "word" and ":" not in self.text else None


def unescape(text: str) -> str:
    """Decode ``\\uXXXX`` / ``\\UXXXXXXXX`` everywhere, as the SPARQL grammar says happens before parsing."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text)


def tokens(text: str) -> list[Token]:
    """Tokens of a SPARQL query or update, skipping whitespace and comments."""
    out: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch == "#":
            newline = text.find("\n", i)
            i = n if newline < 0 else newline + 1
        elif ch == "<" and (end := _iri_end(text, i)) is not None:
            out.append(Token("iri", text[i : end + 1], i))
            i = end + 1
        elif ch in "\"'":
            end = _string_end(text, i)
            out.append(Token("string", text[i:end], i))
            i = end
        elif ch in "?$" and i + 1 < n and (m := _WORD.match(text, i + 1)):
            out.append(Token("var", text[i : m.end()], i))
            i = m.end()
        elif (end := _prefixed_or_word(text, i)) is not None:
            out.append(Token("word", text[i:end], i))
            i = end
        else:
            out.append(Token("punct", ch, i))
            i += 1
    return out


def _prefixed_or_word(text: str, i: int) -> int | None:
    """End of a keyword, prefixed name (``ex:SERVICE``, ``:x``) or blank node label (``_:b``) at ``i``."""
    m = _WORD.match(text, i)
    end = m.end() if m else i
    if end < len(text) and text[end] == ":":
        local = re.match(r"[A-Za-z0-9_\-.:%\\\u00B7\u00C0-\uFFFF]*", text[end + 1 :])
        end = end + 1 + (local.end() if local else 0)
    if end == i:
        return None
    while text[end - 1] == "." and end - 1 > i:  # a name never ends with '.'; that dot ends the triple
        end -= 1
    return end


def _iri_end(text: str, start: int) -> int | None:
    j = start + 1
    while j < len(text):
        c = text[j]
        if c == ">":
            return j
        if c in ' \t\r\n{}"<|^`\\':
            return None
        j += 1
    return None


def _string_end(text: str, start: int) -> int:
    quote = text[start]
    delimiter = quote * 3 if text.startswith(quote * 3, start) else quote
    j = start + len(delimiter)
    while j < len(text):
        if text[j] == "\\":
            j += 2
            continue
        if text.startswith(delimiter, j):
            return j + len(delimiter)
        if len(delimiter) == 1 and text[j] == "\n":
            break
        j += 1
    return len(text)


def prologue_end(text: str) -> int:
    """Where the request's leading ``PREFIX``/``BASE`` declarations end (0 when it has none): operations put in
    front of a request go after them, since Oxigraph reads a prologue only at the head of a request."""
    found = tokens(text)
    index, end = 0, 0
    while index < len(found) and found[index].keyword in ("PREFIX", "BASE"):
        width = 3 if found[index].keyword == "PREFIX" else 2
        last = found[min(index + width, len(found)) - 1]
        end = last.start + len(last.text)
        index += width
    return end
