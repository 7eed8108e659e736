"""Map source exports and commit them to the store as one all-or-nothing batch.

A load runs in three phases, so that bad input never reaches the store and a crash never leaves half a load:

1. **map**: every mapping runs over its files into an N-Triples file in the staging folder (``<store>.staging``
   beside an on-disk store, or ``THREADLINE_STAGING_DIR``). All source errors (malformed rows, missing fields,
   bad lexical forms, invalid IRIs) surface here, before the store is touched; so does a load too large for
   the staging or the store's disk (``threadline.ingest.space``: checked before mapping, while mapping and
   before staging).
2. **stage**: each batch is written into a fresh named graph of its own (``graph/batch/...``) with the
   backend's fastest bulk path. Staged graphs are invisible to the catalog until committed.
3. **commit**: ONE SPARQL update retires what the batch supersedes, registers the new graphs in the catalog
   graph and writes the PROV-O activity. Updates are transactional on every backend, so the thread moves
   from the state before the load to the state after it in a single step.

If staging fails the staged graphs are dropped; if the process dies before the commit, the next open of the
store (every one recovers: ``threadline.store.recovery``) hides every batch graph the catalog does not list
from all readers at once and removes it in the background.

Modes: ``snapshot`` (default) treats the files as the full current export for their mapping, so the new batch
replaces the previous batch of that mapping and deletions in the source reach the graph. ``delta`` treats
them as changed records only: subjects in the new batch lose their earlier statements from earlier batches
of the same mapping (upsert by source key); deleting a record needs a snapshot.
"""

from __future__ import annotations

import csv
import logging
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pyoxigraph as ox

from threadline import audit
from threadline.errors import ChainForked, IngestError, LoadError, StoreError, WriteRefused
from threadline.ingest import delta, hooks
from threadline.ingest.audit_entry import load_changes, load_update
from threadline.ingest.plan import MappingRun, plan
from threadline.ingest.provenance import Activity, BatchResult, now
from threadline.ingest.space import TIDY_STAGED_BYTES, Space, estimate, space_for
from threadline.namespaces import BATCH_GRAPH_PREFIX, CATALOG_GRAPH, PROVENANCE_GRAPH, TL
from threadline.observability import metrics
from threadline.store import Store
from threadline.store.embedded import BULK_TIDY_THRESHOLD as BULK_TIDY

Mode = Literal["snapshot", "delta"]
OnError = Literal["fail", "skip"]
Progress = Callable[[str, int], None]  # (batch key, records so far)
log = logging.getLogger(__name__)


@dataclass
class LoadOptions:
    mode: Mode = "snapshot"
    on_error: OnError = "fail"
    agent: str = "threadline"
    reject_dir: Path | None = None
    progress: Progress | None = None
    staging_dir: Path | None = None  # None: beside an on-disk store, else the system's temporary folder
    disk_reserve: int = 64 << 20  # bytes a load must leave free on the staging and store disks
    dry_run: bool = False


def load_files(
    store: Store,
    system: str,
    inputs: list[Path],
    *,
    ingest_dir: Path,
    mapping: Path | None = None,
    options: LoadOptions | None = None,
) -> Activity:
    """Map ``inputs`` with ``system``'s mappings (or ``mapping``) and commit them as one batch."""
    options = options or LoadOptions()
    started = time.perf_counter()
    log.info(
        "load of %s started (%d input(s), %s)",
        system,
        len(inputs),
        options.mode,
        extra={"system": system, "inputs": len(inputs), "mode": options.mode, "dry_run": options.dry_run},
    )
    try:
        activity = _load(store, system, inputs, ingest_dir=ingest_dir, mapping=mapping, options=options)
    except Exception as exc:
        outcome = getattr(exc, "load_outcome", "failed")  # the validation gate's refusal says "rejected"
        metrics.LOADS.labels(system, outcome).inc()
        log.warning(
            "load of %s %s after %.2f s: %s",
            system,
            outcome,
            time.perf_counter() - started,
            str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
            extra={"system": system, "outcome": outcome, "error": type(exc).__name__},
        )
        raise
    _finished(activity, time.perf_counter() - started)
    return activity


