"""Execution: one lazy pass per logical source, hash joins, record-atomic output, lineage.

Triples maps that read the same logical source share one pass over it, so each record is parsed once
and "reject the whole record" covers every map that reads it. Referencing object maps with join
conditions are hash joins: the parent side is read once into ``{join key: [parent subject terms]}`` and
child records probe it; nothing else is held in memory. Output is buffered only per record (for
on_error="skip") and handed out in small chunks of N-Quads lines.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from threadline.errors import MappingError, SourceError
from threadline.mapping.csv_source import CsvSource
from threadline.mapping.emitter import Emitter, build_emitter, can_generate
from threadline.mapping.json_source import JsonLinesSource, JsonSource
from threadline.mapping.lineage import Lineage, lineage_writer, map_labels
from threadline.mapping.model import LogicalSource, MappingDocument, RefObjectMap, TermMap, TriplesMap
from threadline.mapping.nquads import RDF_TYPE
from threadline.mapping.sources import RecordError, Source
from threadline.mapping.terms import TermCompiler
from threadline.mapping.xml_source import XmlSource

_CHUNK = 2048
SOURCES: dict[str, type[Source]] = {
    "csv": CsvSource,
    "jsonpath": JsonSource,
    "jsonl": JsonLinesSource,
    "xpath": XmlSource,
}


@dataclass(frozen=True)
class Reject:
    file: str
    locator: str
    field: str | None
    reason: str


@dataclass
class Stats:
    records: int = 0
    triples: int = 0
    rejected: int = 0


@dataclass
class _Pom:
    predicates: list[Callable[[Any], list[str]]]
    objects: list[Callable[[Any], list[str]]]
    graphs: list[Callable[[Any], list[str]]]
    const_suffixes: list[str] | None = None


@dataclass
class _Plan:
    tmap: TriplesMap
    subject: Callable[[Any], list[str]]
    subject_graphs: list[Callable[[Any], list[str]]]
    classes: list[str]
    poms: list[_Pom]
    keys: Callable[[Any], list[str]]
    const_graph_suffixes: list[str] | None = field(default=None)
    fast: Emitter | None = None
    emitted: bool = False
    lineage: Lineage | None = None
    # True when one record can never make the same line twice through this map (see _dup_free)
    dup_free: bool = False


def _references(tm: TermMap | None) -> list[str]:
    from threadline.mapping.terms import parse_template

    if tm is None or tm.kind in ("constant", "none"):
        return []
    refs = [tm.value] if tm.kind == "reference" else [t for r, t in parse_template(tm.value) if r]
    return refs + _references(tm.datatype_map) + _references(tm.language_map)


def _child_references(tmap: TriplesMap) -> list[str]:
    refs = _references(tmap.subject)
    for g in tmap.subject_graphs:
        refs += _references(g)
    for pom in tmap.poms:
        for tm in (*pom.predicates, *pom.graphs):
            refs += _references(tm)
        for om in pom.objects:
            if isinstance(om, RefObjectMap):
                for j in om.joins:
                    refs += _references(j.child)
            else:
                refs += _references(om)
    return refs


class Run:
    """Iterating yields N-Quads lines; ``stats`` and ``rejects`` are complete once iteration ends."""

    def __init__(
        self,
        document: MappingDocument,
        *,
        base_dir: Path | None,
        sources: dict[str, Any] | None,
        on_error: Literal["fail", "skip"],
        lineage_system: str | None,
        base_iri: str | None,
        require_records: bool = False,
    ) -> None:
        if on_error not in ("fail", "skip"):
            raise MappingError(f"on_error must be 'fail' or 'skip', not {on_error!r}")
        self.document = document
        self.base_dir = base_dir if base_dir is not None else Path(document.path).parent
        self.overrides = sources or {}
        self.skip = on_error == "skip"
        self.system = lineage_system
        self.base_iri = base_iri
        self.stats = Stats()
        self.rejects: list[Reject] = []
        self._by_name = {tm.name: tm for tm in document.triples_maps}
        self._indexes: dict[tuple[object, ...], dict[tuple[str, ...], list[str]]] = {}
        self._labels = map_labels(document.triples_maps)
        self._iter: Iterator[str] | None = None
        self.require_records = require_records
        self.records_by_file: dict[str, int] = {}  # records read per source file, across every pass over it
        self._files: dict[str, tuple[Source, list[LogicalSource]]] = {}

    def __iter__(self) -> Iterator[str]:
        if self._iter is None:
            self._iter = self._lines()
        return self._iter

    # -- sources --------------------------------------------------------------------------------------------
    def _open(self, spec: LogicalSource) -> Source:
        target: Any
        if spec.location in self.overrides:
            target = self.overrides[spec.location]
        elif Path(spec.location).name in self.overrides:
            target = self.overrides[Path(spec.location).name]
        else:
            target = Path(spec.location)
            if not target.is_absolute():
                target = (Path.cwd() if spec.root == "cwd" and not self.base_dir else self.base_dir) / target
        if isinstance(target, str):
            target = Path(target)
        if isinstance(target, Path):
            name = str(target)
            cls = SOURCES[spec.formulation]
        else:
            name = spec.location
            cls = JsonSource if spec.formulation in ("jsonpath", "jsonl") else CsvSource
        return cls(spec, target, name)

    def _base(self, tmap: TriplesMap) -> str | None:
        return tmap.base_iri or self.base_iri or self.document.base_iri

    # -- compilation ------------------------------------------------------------------------------------------
    def _compile(self, tmap: TriplesMap, source: Source, compiler: TermCompiler) -> _Plan:
        subject = compiler.term(tmap.subject, "subject")
        graphs = [compiler.term(g, "graph") for g in tmap.subject_graphs]
        classes = [f"<{c}>" for c in tmap.classes]
        poms = []
        for pom in tmap.poms:
            object_fns = [
                self._join(tmap, om, source, compiler) if isinstance(om, RefObjectMap) else compiler.term(om, "object")
                for om in pom.objects
            ]
            compiled = _Pom(
                [compiler.term(p, "predicate") for p in pom.predicates],
                object_fns,
                [compiler.term(g, "graph") for g in pom.graphs],
            )
            if all(g.kind == "constant" for g in (*tmap.subject_graphs, *pom.graphs)):
                compiled.const_suffixes = _suffixes([f(None) for f in (*graphs, *compiled.graphs)])
            poms.append(compiled)
        plan = _Plan(tmap, subject, graphs, classes, poms, compiler.key_values(tmap.subject))
        if all(g.kind == "constant" for g in tmap.subject_graphs):
            plan.const_graph_suffixes = _suffixes([f(None) for f in graphs])
        single_subject = compiler.single(tmap.subject, "subject")
        if single_subject is not None and plan.const_graph_suffixes is not None and can_generate(tmap):
            fast_poms = []
            for pom, compiled in zip(tmap.poms, poms, strict=True):
                objects: list[tuple[bool, Callable[[Any], Any]]] = []
                for om, fn in zip(pom.objects, compiled.objects, strict=True):
                    single = None if isinstance(om, RefObjectMap) else compiler.single(om, "object")
                    objects.append((True, single) if single is not None else (False, fn))
                preds = [p for f in compiled.predicates for p in f(None)]
                fast_poms.append((preds, objects, compiled.const_suffixes or [" .\n"]))
            plan.fast = build_emitter(tmap, single_subject, plan.const_graph_suffixes, fast_poms)
            plan.dup_free = _dup_free(tmap, fast_poms)
        return plan

    def _join(
        self, tmap: TriplesMap, om: RefObjectMap, source: Source, compiler: TermCompiler
    ) -> Callable[[Any], list[str]]:
        parent = self._by_name.get(om.parent)
        if parent is None:
            raise MappingError(f"{self.document.path}: <{tmap.name}> refers to unknown triples map <{om.parent}>")
        if not om.joins and parent.source.key == tmap.source.key:
            parent_compiler = TermCompiler(source, self._base(parent), self.document.natural_types)
            parent_compiler._getters = compiler._getters
            return parent_compiler.term(parent.subject, "object")
        child_keys = [compiler.values(j.child) for j in om.joins]
        index = self._index(parent, tuple(j.parent for j in om.joins))
        if not child_keys:
            everything = index.get((), [])
            return lambda rec: everything

        def probe(rec: Any) -> list[str]:
            values = [fn(rec) for fn in child_keys]
            if len(values) == 1:
                hits = [index.get((v,)) for v in values[0]]
            else:
                hits = [index.get(combo) for combo in itertools.product(*values)]
            out: list[str] = []
            for h in hits:
                if h:
                    out.extend(h)
            return out if len(hits) <= 1 else list(dict.fromkeys(out))

        return probe

    def _index(self, parent: TriplesMap, parent_maps: tuple[TermMap, ...]) -> dict[tuple[str, ...], list[str]]:
        """Read the parent source once: join key -> parent subject terms (the only data held in memory)."""
        cache_key = (parent.name, parent_maps)
        cached = self._indexes.get(cache_key)
        if cached is not None:
            return cached
        source = self._open(parent.source)
        refs = _references(parent.subject)
        for tm in parent_maps:
            refs += _references(tm)
        source.prepare(refs)
        compiler = TermCompiler(source, self._base(parent), self.document.natural_types)
        subject = compiler.term(parent.subject, "subject")
        keys = [compiler.values(tm) for tm in parent_maps]
        building: dict[tuple[str, ...], dict[str, None]] = {}
        for position, rec in source.records():
            try:
                if isinstance(rec, RecordError):
                    raise rec
                subjects = subject(rec)
                if not subjects:
                    continue
                for combo in itertools.product(*[fn(rec) for fn in keys]):
                    bucket = building.setdefault(combo, {})
                    for s in subjects:
                        bucket[s] = None
            except RecordError as exc:
                if not self.skip:
                    raise self._error(source, position, exc) from None
        index = {k: list(v) for k, v in building.items()}
        self._indexes[cache_key] = index
        return index

    def _error(self, source: Source, position: Any, exc: RecordError) -> SourceError:
        return source.error(exc.message, source.locator(position), exc.field)

    # -- execution --------------------------------------------------------------------------------------------
    def _lines(self) -> Iterator[str]:
        groups: dict[tuple[object, ...], list[TriplesMap]] = {}
        for tmap in self.document.triples_maps:
            groups.setdefault(tmap.source.key, []).append(tmap)
        for tmaps in groups.values():
            yield from self._run_group(tmaps)
        if self.require_records:
            self._check_zero_records()

    def _check_zero_records(self) -> None:
        """Zero records from a file with content: the iterators match nothing in it, so it is the wrong file
        (or the wrong mapping), unless the mapping declares that the source may be empty."""
        from threadline.mapping.emptiness import has_content

        for name, count in self.records_by_file.items():
            source, specs = self._files[name]
            if count or any(spec.may_be_empty for spec in specs) or not isinstance(source.target, Path):
                continue
            if has_content(specs[0], source.target):
                iterators = ", ".join(dict.fromkeys(spec.iterator or "(whole document)" for spec in specs))
                raise source.error(
                    f"0 records: the mapping's iterator matched nothing in a non-empty file (iterator {iterators}); "
                    "is this the export the mapping reads?",
                    None,
                    None,
                )

    def _run_group(self, tmaps: list[TriplesMap]) -> Iterator[str]:
        source = self._open(tmaps[0].source)
        refs: list[str] = []
        for tmap in tmaps:
            refs += _child_references(tmap)
        source.prepare(dict.fromkeys(refs))
        self.records_by_file.setdefault(source.file_name, 0)
        self._files.setdefault(source.file_name, (source, []))[1].append(tmaps[0].source)
        plans = []
        for tmap in tmaps:
            compiler = TermCompiler(source, self._base(tmap), self.document.natural_types)
            plan = self._compile(tmap, source, compiler)
            if self.system is not None:
                plan.lineage = lineage_writer(self.system, source, self._labels[tmap.name], plan.keys)
            plans.append(plan)
        # Several maps on one record, or a map that can repeat a line, need the record's lines de-duplicated.
        dedupe = len(plans) > 1 or not plans[0].dup_free
        chunk: list[str] = []
        emit = chunk.append
        stats = self.stats
        records_before = stats.records
        skip = self.skip
        for position, rec in source.records():
            stats.records += 1
            mark = len(chunk)
            try:
                if rec.__class__ is RecordError:
                    raise rec
                for plan in plans:
                    if not plan.emitted:
                        plan.emitted = self._probe(plan, rec, position, emit, chunk)
                        continue
                    lineage = plan.lineage
                    if plan.fast is not None:
                        subject = plan.fast(rec, emit)
                        if subject is not None and lineage is not None:
                            lineage(rec, position, [subject], emit)
                        continue
                    subjects = plan.subject(rec)
                    if not subjects:
                        continue
                    self._emit(plan, rec, subjects, emit)
                    if lineage is not None:
                        lineage(rec, position, subjects, emit)
                if dedupe and len(chunk) - mark > 1:
                    block = chunk[mark:]
                    unique = dict.fromkeys(block)
                    if len(unique) != len(block):
                        chunk[mark:] = unique
            except RecordError as exc:
                error = self._error(source, position, exc)
                if not skip:
                    raise error from None
                del chunk[mark:]
                stats.rejected += 1
                self.rejects.append(Reject(error.file or "", error.locator or "", error.field, error.reason))
                continue
            if len(chunk) >= _CHUNK:
                stats.triples += len(chunk)
                yield from chunk
                chunk.clear()
        stats.triples += len(chunk)
        yield from chunk
        self.records_by_file[source.file_name] += stats.records - records_before
        if stats.records > records_before:
            self._check_dead_maps(source, plans)

    def _probe(self, plan: _Plan, rec: Any, position: Any, emit: Any, chunk: list[str]) -> bool:
        """Run one record through a map that has not produced a triple yet; True once it has."""
        before = len(chunk)
        subjects = plan.subject(rec)
        if subjects:
            self._emit(plan, rec, subjects, emit)
        produced = len(chunk) > before
        if subjects and plan.lineage is not None:
            plan.lineage(rec, position, subjects, emit)
        return produced

    def _check_dead_maps(self, source: Source, plans: list[_Plan]) -> None:
        """A map that read records but produced nothing, because its references never matched, is a typo.

        JSON and XML have no schema, so an absent key or element is an empty value in any one record (and a
        whole file may lack an optional element); only a triples map that is dead for the whole pass is
        reported, naming the references that matched nothing.
        """
        unmatched = source.unmatched()
        for plan in plans:
            if plan.emitted:
                continue
            dead = [r for r in dict.fromkeys(_child_references(plan.tmap)) if r in unmatched]
            if dead:
                raise source.error(
                    f"triples map <{plan.tmap.name}> produced no triples: reference {dead[0]!r} matched "
                    "nothing in any record",
                    source.spec.iterator,
                    dead[0],
                )

    @staticmethod
    def _emit(plan: _Plan, rec: Any, subjects: list[str], emit: Callable[[str], None]) -> None:
        gsuffixes = plan.const_graph_suffixes
        if gsuffixes is None:
            gsuffixes = _suffixes([g(rec) for g in plan.subject_graphs])
        for s in subjects:
            for c in plan.classes:
                head = s + " " + RDF_TYPE + " " + c
                for g in gsuffixes:
                    emit(head + g)
        for pom in plan.poms:
            suffixes = pom.const_suffixes
            if suffixes is None:
                suffixes = _suffixes([g(rec) for g in (*plan.subject_graphs, *pom.graphs)])
            preds = [p for fn in pom.predicates for p in fn(rec)]
            if not preds:
                continue
            for ofn in pom.objects:
                objs = ofn(rec)
                if not objs:
                    continue
                for s in subjects:
                    for p in preds:
                        head = s + " " + p + " "
                        for o in objs:
                            for g in suffixes:
                                emit(head + o + g)


def _suffixes(graph_terms: list[list[str]]) -> list[str]:
    """Line endings for a triple given its graph terms (``""`` is the default graph)."""
    terms = list(dict.fromkeys(t for ts in graph_terms for t in ts))
    if not terms:
        return [" .\n"]
    return [f" {t} .\n" if t else " .\n" for t in terms]


def _dup_free(tmap: TriplesMap, fast_poms: list[tuple[list[str], list[tuple[bool, Any]], list[str]]]) -> bool:
    """One subject, single-valued objects and no (predicate, graph) pair twice: no line can repeat.

    Checked once per map so the common flat CSV / JSON case skips the per-record de-duplication.
    """
    if tmap.classes and any(p == RDF_TYPE for preds, _, _ in fast_poms for p in preds):
        return False
    seen: set[tuple[str, str]] = set()
    for preds, objects, suffixes in fast_poms:
        for single, _fn in objects:
            if not single:
                return False
            for p in preds:
                for g in suffixes:
                    if (p, g) in seen:
                        return False
                    seen.add((p, g))
    return True
