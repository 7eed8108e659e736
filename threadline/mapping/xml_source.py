"""XML sources: records are lxml elements selected by an XPath 1.0 iterator.

The document streams with ``lxml.etree.iterparse`` when the iterator is a plain absolute element path
(``/a/b/c``) and no reference looks outside the record (``..``, axes, absolute paths); otherwise it is
parsed whole. References are XPath expressions evaluated with the record as context node and also bound
to the variable ``$record``, so a reference can compare other elements with the record's own values
(QIF's id references: ``//qif:CharacteristicItems/*[@id = $record/qif:CharacteristicItemId]``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from lxml import etree

from threadline.errors import MappingError
from threadline.mapping.sources import Getter, Source, memory_records, open_binary

_SIMPLE_XPATH = re.compile(r"/?(?:/[A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?)+\Z")  # /a/b or //a/b
_CHILD = re.compile(r"[A-Za-z_][\w.\-]*\Z")
# Parent / sibling steps, axes, id() and absolute paths (at the start or after an operator) leave the record.
_OUTSIDE = re.compile(r"\.\.|::|\bid\(|(?:^|[\s(\[,=|<>!+])/")


def _xml_text(value: Any) -> str:
    """XPath 1.0 ``string()`` of a result: numbers never in exponent form (``1e-07`` is no xsd:decimal)."""
    if isinstance(value, etree._Element):
        return "".join(value.itertext())
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value in (math.inf, -math.inf):
            return "Infinity" if value > 0 else "-Infinity"
        if value.is_integer():
            return str(int(value))
        # 15 significant digits (DBL_DIG, as libxml2's own string()), so 25.4 + 0.15 is "25.55".
        text = f"{value:.15g}"
        return format(Decimal(text), "f") if "e" in text else text
    return str(value)


class XmlSource(Source):
    """Records are lxml elements; the locator is ``({iterator})[n]``, n counted from 1 in document order.

    The parentheses matter: ``/a/b[2]`` is "every b that is the second b of its parent", while
    ``(/a/b)[2]`` is the second node the iterator selects, i.e. exactly this record.
    """

    def prepare(self, references: Iterable[str]) -> None:
        self._seen: dict[str, list[bool]] = {}
        self.namespaces = dict(self.spec.namespaces)
        iterator = self.spec.iterator or "/*"
        self.iterator = iterator
        self._stream = _SIMPLE_XPATH.match(iterator) is not None and not any(_OUTSIDE.search(r) for r in references)
        try:
            self._xpath = etree.XPath(iterator, namespaces=self.namespaces)
        except etree.XPathError as exc:
            raise MappingError(f"invalid XPath iterator {iterator!r}: {exc}") from exc

    def _clark(self, step: str) -> str:
        if ":" in step:
            prefix, local = step.split(":", 1)
            uri = self.namespaces.get(prefix)
            if uri is None:
                raise MappingError(f"XPath prefix {prefix!r} is not declared in the mapping")
            return f"{{{uri}}}{local}"
        return step

    def records(self) -> Iterator[tuple[Any, Any]]:
        if not isinstance(self.target, Path):
            yield from memory_records(self.target)
            return
        try:
            binary = open_binary(self.target, self.spec.compression)
        except FileNotFoundError as exc:
            raise self.error("source file not found") from exc
        with binary:
            try:
                if self._stream:
                    yield from self._iterparse(binary)
                else:
                    tree = etree.parse(binary)
                    yield from enumerate(self._xpath(tree), 1)
            except etree.XMLSyntaxError as exc:
                raise self.error(f"XML not well formed: {exc.msg}", f"line {exc.lineno}") from exc
            except etree.XPathError as exc:
                raise MappingError(f"XPath iterator {self.iterator!r} failed: {exc}") from exc

    def _iterparse(self, binary: IO[bytes]) -> Iterator[tuple[Any, Any]]:
        path = [self._clark(s) for s in self.iterator.strip("/").split("/")]
        depth = len(path)
        anywhere = self.iterator.startswith("//")  # //a/b: the path may start below the root (B2MML verb wrappers)
        n = 0
        for _event, el in etree.iterparse(binary, events=("end",), tag=path[-1], remove_blank_text=False):
            chain = []
            node = el
            while node is not None:
                chain.append(node.tag)
                node = node.getparent()
            if (chain[:depth][::-1] != path) if anywhere else (len(chain) != depth or chain[::-1] != path):
                continue
            n += 1
            yield n, el
            el.clear(keep_tail=False)
            parent = el.getparent()
            if parent is not None:
                while el.getprevious() is not None:
                    del parent[0]

    def locator(self, position: Any) -> str:
        return f"({self.iterator})[{position}]" if isinstance(position, int) else str(position)

    def getter(self, reference: str) -> Getter:
        seen = self._seen.setdefault(reference, [False])
        if _CHILD.match(reference):
            tag = reference

            def get_child(el: Any) -> list[str]:
                out = ["".join(c.itertext()) for c in el.iterchildren(tag)]
                if out:
                    seen[0] = True
                return out

            return get_child, False
        if reference.startswith("@") and _CHILD.match(reference[1:]):
            attr = reference[1:]

            def get_attr(el: Any) -> Any:
                value = el.get(attr)
                if value is not None:
                    seen[0] = True
                return value

            return get_attr, True
        try:
            xpath = etree.XPath(reference, namespaces=self.namespaces, smart_strings=False)
        except etree.XPathError as exc:
            raise MappingError(f"invalid XPath reference {reference!r}: {exc}") from exc

        def get_xpath(el: Any) -> list[str]:
            try:
                result = xpath(el, record=el)
            except etree.XPathEvalError as exc:
                raise MappingError(f"XPath reference {reference!r} failed: {exc}") from exc
            if isinstance(result, list):
                out = [_xml_text(v) for v in result]
            elif (isinstance(result, str) and result == "") or (isinstance(result, float) and result != result):
                out = []  # "" or NaN (arithmetic on an absent element): no value, like an absent element
            else:
                out = [_xml_text(result)]
            if out:
                seen[0] = True
            return out

        return get_xpath, False
