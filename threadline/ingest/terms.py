"""Mappings are checked against the ontology before they run: a misspelt term is refused, not loaded.

A mapping is plain text, so ``tl:equipmentID`` for ``tl:equipmentId`` is a valid RML document that writes
triples nobody's query will ever find. Every IRI a mapping writes as a class, a predicate or a constant
object in the Threadline namespace must be a term the ontology defines (classes, properties and named
individuals alike); the error names the mapping, the triples map and the closest known term. Terms in
other namespaces (PROV, SKOS, a plant's own extension) are not ours to judge and pass.
"""

from __future__ import annotations

import difflib
from functools import lru_cache
from pathlib import Path

from threadline.errors import MappingError
from threadline.mapping import Mapping
from threadline.mapping.model import RefObjectMap, TermMap, TriplesMap
from threadline.namespaces import TL


@lru_cache(maxsize=1)
def known_terms() -> frozenset[str]:
    """Local names of every IRI the ontology says something about (parsed with pyoxigraph: milliseconds,
    where rdflib took about a second, which every ``load`` would pay)."""
    import pyoxigraph as ox

    from threadline.errors import ConfigError
    from threadline.ontology import ONTOLOGY_FILE, ontology_dir

    path = ontology_dir() / ONTOLOGY_FILE
    try:
        subjects = {t.subject for t in ox.parse(path=str(path), format=ox.RdfFormat.TURTLE)}
    except (OSError, SyntaxError) as exc:
        raise ConfigError(f"{path}: cannot parse ontology Turtle: {exc}") from exc
    return frozenset(s.value[len(TL) :] for s in subjects if isinstance(s, ox.NamedNode) and s.value.startswith(TL))


def check_terms(mapping: Mapping, path: Path) -> None:
    """Raise ``MappingError`` at the first Threadline term the ontology does not define."""
    known = known_terms()
    for tmap in mapping.document.triples_maps:
        for role, iri in _written_iris(tmap):
            if iri.startswith(TL) and iri[len(TL) :] not in known:
                raise MappingError(
                    f"{path.name}: triples map <{_short(tmap.name)}> uses {role} tl:{iri[len(TL) :]}, "
                    f"which the ontology does not define{_suggestion(iri[len(TL) :], known)}"
                )


def _written_iris(tmap: TriplesMap) -> list[tuple[str, str]]:
    found = [("class", c) for c in tmap.classes]
    for pom in tmap.poms:
        found += [("predicate", p.value) for p in pom.predicates if p.kind == "constant"]
        found += [("object", o.value) for o in pom.objects if _constant_iri(o)]  # type: ignore[union-attr]  # _constant_iri holds only for a TermMap
    return found


def _constant_iri(term: TermMap | RefObjectMap) -> bool:
    return isinstance(term, TermMap) and term.kind == "constant" and term.term_type in (None, "iri", "uri")


def _suggestion(name: str, known: frozenset[str]) -> str:
    by_case = [k for k in known if k.lower() == name.lower()]
    close = by_case or difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean tl:{close[0]}?)" if close else ""


def _short(name: str) -> str:
    return name.rsplit("#", 1)[-1].rsplit(":", 1)[-1]
