"""SIGKILL during a load, 20 times: every verb then sees exactly the state before or after it.

The kills land at random points of every phase of a real ``threadline load`` (``tests/crash_load.py``: mapping,
bulk staging, the gate and commit, the after-commit KPI refresh). After each, the verbs run in-process over
the killed store — query, stats, dump, validate, audit verify, kpi refresh — each opening it the one way every
verb does (``open_store``, which recovers), often while the leftovers are still being removed. Each verb's
answer must equal its answer on a reference store holding the state before or the one after the load.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyoxigraph as ox
import pytest
from click.testing import CliRunner

from tests.conftest import REPO
from threadline.cli import main
from threadline.demo import generate
from threadline.namespaces import BATCH_GRAPH_PREFIX
from threadline.store import EmbeddedStore
from threadline.store.recovery import uncommitted

KILLS = 20
SEED = 20261207
PHASES = ("start", "map", "stage", "commit", "after")
BATCH_COUNT = (
    "SELECT (COUNT(*) AS ?n) (COUNT(DISTINCT ?g) AS ?graphs) WHERE { GRAPH ?g { ?s ?p ?o } "
    f'FILTER(STRSTARTS(STR(?g), "{BATCH_GRAPH_PREFIX}")) }}'
)
_STATS_ROW = re.compile(r"│ (\S+?)…? +│ +([\d,]+) │")


def _verb(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code in (0, 1), f"threadline {' '.join(args)}: {result.output}"
    return result.exit_code, result.stdout


def _views(store: Path) -> dict[str, object]:
    """What each verb shows of the thread (the batch graphs' data), read through the CLI."""
    url = str(store)
    views: dict[str, object] = {}
    code, out = _verb("query", "--sparql", BATCH_COUNT, "--format", "csv", "--store", url)
    views["query"] = (code, out.strip())
    code, out = _verb("query", "oee-by-work-unit", "--format", "json", "--store", url)
    views["named query"] = (code, out.strip())
    code, out = _verb("stats", "--store", url)
    rows = [(g, int(n.replace(",", ""))) for g, n in _STATS_ROW.findall(out) if g.startswith(BATCH_GRAPH_PREFIX)]
    views["stats"] = (code, len(rows), sum(n for _, n in rows))
    code, out = _verb("dump", "--store", url)
    views["dump"] = (
        code,
        frozenset(
            (q.subject, q.predicate, q.object)
            for q in ox.parse(out.encode(), ox.RdfFormat.N_QUADS)
            if q.graph_name.value.startswith(BATCH_GRAPH_PREFIX)
        ),
    )
    code, out = _verb("validate", "--format", "json", "--store", url)
    views["validate"] = (code, frozenset((r["focus"], r["message"]) for r in json.loads(out)["results"]))
    code, out = _verb("audit", "verify", "--store", url)
    views["audit verify"] = code
    code, out = _verb("kpi", "refresh", "--store", url)
    views["kpi"] = (code, out.strip())
    return views


@pytest.mark.slow
def test_sigkill_during_load_every_verb_sees_before_or_after(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    generate(first, units=30, seed=1)  # its PLM export is the state before: the load commits beside it
    generate(second, units=200, seed=2)
    monkeypatch.setenv("THREADLINE_INGEST_DIR", str(REPO / "ingest"))
    env = {**os.environ}
    driver = [sys.executable, str(REPO / "tests" / "crash_load.py")]

    base = tmp_path / "base"
    assert _verb("load", "plm", str(first / "plm"), "--store", str(base))[0] == 0
    reference = tmp_path / "reference"
    shutil.copytree(base, reference)
    before = _views(reference)
    started = time.perf_counter()
    subprocess.run([*driver, "start", "3600", str(reference), str(second / "mes")], env=env, check=True)
    lifetime = time.perf_counter() - started
    after = _views(reference)
    assert before["dump"] != after["dump"] and before["query"] != after["query"]
    assert before["audit verify"] == after["audit verify"] == 0

    rng = random.Random(SEED)
    print(f"crash test seed {SEED}; a full load takes {lifetime:.1f} s")
    plans = []
    for attempt in range(KILLS):
        phase = PHASES[attempt % len(PHASES)]
        plans.append((attempt, phase, rng.uniform(0, lifetime) if phase == "start" else rng.uniform(0, 0.5)))
    outcomes: dict[str, int] = {"before": 0, "after": 0}
    leftovers: list[Path] = []

    def launch(attempt: int, phase: str, delay: float) -> subprocess.Popen[bytes]:
        store = tmp_path / f"store-{attempt}"
        shutil.copytree(base, store)
        command = [*driver, phase, f"{delay:.3f}", str(store), str(second / "mes")]
        return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    running = launch(*plans[0])
    for index, (attempt, phase, delay) in enumerate(plans):
        running.wait()
        label = f"attempt {attempt} ({phase} + {delay:.3f} s, exit {running.returncode})"
        if index + 1 < len(plans):  # the next load runs while this one's store is checked
            running = launch(*plans[index + 1])
        store = tmp_path / f"store-{attempt}"
        opened = EmbeddedStore(store)  # the recovering open every verb goes through
        if opened.hidden:
            leftovers.append(store)
        opened.close()  # stops the cleanup midway: the verbs below reopen, hide and resume it
        views = _views(store)
        assert views["audit verify"] == 0, f"{label}: audit chain broken"
        state = "before" if views["dump"] == before["dump"] else "after"
        expected = before if state == "before" else after
        for verb, view in views.items():
            assert view == expected[verb], f"{label}: {verb} shows neither the state before nor after ({state}?)"
        outcomes[state] += 1
    print(f"SIGKILL outcomes over {KILLS} kills: {outcomes}; {len(leftovers)} left uncommitted graphs")
    assert outcomes["before"] and outcomes["after"], "the kills never landed on both sides of the commit"
    assert leftovers, "no kill landed between staging and commit"
    finished = EmbeddedStore(leftovers[-1])
    assert finished.wait_recovered(timeout=600), "leftovers still hidden after the cleanup"
    assert not uncommitted(finished.native), "uncommitted graphs left after the cleanup"
    finished.close()
