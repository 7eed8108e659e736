"""The manifest of a demo run: what was written, which compliance gaps were seeded, and ground truth.

Tests of later features (validation, traceability, KPIs) read ``manifest.json`` instead of re-deriving
answers: each gap names its kind, the focus node IRI per the vocabulary contract, the human identifier
and a description, so a validation test can assert that exactly these - and nothing else - are found.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ID = "https://w3id.org/threadline/id/"

GAP_KINDS = (
    "unit-missing-final-inspection",
    "ncr-without-disposition",
    "disposition-approved-by-non-mrb",
    "capa-closed-without-effectiveness-check",
    "lot-received-without-coc",
    "operation-without-operator",
    "inspection-out-of-limits-passed",
    "released-revision-without-signature",
    "unit-built-to-unreleased-revision",
)


def iri(kind: str, *key: str) -> str:
    """Data IRI per the vocabulary contract. Demo keys only use IRI-safe characters, so no escaping."""
    return ID + kind + "/" + "/".join(key)


@dataclass(frozen=True)
class Gap:
    kind: str
    focus: str
    id: str
    description: str
    related: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "focus": self.focus, "id": self.id, "description": self.description}
        if self.related:
            out["related"] = list(self.related)
        return out


@dataclass
class Manifest:
    seed: int
    units: int
    counts: dict[str, int] = field(default_factory=dict)
    entities: dict[str, int] = field(default_factory=dict)
    gaps: list[Gap] = field(default_factory=list)
    ground_truth: dict[str, Any] = field(default_factory=dict)
    history: dict[str, Any] = field(default_factory=dict)  # empty without --history: the file is as before

    def gap_counts(self) -> dict[str, int]:
        out = dict.fromkeys(GAP_KINDS, 0)
        for g in self.gaps:
            out[g.kind] += 1
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "generator": "threadline.demo",
            "formatVersion": 1,
            "seed": self.seed,
            "units": self.units,
            "counts": dict(sorted(self.counts.items())),
            "entities": self.entities,
            "gapCounts": self.gap_counts(),
            "gaps": [g.as_dict() for g in self.gaps],
            "groundTruth": self.ground_truth,
        } | ({"history": self.history} if self.history else {})

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> Manifest:
        data = json.loads(path.read_text(encoding="utf-8"))
        gaps = [
            Gap(g["kind"], g["focus"], g["id"], g["description"], tuple(g.get("related", ()))) for g in data["gaps"]
        ]
        return cls(
            data["seed"],
            data["units"],
            data["counts"],
            data["entities"],
            gaps,
            data["groundTruth"],
            data.get("history", {}),
        )
