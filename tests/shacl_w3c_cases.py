"""Reading the W3C SHACL test suite's manifests (shared by the W3C test and anyone debugging a case)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from rdflib import RDF, Graph, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
SHT = Namespace("http://www.w3.org/ns/shacl-test#")


@dataclass
class Case:
    name: str
    file: Path
    data: Path
    shapes: Path
    manifest: Graph
    result: Node


def _path(uri: Node) -> Path:
    return Path(unquote(urlparse(str(uri)).path))


def cases(root: Path) -> list[Case]:
    out: list[Case] = []
    seen: set[Path] = set()

    def visit(manifest: Path) -> None:
        if manifest in seen:
            return
        seen.add(manifest)
        g = Graph().parse(manifest, format="turtle", publicID=manifest.resolve().as_uri())
        for include in g.objects(None, MF.include):
            visit(_path(include))
        for entries in g.objects(None, MF.entries):
            for test in Collection(g, entries):
                if (test, RDF.type, SHT.Validate) not in g:
                    continue
                action = g.value(test, MF.action)
                name = f"{manifest.parent.name}/{str(test).rsplit('/', 1)[-1]}"
                out.append(
                    Case(
                        name,
                        manifest,
                        _path(g.value(action, SHT.dataGraph)),
                        _path(g.value(action, SHT.shapesGraph)),
                        g,
                        g.value(test, MF.result),
                    )
                )

    visit(root / "manifest.ttl")
    return sorted(out, key=lambda c: c.name)


def is_uri(node: Node) -> bool:
    return isinstance(node, URIRef)
