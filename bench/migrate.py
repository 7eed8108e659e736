"""What versions cost: the check every ``open_store`` makes, and a rename migration per statement renamed.

    .venv/bin/python bench/migrate.py [--units 1000] [--reps 5] [--work var/bench-migrate]

Builds a demo store of ``--units`` once (kept under ``--work``), then, repeated and alternating:

- ``open``: ``open_store`` with and without the version check (``check_versions=False``) on that store;
- ``migrate``: a copy of the store, as the previous release would have left it (version record removed), migrated
  to an ontology in which ``tl:OperationExecution`` (a class: about one statement per operation record) and
  ``tl:startedAt`` (a property of every operation and unit) are renamed. Reports statements renamed per second.

Prints min / median / max.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from threadline.namespaces import STORE_GRAPH  # noqa: E402
from threadline.ontology import ontology_dir  # noqa: E402
from threadline.store import open_store  # noqa: E402


def build(work: Path, units: int) -> Path:
    store = work / f"store-{units}"
    if (work / f"store-{units}.done").exists():
        return store
    from threadline.config import Settings
    from threadline.demo import workspace

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    settings = Settings(var_dir=work / "var", store=str(store), kpi_summaries=False)
    workspace._build(settings, work / "demo", str(store), units, 42, _Quiet())
    (work / f"store-{units}.done").write_text("")
    return store


class _Quiet:
    def print(self, *_args: object, **_kwargs: object) -> None:
        pass


def renaming_ontology(folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    for name in ("threadline.ttl", "alignments.ttl"):
        text = (ontology_dir() / name).read_text(encoding="utf-8")
        text = re.sub(r"\btl:OperationExecution\b", "tl:OperationRun", text)
        text = re.sub(r"\btl:startedAt\b", "tl:beganAt", text)
        (folder / name).write_text(text.replace('owl:versionInfo "0.2.0"', 'owl:versionInfo "0.3.0"'), encoding="utf-8")
    (folder / "renames.csv").write_text(
        "version,old,new\n0.3.0,tl:OperationExecution,tl:OperationRun\n0.3.0,tl:startedAt,tl:beganAt\n",
        encoding="utf-8",
    )
    return folder


def time_open(store: Path, check: bool) -> float:
    started = time.perf_counter()
    open_store(str(store), check_versions=check).close()
    return time.perf_counter() - started


def time_migrate(store: Path, scratch: Path) -> tuple[float, int]:
    from threadline.upgrades.migration import migrate

    copy = scratch / "copy"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(store, copy)
    opened = open_store(str(copy), check_versions=False)
    try:
        opened.drop_graph(STORE_GRAPH)  # as the previous release left it
        started = time.perf_counter()
        outcome = migrate(opened, actor="bench", backup_dir=None)
        return time.perf_counter() - started, outcome.rewritten
    finally:
        opened.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--work", type=Path, default=REPO / "var" / "bench-migrate")
    args = parser.parse_args()
    store = build(args.work, args.units)
    opens: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(args.reps):
        for check in (True, False):
            opens[check].append(time_open(store, check))
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["THREADLINE_ONTOLOGY_DIR"] = str(renaming_ontology(Path(tmp) / "ontology"))
        runs = [time_migrate(store, Path(tmp)) for _ in range(args.reps)]
    for check, times in opens.items():
        print(f"open_store, check_versions={check}: {_mmm([t * 1000 for t in times])} ms")
    rewritten = runs[0][1]
    print(
        f"migrate ({rewritten:,} statements renamed): {_mmm([t for t, _ in runs])} s; "
        f"{_mmm([rewritten / t for t, _ in runs], '{:,.0f}')} statements/s"
    )


def _mmm(values: list[float], fmt: str = "{:.2f}") -> str:
    return (
        " / ".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values))) + " (min/median/max)"
    )


if __name__ == "__main__":
    main()
