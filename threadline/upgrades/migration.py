"""Carry out a plan: ``threadline migrate`` and the trivial migrations ``open_store`` applies itself.

Order, and why it is safe to interrupt anywhere and run again:

1. the record gains ``migratingTo`` (the store is refused by every open until the migration ends);
2. each format step that rewrites data (none so far) runs;
3. each ontology rename runs as one update per data graph holding the old term — one transaction per graph,
   so a large store is never rewritten in one huge transaction; a graph is either done or untouched, and a
   rerun finds only the old names that are left;
4. one last update writes the new record (without ``migratingTo``) together with the ``migrate`` audit entry.

Until step 4 the record keeps the old versions, so a rerun plans the same steps again and finds less to do.
Only data graphs are rewritten (the batch graphs and graphs outside ``graph/``, as ``record_hash`` counts
them): Threadline's own graphs — audit trail, archive, signatures, security, validation evidence — record
history under the names of their time and are never rewritten. Signatures keep the ontology version their
hash was computed under, and ``record_hash`` reads records under that version's names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from threadline.namespaces import STORE_GRAPH, is_data_graph
from threadline.store.base import Store, text
from threadline.upgrades import record
from threadline.upgrades.plan import Plan, baseline, plan
from threadline.upgrades.renames import Rename

Progress = Callable[[str], None]


@dataclass
class Outcome:
    """What ``migrate`` did."""

    plan: Plan
    backup: Path | None = None
    rewritten: int = 0
    graphs: list[str] = field(default_factory=list)


def current_plan(store: Store) -> Plan:
    """The plan for ``store`` as it is now (a store without a record and with data is the previous release's)."""
    found = record.read(store)
    if found is None:
        found = baseline() if record.has_data(store) else record.current()
    return plan(found)


def migrate(store: Store, *, actor: str, backup_dir: Path | None, progress: Progress = lambda _text: None) -> Outcome:
    """Bring ``store`` to this Threadline's versions, backing it up under ``backup_dir`` first (None: no backup)."""
    steps = current_plan(store)
    outcome = Outcome(steps)
    if not steps.needed:
        progress(f"{store.url}: already at {steps.target}; nothing to do")
        return outcome
    progress(f"{store.url}: {steps.found} -> {steps.target}")
    for line in steps.describe():
        progress(f"  {line}")
    if backup_dir is not None:
        from threadline.store.backup import make_backup

        progress(f"backing up to {backup_dir} …")
        outcome.backup, _digest = make_backup(store, backup_dir)
        progress(f"backup written to {outcome.backup}")
    apply(store, steps, actor=actor, progress=progress, outcome=outcome)
    progress(f"{store.url}: now at {steps.target} ({outcome.rewritten:,} statements renamed)")
    return outcome


def apply(
    store: Store,
    steps: Plan,
    *,
    actor: str,
    progress: Progress = lambda _text: None,
    outcome: Outcome | None = None,
) -> Outcome:
    """Run ``steps`` on ``store`` (steps 1-4 of the module docstring)."""
    from threadline import audit
    from threadline.history import ChangeSet

    outcome = outcome or Outcome(steps)
    target = f"store format {steps.target.format}, ontology {steps.target.ontology}"
    if not steps.trivial:  # a rewrite of data follows: every open refuses the store until it ends
        record.write(store, _marked(steps, target))
    for number, rename in enumerate(steps.renames, 1):
        progress(f"rename {number}/{len(steps.renames)}: <{rename.old}> to <{rename.new}>")
        _rename(store, rename, progress, outcome)
    what = {
        "graphs": sorted({STORE_GRAPH, *outcome.graphs}),
        "from": {"format": steps.found.format, "ontology": steps.found.ontology},
        "to": {"format": steps.target.format, "ontology": steps.target.ontology},
        "release": steps.target.release,
        "renames": [{"version": r.version, "old": r.old, "new": r.new} for r in steps.renames],
        "renamed": outcome.rewritten,
    }
    with audit.writer_lock(store):
        entry = audit.entry_update(store, action="migrate", actor=actor, what=what, why=None)
        # the renames ran before, graph by graph (docs/history.md: a migration is a new starting point for a replica)
        audit.commit(store, record.write_text(steps.target) + " ;\n" + entry, changes=ChangeSet())
    return outcome


def _marked(steps: Plan, target: str) -> record.StoreVersion:
    found = steps.found
    return record.StoreVersion(found.format, found.ontology, found.release, target)


_GRAPHS_USING = "SELECT DISTINCT ?g WHERE { GRAPH ?g { { ?s ?term ?o } UNION { ?s ?p ?term } } }"


def _rename(store: Store, rename: Rename, progress: Progress, outcome: Outcome) -> None:
    graphs = sorted(g for g in store.select(_GRAPHS_USING, {"term": _node(rename.old)}).values("g") if is_data_graph(g))
    for index, graph in enumerate(graphs, 1):
        count = _count(store, graph, rename.old)
        store.update(_rename_text(graph, rename))
        outcome.rewritten += count
        if graph not in outcome.graphs:
            outcome.graphs.append(graph)
        progress(f"  graph {index}/{len(graphs)} {graph}: {count:,} statements")


def _count(store: Store, graph: str, term: str) -> int:
    rows = store.select(
        "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { { ?s ?term ?o } UNION { ?s ?p ?term } } } GROUP BY ?g",
        {"term": _node(term), "g": _node(graph)},
    ).rows
    return int(text(rows[0][1])) if rows and rows[0][1] is not None else 0


def _rename_text(graph: str, rename: Rename) -> str:
    """One update (one transaction): the term as predicate, then as object, in one graph. The IRIs are written
    by pyoxigraph (``NamedNode``), which escapes them: an update takes no bound parameters."""
    g, old, new = (str(_node(iri)) for iri in (graph, rename.old, rename.new))
    return (
        f"DELETE {{ GRAPH {g} {{ ?s {old} ?o }} }} INSERT {{ GRAPH {g} {{ ?s {new} ?o }} }} "
        f"WHERE {{ GRAPH {g} {{ ?s {old} ?o }} }} ;\n"
        f"DELETE {{ GRAPH {g} {{ ?s ?p {old} }} }} INSERT {{ GRAPH {g} {{ ?s ?p {new} }} }} "
        f"WHERE {{ GRAPH {g} {{ ?s ?p {old} }} }}"
    )


def _node(iri: str) -> ox.NamedNode:
    return ox.NamedNode(iri)
