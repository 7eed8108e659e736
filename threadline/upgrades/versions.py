"""The three versions Threadline has, and how they compare.

- the package version, ``threadline.__version__`` (the one source: ``pyproject.toml`` reads it as a dynamic
  version, the CLI's ``--version`` and the OpenAPI document print it);
- the store format, ``STORE_FORMAT``: how Threadline lays out what it keeps in a store (its system graphs and
  their shape). It goes up when a release changes that layout, and every step up has a migration step
  (``threadline.upgrades.steps``);
- the ontology version, the ``owl:versionInfo`` of ``ontology/threadline.ttl``: the term names the data uses.

A store records the last two (``threadline.upgrades.record``). Stores written before stores recorded anything
are format 1 holding ontology ``BASELINE_ONTOLOGY`` (the only ontology version released before).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pyoxigraph as ox
from packaging.version import InvalidVersion, Version

from threadline import __version__
from threadline.errors import ConfigError

STORE_FORMAT = 3
BASELINE_FORMAT = 1
BASELINE_ONTOLOGY = "0.1.0"
OWL_VERSION_INFO = "http://www.w3.org/2002/07/owl#versionInfo"
ONTOLOGY_IRI = "https://w3id.org/threadline/ontology"


def package_version() -> str:
    return __version__


def parse(text: str, what: str = "version") -> Version:
    """A version as PEP 440 orders it (``0.10.0`` after ``0.9.0``); ConfigError naming ``what`` otherwise."""
    try:
        return Version(text)
    except InvalidVersion as exc:
        raise ConfigError(f"{what} {text!r} is not a version number like 1.2.0") from exc


def ontology_version(directory: Path | None = None) -> str:
    """The ``owl:versionInfo`` of the ontology Threadline runs with (``ontology/threadline.ttl``)."""
    from threadline.ontology import ONTOLOGY_FILE, ontology_dir

    path = (directory or ontology_dir()) / ONTOLOGY_FILE
    return _version_info(path, path.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _version_info(path: Path, _mtime: int) -> str:
    try:
        quads = ox.parse(path=str(path), format=ox.RdfFormat.TURTLE)
        found = [
            q.object.value
            for q in quads
            if q.subject == ox.NamedNode(ONTOLOGY_IRI) and q.predicate == ox.NamedNode(OWL_VERSION_INFO)
        ]
    except (OSError, SyntaxError) as exc:
        raise ConfigError(f"cannot read the ontology's version from {path}: {exc}") from exc
    if len(found) != 1:
        raise ConfigError(f"{path}: <{ONTOLOGY_IRI}> needs exactly one owl:versionInfo, found {len(found)}")
    parse(found[0], f"{path}: owl:versionInfo")
    return found[0]


def describe() -> str:
    """What ``threadline --version`` prints."""
    return f"threadline {package_version()} (ontology {ontology_version()}, store format {STORE_FORMAT})"