def _finished(activity: Activity, seconds: float) -> None:
    """Count and log a load that returned: committed, unchanged (every batch skipped) or a dry run."""
    done = [b for b in activity.batches if not b.skipped]
    records, triples = sum(b.records for b in done), sum(b.triples for b in done)
    outcome = "dry-run" if activity.dry_run else ("committed" if done else "unchanged")
    metrics.LOADS.labels(activity.system, outcome).inc()
    if outcome == "committed":
        metrics.LOAD_RECORDS.labels(activity.system).inc(records)
        metrics.LOAD_TRIPLES.labels(activity.system).inc(triples)
        metrics.LOAD_SECONDS.labels(activity.system).observe(seconds)
    log.info(
        "load of %s %s: %d record(s), %d triple(s) in %.2f s",
        activity.system,
        outcome,
        records,
        triples,
        seconds,
        extra={
            "system": activity.system,
            "activity": activity.activity_id,
            "outcome": outcome,
            "records": records,
            "triples": triples,
            "rejected": sum(b.rejected for b in done),
            "duration_ms": round(seconds * 1000, 1),
            "hook_errors": len(activity.hook_errors),
        },
    )


def _load(
    store: Store, system: str, inputs: list[Path], *, ingest_dir: Path, mapping: Path | None, options: LoadOptions
) -> Activity:
    runs = plan(system, inputs, ingest_dir=ingest_dir, mapping=mapping)
    activity = Activity(
        activity_id=time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:8],
        system=system,
        agent=options.agent,
        started=now(),
    )
    committed, _ = _catalog(store)
    space = space_for(store, options.staging_dir, options.disk_reserve)
    for index, run in enumerate(runs):
        batch = BatchResult(run, f"{BATCH_GRAPH_PREFIX}{system}/{activity.activity_id}/{index}", run.content_hash())
        batch.skipped = committed.get(run.batch_key) == batch.content_hash and options.mode == "snapshot"
        activity.batches.append(batch)
    expected = estimate(source for b in activity.batches if not b.skipped for source in b.run.source_files())
    space.check(expected, space.growth(expected, compacts=expected >= TIDY_STAGED_BYTES))
    with tempfile.TemporaryDirectory(dir=space.staging, prefix="threadline-load-") as tmp:
        staged: list[tuple[BatchResult, Path]] = []
        rejects: list[tuple[str, object]] = []
        for index, batch in enumerate(activity.batches):
            if batch.skipped:
                continue
            out = Path(tmp) / f"batch-{index}.nt"
            _map(batch.run, out, batch, options, rejects, space)
            staged.append((batch, out))
        quads = sum(batch.triples for batch, _ in staged)  # known now, before the store is touched:
        space.check(0, space.growth(sum(path.stat().st_size for _, path in staged), compacts=quads >= BULK_TIDY))
        if options.dry_run:
            _dry_run(store, activity, staged, options)
            activity.ended = now()
            return activity
        if rejects:
            activity.reject_file = _write_rejects(rejects, options.reject_dir or Path(tmp), activity)
        if not staged:
            activity.ended = now()
            return activity
        with store.staging():  # snapshot readers keep the state before the load until it commits
            _stage_all(store, staged)
            with audit.writer_lock(store):  # one committer at a time: the catalog and the audit chain stay linear
                _commit(store, activity, staged, options)
    store.tidy_after_bulk_write(sum(batch.triples for batch in activity.batches if not batch.skipped))
    activity.hook_errors = hooks.run_after(store, activity)
    return activity


def _commit(store: Store, activity: Activity, staged: list[tuple[BatchResult, Path]], options: LoadOptions) -> None:
    """Gate, archive what is replaced, switch the catalog and append the audit entry: one update."""
    _, graphs_by_key = _catalog(store)  # re-read under the lock: another load may have committed meanwhile
    staged_graphs = [batch.graph for batch, _ in staged]
    activity.committed_graphs = sorted(g for graphs in graphs_by_key.values() for g in graphs)
    activity.staged_graphs = staged_graphs
    if options.mode == "snapshot":
        activity.superseded_graphs = sorted(
            g for batch, _ in staged for g in graphs_by_key.get(batch.run.batch_key, [])
        )
    else:
        found = (delta.retraction(store, b.graph, graphs_by_key.get(b.run.batch_key, [])) for b, _ in staged)
        activity.retractions = [r for r in found if r is not None]
    try:
        hooks.run_before(store, activity)
    except BaseException:
        _drop(store, staged_graphs)
        raise
    activity.ended = now()
    try:
        change = _commit_update(activity, options.mode, graphs_by_key)
        changes = load_changes(activity, options.mode, graphs_by_key)
        audit.commit(store, load_update(store, activity, options.mode, change), changes=changes)
    except ChainForked:
        raise  # the load landed (its graphs are the thread's now): only the audit chain needs an inspector
    except WriteRefused:
        _drop(store, staged_graphs)
        raise  # nothing was written, through no fault of the request: try again (HTTP 503)
    except StoreError as exc:
        _drop(store, staged_graphs)
        raise LoadError(f"could not commit the load: {exc}") from exc


