"""YARRRML (YAML) reader, translating straight into the internal model (no detour through RML Turtle).

Supported: ``prefixes``, ``base``, named and inline ``sources`` (``['parts.csv~csv']``,
``['items.json~jsonpath', '$.items[*]']``, ``['lots.xml~xpath', '/b2mml:X/b2mml:Y']`` or the long
``{access, referenceFormulation, iterator, delimiter, encoding}`` form), ``s``/``subject(s)``,
``po``/``predicateobjects`` in the short ``[p, o]``, ``[p, o, datatype]``, ``[p, o, en~lang]``,
``[p, value~iri]`` forms and the long ``{p, o: {value, datatype, language, type}}`` form, ``graphs`` on
mappings and predicate-object maps, and joins with ``o: {mapping, condition: {function: equal,
parameters: [[str1, $(child)], [str2, $(parent)]]}}``. FnO functions are rejected with a MappingError.
Every declared prefix is also an XPath namespace prefix, which is how default-namespace XML is matched.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from threadline.errors import MappingError
from threadline.mapping.model import (
    Formulation,
    Join,
    LogicalSource,
    MappingDocument,
    PredicateObjectMap,
    RefObjectMap,
    TermMap,
    TriplesMap,
)
from threadline.mapping.nquads import valid_language
from threadline.mapping.rml import DEFAULT_GRAPH, _formulation_from_name

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
_REF = re.compile(r"\$\(([^)]*)\)")
_FORMULATIONS: dict[str, Formulation] = {"csv": "csv", "jsonpath": "jsonpath", "xpath": "xpath", "jsonl": "jsonl"}
_MAPPING_ID = "urn:threadline:yarrrml:"


class _Reader:
    def __init__(self, doc: dict[str, Any], path: str) -> None:
        self.doc = doc
        self.path = path
        self.prefixes: dict[str, str] = {
            "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
            "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
            "xsd": "http://www.w3.org/2001/XMLSchema#",
        }
        self.prefixes.update({str(k): str(v) for k, v in (doc.get("prefixes") or {}).items()})
        self.base = doc.get("base")
        self.named_sources = doc.get("sources") or {}

    def fail(self, where: str, problem: str) -> MappingError:
        return MappingError(f"{self.path}: {where}: {problem}")

    # -- values ---------------------------------------------------------------------------------------------
    def expand(self, text: str) -> str:
        """Expand a ``prefix:local`` CURIE; full IRIs and unknown prefixes are returned unchanged."""
        if ":" in text and not text.startswith("$("):
            prefix, local = text.split(":", 1)
            if prefix in self.prefixes and not local.startswith("//"):
                return self.prefixes[prefix] + local
        return text

    def value_map(self, raw: Any, where: str, term_type: str, **extra: Any) -> TermMap:
        """A constant, ``$(reference)`` or template value as a term map of the given term type."""
        if not isinstance(raw, str | int | float | bool):
            raise self.fail(where, f"expected a value, found {raw!r}")
        text = str(raw).lower() if isinstance(raw, bool) else str(raw)
        extra.pop("role", None)
        refs = _REF.findall(text)
        if not refs:
            if term_type == "literal":
                return TermMap(
                    "constant", text, "literal", datatype=extra.get("datatype"), language=extra.get("language")
                )
            if term_type == "blank":
                raise self.fail(where, f"a blank node needs a reference or template, found {text!r}")
            return TermMap("constant", self.expand(text), "iri")
        if _REF.fullmatch(text):
            return TermMap("reference", refs[0], term_type, **extra)  # type: ignore[arg-type]  # the YARRRML reader checked these against the allowed values
        template = self._template(text if term_type == "literal" else self.expand(text))
        return TermMap("template", template, term_type, **extra)  # type: ignore[arg-type]  # the YARRRML reader checked these against the allowed values

    @staticmethod
    def _template(text: str) -> str:
        out = []
        pos = 0
        for m in _REF.finditer(text):
            out.append(text[pos : m.start()].replace("\\", "\\\\").replace("{", "\\{").replace("}", "\\}"))
            out.append("{" + m.group(1) + "}")
            pos = m.end()
        out.append(text[pos:].replace("\\", "\\\\").replace("{", "\\{").replace("}", "\\}"))
        return "".join(out)

    # -- sources --------------------------------------------------------------------------------------------
    def sources(self, raw: Any, where: str) -> list[LogicalSource]:
        if raw is None:
            raise self.fail(where, "mapping has no sources")
        if isinstance(raw, str | dict):
            items: list[Any] = [raw]
        elif isinstance(raw, list) and raw and all(isinstance(x, str) for x in raw):
            if len(raw) == 2 and "~" in raw[0] and "~" not in raw[1] and raw[1] not in self.named_sources:
                items = [raw]
            else:
                items = list(raw)
        else:
            items = list(raw)
        return [self.source(item, where) for item in items]

    def source(self, raw: Any, where: str) -> LogicalSource:
        if isinstance(raw, str) and raw in self.named_sources:
            return self.source(self.named_sources[raw], where)
        if isinstance(raw, str):
            raw = [raw]
        if isinstance(raw, list):
            if not raw or not isinstance(raw[0], str):
                raise self.fail(where, f"bad source {raw!r}")
            access, _, formulation = raw[0].partition("~")
            iterator = raw[1] if len(raw) > 1 else None
            options: dict[str, Any] = {}
        elif isinstance(raw, dict):
            given = raw.get("access")
            if not given or not isinstance(given, str):  # a YAML number or list is no file name either
                raise self.fail(where, f"source {raw!r} has no access")
            access = given
            formulation = str(raw.get("referenceFormulation", ""))
            iterator = raw.get("iterator")
            options = {}
            if "delimiter" in raw:
                options["delimiter"] = str(raw["delimiter"])
            if "encoding" in raw:
                options["encoding"] = str(raw["encoding"]).lower()
            if "null" in raw or None in raw:  # an unquoted ``null:`` key is YAML's null, not the string
                nulls = raw["null"] if "null" in raw else raw[None]
                options["nulls"] = tuple(str(n) for n in (nulls if isinstance(nulls, list) else [nulls]))
            if "mayBeEmpty" in raw:  # Threadline: zero records from this source is not an error
                options["may_be_empty"] = bool(raw["mayBeEmpty"])
            if "identity" in raw:  # Threadline: the expression naming the document's own identity
                options["identity"] = str(raw["identity"])
        else:
            raise self.fail(where, f"bad source {raw!r}")
        if access.startswith(("http://", "https://")):
            raise self.fail(where, f"remote source {access!r} is not supported (plants are air-gapped)")
        name = formulation.lower() if formulation else _formulation_from_name(access)
        kind = _FORMULATIONS.get(name or "")
        if kind is None:
            raise self.fail(where, f"unsupported reference formulation {formulation!r} for source {access!r}")
        if kind == "jsonpath" and access.lower().endswith((".jsonl", ".ndjson")):
            kind = "jsonl"
        namespaces = tuple(sorted(self.prefixes.items())) if kind == "xpath" else ()
        return LogicalSource(
            location=access,
            formulation=kind,
            iterator=str(iterator) if iterator is not None else None,
            namespaces=namespaces,
            **options,
        )

    # -- mappings -------------------------------------------------------------------------------------------
    def mappings(self) -> list[TriplesMap]:
        mappings = self.doc.get("mappings") or self.doc.get("mapping")
        if not isinstance(mappings, dict) or not mappings:
            raise MappingError(f"{self.path}: no mappings found")
        out: list[TriplesMap] = []
        for name, body in mappings.items():
            if not isinstance(body, dict):
                raise self.fail(f"mapping {name}", "mapping must be a YAML mapping")
            out.extend(self.mapping(str(name), body))
        return out

    def mapping(self, name: str, body: dict[str, Any]) -> list[TriplesMap]:
        where = f"mapping {name}"
        subjects = self._first(body, "s", "subject", "subjects")
        if isinstance(subjects, list):
            if len(subjects) != 1:
                raise self.fail(where, "exactly one subject per mapping is supported")
            subjects = subjects[0]
        if subjects is None:
            subject = TermMap("none", term_type="blank")
        else:
            text = str(subjects)
            term_type = "blank" if text.endswith("~blanknode") else "iri"
            subject = self.value_map(text.removesuffix("~blanknode").removesuffix("~iri"), where, term_type)
        graphs = tuple(self.graphs(body, where))
        poms: list[PredicateObjectMap] = []
        classes: list[str] = []
        for item in self._first(body, "po", "predicateobjects") or []:
            pom = self.pom(item, where)
            poms.append(pom)
        maps = []
        for i, source in enumerate(self.sources(body.get("sources"), where)):
            suffix = "" if i == 0 else f"#{i}"
            maps.append(
                TriplesMap(
                    name=_MAPPING_ID + name + suffix,
                    source=source,
                    subject=subject,
                    classes=tuple(classes),
                    subject_graphs=graphs,
                    poms=poms,
                    base_iri=None,
                    label=name if i == 0 else f"{name}-{i}",
                )
            )
        return maps

    @staticmethod
    def _first(body: dict[str, Any], *keys: str) -> Any:
        for key in keys:
            if key in body:
                return body[key]
        return None

    def graphs(self, body: dict[str, Any], where: str) -> list[TermMap]:
        raw = self._first(body, "g", "graph", "graphs")
        if raw is None:
            return []
        items = raw if isinstance(raw, list) else [raw]
        out = []
        for g in items:
            text = str(g)
            if text in ("rr:defaultGraph", "rml:defaultGraph"):
                out.append(TermMap("constant", DEFAULT_GRAPH, "iri"))
            else:
                out.append(self.value_map(text.removesuffix("~iri"), where, "iri"))
        return out

    def pom(self, item: Any, where: str) -> PredicateObjectMap:
        if isinstance(item, list):
            if len(item) not in (2, 3):
                raise self.fail(where, f"predicate-object {item!r} must have 2 or 3 entries")
            preds = item[0] if isinstance(item[0], list) else [item[0]]
            is_type = preds == ["a"]
            objs = item[1] if isinstance(item[1], list) else [item[1]]
            extra = item[2] if len(item) == 3 else None
            predicates = tuple(self.predicate(p, where) for p in preds)
            objects = tuple(self.object_short(o, extra, is_type, where) for o in objs)
            return PredicateObjectMap(predicates, objects)
        if not isinstance(item, dict):
            raise self.fail(where, f"bad predicate-object {item!r}")
        preds_raw = self._first(item, "p", "predicate", "predicates")
        objs_raw = self._first(item, "o", "object", "objects")
        if preds_raw is None or objs_raw is None:
            raise self.fail(where, f"predicate-object {item!r} needs p and o")
        preds = preds_raw if isinstance(preds_raw, list) else [preds_raw]
        objs = objs_raw if isinstance(objs_raw, list) else [objs_raw]
        is_type = preds == ["a"]
        object_maps: list[TermMap | RefObjectMap] = []
        for o in objs:
            if isinstance(o, dict):
                object_maps.append(self.object_long(o, is_type, where))
            elif isinstance(o, list):
                object_maps.append(self.object_short(o[0], o[1] if len(o) > 1 else None, is_type, where))
            else:
                object_maps.append(self.object_short(o, item.get("datatype") or item.get("language"), is_type, where))
        return PredicateObjectMap(
            tuple(self.predicate(p, where) for p in preds), tuple(object_maps), tuple(self.graphs(item, where))
        )

    def predicate(self, raw: Any, where: str) -> TermMap:
        text = str(raw)
        if text == "a":
            return TermMap("constant", RDF_TYPE, "iri")
        return self.value_map(text.removesuffix("~iri"), where, "iri")

    def object_short(self, raw: Any, extra: Any, is_type: bool, where: str) -> TermMap:
        text = str(raw).lower() if isinstance(raw, bool) else str(raw)
        if text.endswith("~iri") or is_type:
            return self.value_map(text.removesuffix("~iri"), where, "iri", role="object")
        if text.endswith("~blanknode"):
            return self.value_map(text.removesuffix("~blanknode"), where, "blank", role="object")
        datatype = language = None
        if extra is not None:
            extra_text = str(extra)
            if extra_text.endswith("~lang"):
                language = extra_text.removesuffix("~lang")
                if not valid_language(language):
                    raise self.fail(where, f"invalid language tag {language!r}")
            else:
                datatype = self.expand(extra_text)
        return self.value_map(
            text.removesuffix("~literal"), where, "literal", role="object", datatype=datatype, language=language
        )

    def object_long(self, raw: dict[str, Any], is_type: bool, where: str) -> TermMap | RefObjectMap:
        if "function" in raw or "fn" in raw:
            raise self.fail(where, "FnO functions are not supported")
        if "mapping" in raw:
            return self.join(raw, where)
        value = raw.get("value")
        if value is None:
            raise self.fail(where, f"object {raw!r} has no value")
        kind = str(raw.get("type", "")).lower()
        if kind == "iri" or is_type:
            return self.value_map(value, where, "iri", role="object")
        if kind in ("blank", "blanknode"):
            return self.value_map(value, where, "blank", role="object")
        language = raw.get("language")
        if language is not None and not valid_language(str(language)):
            raise self.fail(where, f"invalid language tag {language!r}")
        datatype = raw.get("datatype")
        return self.value_map(
            value,
            where,
            "literal",
            role="object",
            datatype=self.expand(str(datatype)) if datatype else None,
            language=str(language) if language else None,
        )

    def join(self, raw: dict[str, Any], where: str) -> RefObjectMap:
        parent = _MAPPING_ID + str(raw["mapping"])
        conditions = raw.get("condition") or raw.get("conditions") or []
        if isinstance(conditions, dict):
            conditions = [conditions]
        joins = []
        for cond in conditions:
            function = str(cond.get("function", ""))
            if function not in ("equal", "grel:equal", "idlab-fn:equal"):
                raise self.fail(where, f"join condition function {function!r} is not supported (only equal)")
            params = {}
            for param in cond.get("parameters") or []:
                if isinstance(param, list) and len(param) >= 2:
                    params[str(param[0])] = str(param[1])
                elif isinstance(param, dict):
                    params[str(param.get("parameter"))] = str(param.get("value"))
            if "str1" not in params or "str2" not in params:
                raise self.fail(where, "equal condition needs str1 (child) and str2 (parent)")
            child = self.value_map(params["str1"].removesuffix("~s"), where, "literal", role="object")
            parent_map = self.value_map(params["str2"].removesuffix("~o"), where, "literal", role="object")
            joins.append(Join(child, parent_map))
        return RefObjectMap(parent, tuple(joins))


def read_yarrrml(path: Path, text: str) -> MappingDocument:
    """Parse a YARRRML document into the internal model."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise MappingError(f"{path}: a YARRRML document must be a YAML mapping")
    reader = _Reader(doc, str(path))
    maps = reader.mappings()
    names = {tm.name for tm in maps}
    for tm in maps:
        for pom in tm.poms:
            for om in pom.objects:
                if isinstance(om, RefObjectMap) and om.parent not in names:
                    raise MappingError(f"{path}: mapping {tm.name} joins unknown mapping {om.parent}")
    return MappingDocument(str(path), maps, base_iri=reader.base)
