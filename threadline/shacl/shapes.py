"""Shape files and profiles: parse them (errors name file and line), group them, read their annotations.

A *profile* is one Turtle file in the shapes folder that declares itself ``a tl:ValidationProfile`` with a
``tl:profileId``; ``tl:includesProfile`` pulls in another profile's shapes (the regulatory profiles build on
``core``). Annotations on each shape (``tl:clause``, ``tl:ownerRole``, ``tl:fixHint``) travel into every
report, so a finding names the clause it serves, who owns it and how to fix it.

Files are parsed with pyoxigraph's parser because its errors carry line and column; the triples then go into
an rdflib graph, which pyshacl and the report writers need.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox
from rdflib import RDF, RDFS, Graph, Literal, URIRef
from rdflib.term import Node

from threadline.errors import ValidationError
from threadline.shacl.model import SH, TL, to_rdflib


class ShapesError(ValidationError):
    """A shapes file cannot be read: names the file and, for syntax errors, the line."""


@dataclass
class ShapesSource:
    path: str
    sha256: str


@dataclass
class Shapes:
    """A shapes graph and where it came from."""

    graph: Graph
    sources: list[ShapesSource] = field(default_factory=list)
    profile: str | None = None
    shape_profile: dict[Node, str] = field(default_factory=dict)

    def annotations(self, shape: Node) -> dict[str, str]:
        """The tl: annotations of a shape (clauses joined by "; "), plus the profile that defines it."""
        g = self.graph
        out: dict[str, str] = {}
        clauses = sorted(str(c) for c in g.objects(shape, TL.clause))
        if clauses:
            out["clause"] = "; ".join(clauses)
        for name in ("ownerRole", "fixHint"):
            value = g.value(shape, TL[name])
            if value is not None:
                out[name] = str(value)
        profile = self.shape_profile.get(shape) or self.profile
        if profile:
            out["profile"] = profile
        return out

    def label(self, shape: Node) -> str:
        """rdfs:label or sh:name; a property shape without one borrows its node shape's, plus its path."""
        own = self._own_label(shape)
        if own:
            return own
        path = self.graph.value(shape, SH.path)
        step = str(path).rsplit("#", 1)[-1].rsplit("/", 1)[-1] if isinstance(path, URIRef) else ""
        for parent in self.graph.subjects(SH.property, shape):
            label = self._own_label(parent)
            if label:
                return f"{label} ({step})" if step else label
        text = str(shape)
        return text.rsplit("#", 1)[-1].rsplit("/", 1)[-1] if isinstance(shape, URIRef) else "(anonymous shape)"

    def _own_label(self, shape: Node) -> str:
        for prop in (RDFS.label, SH.name):
            value = self.graph.value(shape, prop)
            if value is not None:
                return str(value)
        return ""

    @property
    def digest(self) -> str:
        """One hash over every source file, for the report's provenance."""
        sha = hashlib.sha256()
        for source in sorted(self.sources, key=lambda s: s.path):
            sha.update(source.sha256.encode())
        return sha.hexdigest()


def parse_rdf(path: Path, data: bytes | None = None, *, normalize: bool = False) -> Graph:
    """Parse an RDF file into rdflib; a syntax error becomes a ShapesError naming file and line."""
    try:
        rdf_format = ox.RdfFormat.from_extension(path.suffix.lstrip(".") or "ttl") or ox.RdfFormat.TURTLE
    except ValueError:
        rdf_format = ox.RdfFormat.TURTLE
    try:
        raw = data if data is not None else path.read_bytes()
    except OSError as exc:
        raise ShapesError(f"cannot read {path}: {exc.strerror or exc}") from exc
    graph = Graph()
    try:
        parser = ox.parse(raw, format=rdf_format, base_iri=path.resolve().as_uri())
        for quad in parser:
            graph.add((to_rdflib(quad.subject), to_rdflib(quad.predicate), to_rdflib(quad.object, normalize)))
    except SyntaxError as exc:
        raise ShapesError(f"{path}: {_where(exc)}") from exc
    for prefix, namespace in (getattr(parser, "prefixes", None) or {}).items():
        graph.bind(prefix, namespace, override=False)
    return graph


def _where(exc: SyntaxError) -> str:
    text = str(exc)
    # pyoxigraph: "Parser error at line 12 between columns 3 and 9: expected ..." (1-based line)
    return text.replace("Parser error at ", "syntax error at ", 1)


def load_shapes(paths: list[Path]) -> Shapes:
    """Load shapes files as one shapes graph (no profile)."""
    graph = Graph()
    sources = []
    for path in paths:
        raw = _read(path)
        part = parse_rdf(path, raw)
        graph += part
        _prefixes(part, graph)
        sources.append(ShapesSource(str(path), hashlib.sha256(raw).hexdigest()))
    _bind(graph)
    return Shapes(graph, sources)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ShapesError(f"cannot read shapes file {path}: {exc.strerror or exc}") from exc


def _prefixes(source: Graph, target: Graph) -> None:
    for prefix, namespace in source.namespace_manager.namespaces():
        target.bind(prefix, namespace, override=False)


def _bind(graph: Graph) -> None:
    graph.bind("sh", SH)
    graph.bind("tl", TL)


@dataclass
class Profile:
    id: str
    path: Path
    label: str
    includes: list[str]


def profiles(shapes_dir: Path) -> dict[str, Profile]:
    """Every profile declared in ``shapes_dir`` (one per file)."""
    found: dict[str, Profile] = {}
    for path in sorted(shapes_dir.glob("*.ttl")):
        graph = parse_rdf(path)
        for node in graph.subjects(RDF.type, TL.ValidationProfile):
            pid = str(graph.value(node, TL.profileId) or path.stem)
            includes = sorted(str(i) for i in graph.objects(node, TL.includesProfile))
            label = str(graph.value(node, RDFS.label) or pid)
            found[pid] = Profile(pid, path, label, includes)
    return found


def load_profile(shapes_dir: Path, profile: str) -> Shapes:
    """The shapes of ``profile`` and every profile it includes."""
    known = profiles(shapes_dir)
    if profile not in known:
        names = ", ".join(sorted(known)) or "none"
        raise ShapesError(f"unknown validation profile {profile!r} (profiles in {shapes_dir}: {names})")
    order: list[str] = []

    def visit(pid: str, trail: tuple[str, ...]) -> None:
        if pid in trail:
            raise ShapesError(f"profile {pid!r} includes itself via {' -> '.join(trail)}")
        if pid not in known:
            raise ShapesError(f"profile {trail[-1]!r} includes unknown profile {pid!r}")
        for inc in known[pid].includes:
            visit(inc, (*trail, pid))
        if pid not in order:
            order.append(pid)

    visit(profile, ())
    graph = Graph()
    sources: list[ShapesSource] = []
    shape_profile: dict[Node, str] = {}
    for pid in order:
        raw = _read(known[pid].path)
        part = parse_rdf(known[pid].path, raw)
        for shape in set(part.subjects(RDF.type, SH.NodeShape)) | set(part.subjects(RDF.type, SH.PropertyShape)):
            shape_profile.setdefault(shape, pid)
        graph += part
        _prefixes(part, graph)
        sources.append(ShapesSource(str(known[pid].path), hashlib.sha256(raw).hexdigest()))
    _bind(graph)
    return Shapes(graph, sources, profile, shape_profile)


def messages(graph: Graph, shape: Node) -> tuple[Literal, ...]:
    return tuple(sorted((m for m in graph.objects(shape, SH.message) if isinstance(m, Literal)), key=str))