def _dry_run(store: Store, activity: Activity, staged: list[tuple[BatchResult, Path]], options: LoadOptions) -> None:
    """What the load would add, replace and retire, and the gate's verdict, with nothing committed.

    The batch is staged into graphs the catalog never lists (readers keep the state before, as during any
    load), the before-commit hooks judge it exactly as they would a real load, and the staged graphs are
    dropped whatever they say: catalog, provenance, audit chain and data stay as they were.
    """
    activity.dry_run = True
    if not staged:
        activity.gate_verdict = "nothing to load: every batch is unchanged"
        return
    _, graphs_by_key = _catalog(store)
    activity.committed_graphs = sorted(g for graphs in graphs_by_key.values() for g in graphs)
    activity.staged_graphs = [batch.graph for batch, _ in staged]
    with store.staging():
        _stage_all(store, staged)
        try:
            if options.mode == "snapshot":
                for batch, _ in staged:
                    batch.replaces = sorted(graphs_by_key.get(batch.run.batch_key, []))
                activity.superseded_graphs = sorted(g for batch, _ in staged for g in batch.replaces)
            else:
                found = (delta.retraction(store, b.graph, graphs_by_key.get(b.run.batch_key, [])) for b, _ in staged)
                activity.retractions = [r for r in found if r is not None]
            hooks.run_before(store, activity)
            activity.gate_verdict = "would accept"
        except IngestError as exc:
            activity.gate_verdict = f"would reject: {exc}"
        finally:
            _drop(store, activity.staged_graphs)


def _map(run: MappingRun, out: Path, batch: BatchResult, options: LoadOptions, rejects: list, space: Space) -> None:
    started = time.perf_counter()
    execution = run.mapping.execute(  # type: ignore[attr-defined]  # a mapping from load_mapping has execute; the plan types it as its base
        base_dir=run.mapping_path.parent,
        sources=run.sources,
        on_error=options.on_error,
        lineage_system=run.system,
        require_records=True,  # 0 records from a non-empty file is the wrong file, never a successful load
    )
    count = 0
    with space.writing(out) as handle:
        write = handle.write
        for line in execution:
            write(line)
            count += 1
            if not count % 50_000:
                space.still_fits()  # the estimate is a ratio: never let staging fill the disk
                if options.progress is not None:
                    options.progress(run.batch_key, execution.stats.records)
    batch.records = execution.stats.records
    batch.triples = count
    batch.rejected = execution.stats.rejected
    batch.seconds = time.perf_counter() - started
    rejects.extend((run.mapping_path.name, reject) for reject in execution.rejects)
    if options.progress is not None:
        options.progress(run.batch_key, batch.records)


def _stage_all(store: Store, staged: list[tuple[BatchResult, Path]]) -> None:
    done: list[str] = []
    try:
        for batch, path in staged:
            done.append(batch.graph)
            if path.stat().st_size:
                store.stage(path, batch.graph, ox.RdfFormat.N_TRIPLES)
            path.unlink()  # in the store now: give its disk space back before the next batch grows the store
    except (StoreError, OSError) as exc:
        _drop(store, done)
        raise LoadError(f"could not write the batch to the store: {exc}") from exc


def _drop(store: Store, graphs: list[str]) -> None:
    store.discard(graphs)


