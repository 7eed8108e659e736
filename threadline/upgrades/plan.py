"""What it takes to bring a store from the versions it records to the ones this Threadline writes.

Format steps are code (one per format number, ``FORMAT_STEPS``); ontology steps are data (the renames listed in
``ontology/renames.csv`` between the two ontology versions). A plan is *trivial* when it rewrites no data: only
the store's version record changes. Trivial plans are applied by any writable open (``gate.admit``); the
others need ``threadline migrate``, which backs the store up first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from threadline.errors import MigrationNeeded, StoreTooNew
from threadline.upgrades import renames as rename_table
from threadline.upgrades.record import StoreVersion, current
from threadline.upgrades.renames import Rename
from threadline.upgrades.versions import BASELINE_FORMAT, BASELINE_ONTOLOGY, parse


@dataclass(frozen=True)
class FormatStep:
    """The change from format ``to - 1`` to format ``to``; ``trivial`` when it rewrites no data."""

    to: int
    summary: str
    trivial: bool


FORMAT_STEPS: dict[int, FormatStep] = {
    2: FormatStep(
        2,
        "the store records its format and ontology version (graph/store); signatures made before name no "
        f"ontology version and are read as made under ontology {BASELINE_ONTOLOGY}",
        trivial=True,
    ),
    3: FormatStep(
        3,
        "every write records its change set (graph/changes/N, docs/history.md); history starts at the upgrade: "
        "the migration's own change set is the first one",
        trivial=True,
    ),
}


@dataclass
class Plan:
    found: StoreVersion
    target: StoreVersion
    formats: list[FormatStep] = field(default_factory=list)
    renames: list[Rename] = field(default_factory=list)

    @property
    def needed(self) -> bool:
        return (self.found.format, self.found.ontology) != (self.target.format, self.target.ontology) or bool(
            self.found.migrating_to
        )

    @property
    def trivial(self) -> bool:
        return not self.renames and all(step.trivial for step in self.formats) and not self.found.migrating_to

    def describe(self) -> list[str]:
        lines = [f"format {step.to}: {step.summary}" for step in self.formats]
        lines += [f"ontology {r.version}: rename <{r.old}> to <{r.new}>" for r in self.renames]
        return lines


def baseline() -> StoreVersion:
    """What a store without a record but with data holds: the previous release wrote it."""
    return StoreVersion(BASELINE_FORMAT, BASELINE_ONTOLOGY)


def plan(found: StoreVersion) -> Plan:
    """The steps from ``found`` to this Threadline's versions; StoreTooNew when ``found`` is ahead."""
    target = current()
    if found.format > target.format or found.format < BASELINE_FORMAT:
        raise StoreTooNew(
            f"the store is {found}, written by Threadline {found.release or 'unknown'}; this Threadline "
            f"{target.release} reads store format {target.format} (ontology {target.ontology}) at most: "
            "upgrade Threadline to open it"
        )
    if parse(found.ontology or BASELINE_ONTOLOGY, "the store's ontology version") > parse(target.ontology):
        raise StoreTooNew(
            f"the store is {found}, newer than the ontology {target.ontology} this Threadline {target.release} "
            "knows: upgrade Threadline to open it"
        )
    steps = [FORMAT_STEPS[n] for n in range(found.format + 1, target.format + 1)]
    table = rename_table.load()
    return Plan(found, target, steps, rename_table.between(table, found.ontology or BASELINE_ONTOLOGY, target.ontology))


def refusal(found: StoreVersion) -> MigrationNeeded:
    """The error for a store that needs ``threadline migrate`` before it can be opened."""
    target = current()
    if found.migrating_to:
        return MigrationNeeded(
            f"a migration of this store to {found.migrating_to} did not finish: run threadline migrate again "
            "(it resumes where it stopped)"
        )
    return MigrationNeeded(
        f"the store is {found}; this Threadline {target.release} needs store format {target.format}, "
        f"ontology {target.ontology}: run threadline migrate (it backs the store up first)"
    )
