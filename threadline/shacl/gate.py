"""The load gate: validate what a staged load affects before it commits, and act on it per profile.

The gate never writes to the store. The loader tells it which graphs make up the thread before the load and
after the commit (``activity.graphs_before()`` / ``graphs_after()``), and the catalog says what a delta load
will retract; ``incremental.load_results`` validates the focus nodes the load can affect in both states,
on in-memory copies of what their results depend on (or, for shapes validated in full, with one of those
lists as the default graph), while the store holds just the committed data plus the staged graphs. Only
results the load *introduces* count: a result the same focus node already had before the load does not
block it.

Modes per profile (setting ``validation_gate``): ``reject`` raises ``ValidationRejected`` (the loader drops
the staged graphs; the store is exactly as before) carrying the report; ``accept-with-report`` lets the load
commit and stores the report as evidence *after* the commit (an ``after_commit`` hook), so evidence never
describes a load that did not happen; ``accept`` does nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from threadline.errors import IngestError
from threadline.ingest import hooks
from threadline.observability import metrics
from threadline.shacl.incremental import introduced, load_results, union_shows
from threadline.shacl.model import SH, Outcome, Result
from threadline.shacl.rows import Row, rows
from threadline.shacl.shapes import Shapes
from threadline.store import Store

if TYPE_CHECKING:
    from threadline.ingest.provenance import Activity

GateMode = Literal["reject", "accept-with-report", "accept"]
ATTRIBUTE = "validation_findings"  # carried on the Activity from before_commit to after_commit
SHOWN = 5
log = logging.getLogger(__name__)


@dataclass
class Finding:
    """What one profile found about one load: the results it introduced."""

    profile: str
    mode: str
    outcome: Outcome  # the introduced results only
    shapes: Shapes
    rows: list[Row]

    @property
    def violations(self) -> list[Result]:
        return [r for r in self.outcome.results if r.severity == SH.Violation]


class ValidationRejected(IngestError):
    """The load gate refused a load: it introduces violations. ``outcome``/``rows`` hold them."""

    load_outcome = "rejected"  # how the loader counts the load it stops (threadline_loads)

    def __init__(self, finding: Finding, system: str = "") -> None:
        self.finding = finding
        self.outcome = finding.outcome
        self.shapes = finding.shapes
        self.rows = finding.rows
        self.profile = finding.profile
        super().__init__(_message(finding, system))

    def report_json(self) -> dict[str, object]:
        """The rejected load's report, as ``POST /validate`` returns JSON reports."""
        return {"error": str(self), **self.details()}

    def details(self) -> dict[str, Any]:
        """The report beside the message: an HTTP client can act on each violation."""
        bad = [r for r in self.rows if r.severity == "Violation"]
        return {
            "profile": self.profile,
            "conforms": False,
            "resultCount": len(bad),
            "results": [r.as_dict() for r in bad],
        }


def _message(finding: Finding, system: str) -> str:
    bad = [r for r in finding.rows if r.severity == "Violation"]
    what = f"{system} load" if system else "load"
    lines = [
        f"{what} rejected by the {finding.profile!r} validation gate: it introduces {len(bad)} "
        f"violation(s); the store is unchanged."
    ]
    for row in bad[:SHOWN]:
        kind = f"{row.kind} " if row.kind else ""
        where = f" ({row.path}{' = ' + row.value if row.value else ''})" if row.path else ""
        lines.append(
            f"  - {kind}{row.identifier}{where}: {row.message}"
            + (f" Clause {row.clause}." if row.clause else "")
            + (f" Fix: {row.fix_hint}" if row.fix_hint else "")
        )
    if len(bad) > SHOWN:
        lines.append(f"  ... and {len(bad) - SHOWN} more (run `threadline validate` on the data for the full report)")
    return "\n".join(lines)


class LoadGate:
    """``before_commit`` validates and may reject; ``after_commit`` stores accept-with-report evidence."""

    def __init__(
        self, shapes_for: Callable[[str], Shapes], modes: Mapping[str, str], *, agent: str = "load-gate"
    ) -> None:
        self.shapes_for = shapes_for
        self.modes = dict(modes)
        self.agent = agent

    def install(self) -> list[hooks.Hook]:
        """Register both hooks; returns them so the caller can unregister them."""
        return [hooks.before_commit(self.before_commit), hooks.after_commit(self.after_commit)]

    def uninstall(self) -> None:
        hooks.unregister(self.before_commit)
        hooks.unregister(self.after_commit)

    def before_commit(self, store: Store, activity: Activity) -> None:
        before, after = activity.graphs_before(), activity.graphs_after()
        findings: list[Finding] = []
        setattr(activity, ATTRIBUTE, findings)
        if not activity.staged_graphs and before == after:
            return
        for profile, mode in sorted(self.modes.items()):
            if mode == "accept":
                continue
            shapes = self.shapes_for(profile)
            new_state, old_state = load_results(store, shapes, activity)
            outcome = Outcome(
                results=introduced(new_state, old_state),
                engine=new_state.engine,
                fallback=new_state.fallback,
                seconds=new_state.seconds + old_state.seconds,
            )
            if not outcome.results:
                _verdict(activity, profile, "passed", 0)
                continue
            state = None if union_shows(store, before, after) else after  # the union is faster than a graph list
            finding = Finding(profile, mode, outcome, shapes, rows(outcome, shapes, store, state))
            if mode == "reject" and finding.violations:
                _verdict(activity, profile, "rejected", len(finding.violations))
                raise ValidationRejected(finding, activity.system)
            if mode == "accept-with-report":
                _verdict(activity, profile, "reported", len(outcome.results))
                findings.append(finding)
            else:
                _verdict(activity, profile, "passed", len(outcome.results))  # warnings only: not a violation

    def after_commit(self, store: Store, activity: Activity) -> None:
        from threadline.shacl.report import store_evidence

        for finding in getattr(activity, ATTRIBUTE, []):
            store_evidence(store, finding.outcome, finding.shapes, agent=self.agent, informed_by=activity.iri)


def _verdict(activity: Activity, profile: str, outcome: str, results: int) -> None:
    """Count and log what one profile decided about one load (a dry run is logged, not counted)."""
    if not activity.dry_run:
        metrics.GATE.labels(profile, outcome).inc()
    log.log(
        logging.WARNING if outcome == "rejected" else logging.INFO,
        "validation gate %r %s the %s load%s (%d introduced result(s))",
        profile,
        outcome,
        activity.system,
        " (dry run)" if activity.dry_run else "",
        results,
        extra={
            "profile": profile,
            "outcome": outcome,
            "system": activity.system,
            "results": results,
            "dry_run": activity.dry_run,
        },
    )


def make_gate(shapes_for: Callable[[str], Shapes], modes: Mapping[str, str], *, agent: str = "load-gate") -> LoadGate:
    return LoadGate(shapes_for, modes, agent=agent)