def _commit_update(activity: Activity, mode: Mode, graphs_by_key: dict[str, list[str]]) -> str:
    """The one update that makes the load visible: retire, register, describe."""
    parts: list[str] = []
    tl = f"<{TL}"
    for batch in activity.batches:
        if batch.skipped:
            continue
        key = ox.Literal(batch.run.batch_key)
        if mode == "snapshot":
            parts.extend(f"DROP SILENT GRAPH <{old}>" for old in graphs_by_key.get(batch.run.batch_key, []))
        else:
            for retraction in activity.retractions:
                if retraction.batch_graph == batch.graph:
                    parts.extend(retraction.delete())
        if mode == "snapshot":
            parts.append(
                f"DELETE {{ GRAPH <{CATALOG_GRAPH}> {{ ?old ?p ?o }} }} WHERE {{ GRAPH <{CATALOG_GRAPH}> "
                f"{{ ?old {tl}batchKey> {key} ; ?p ?o }} }}"
            )
        else:
            parts.append(
                f"DELETE {{ GRAPH <{CATALOG_GRAPH}> {{ ?old {tl}contentHash> ?h }} }} WHERE {{ "
                f"GRAPH <{CATALOG_GRAPH}> {{ ?old {tl}batchKey> {key} ; {tl}contentHash> ?h }} }}"
            )
    catalog = []
    for batch in activity.batches:
        if batch.skipped:
            continue
        g = f"<{batch.graph}>"
        catalog += [
            f"{g} a {tl}BatchGraph> .",
            f"{g} {tl}batchKey> {ox.Literal(batch.run.batch_key)} .",
            f"{g} {tl}sourceSystem> {ox.Literal(activity.system)} .",
            f"{g} {tl}contentHash> {ox.Literal(batch.content_hash)} .",
            f"{g} {tl}loadedBy> <{activity.iri}> .",
        ]
    parts.append(
        "INSERT DATA { GRAPH <" + CATALOG_GRAPH + "> {\n" + "\n".join(catalog) + "\n}\n"
        "GRAPH <" + PROVENANCE_GRAPH + "> {\n" + "\n".join(activity.triples()) + "\n} }"
    )
    return " ;\n".join(parts)


def _catalog(store: Store) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Content hash of the snapshot loaded per batch key (identical files may be skipped), and its graphs."""
    result = store.select(
        f"SELECT ?g ?key ?hash WHERE {{ GRAPH <{CATALOG_GRAPH}> {{ ?g <{TL}batchKey> ?key "
        f"OPTIONAL {{ ?g <{TL}contentHash> ?hash }} }} }}"
    )
    hashes: dict[str, str] = {}
    graphs: dict[str, list[str]] = {}
    for graph, key, digest in result.rows:
        graphs.setdefault(key.value, []).append(graph.value)  # type: ignore[union-attr]  # the query binds this cell: never None
        if digest is not None:
            hashes[key.value] = digest.value  # type: ignore[union-attr]  # the query binds this cell: never None
    return hashes, graphs


def open_recovered(url: str | None = None, settings: object | None = None) -> Store:
    """Open the store named by ``url`` (or the ``store`` setting): every open recovers (``Store.recover``), so
    this is ``open_store``, kept for the callers that name what they rely on."""
    from threadline.store import open_store

    return open_store(url, settings)  # type: ignore[arg-type]  # a url of None means THREADLINE_STORE, as open_store reads it


def recover(store: Store) -> list[str]:
    """Deal with uncommitted graphs (a crash between stage and commit): see ``Store.recover``."""
    return store.recover()


def _write_rejects(rejects: list, folder: Path, activity: Activity) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"rejects-{activity.system}-{activity.activity_id}.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["mapping", "file", "locator", "field", "reason"])
        for mapping_name, reject in rejects:
            writer.writerow(
                [
                    mapping_name,
                    getattr(reject, "file", ""),
                    getattr(reject, "locator", ""),
                    getattr(reject, "field", ""),
                    getattr(reject, "reason", str(reject)),
                ]
            )
    return path


def describe(activity: Activity) -> list[dict[str, object]]:
    """Summary rows for the CLI table and the HTTP response."""
    return [
        {
            "batch": b.run.batch_key,
            "records": b.records,
            "triples": b.triples,
            "rejected": b.rejected,
            "seconds": round(b.seconds, 3),
            "status": _status(activity, b),
        }
        for b in activity.batches
    ]


def _status(activity: Activity, batch: BatchResult) -> str:
    if batch.skipped:
        return "unchanged"
    if not activity.dry_run:
        return "loaded"
    retired = [r for r in activity.retractions if r.batch_graph == batch.graph]
    if retired:
        return f"would add; would retract earlier statements of {len(retired[0].subjects)} subjects"
    if batch.replaces:
        return f"would replace {len(batch.replaces)} earlier batch graph(s)"
    return "would add"


__all__ = ["IngestError", "LoadOptions", "describe", "load_files", "recover"]
