"""A real ``threadline load`` that SIGKILLs itself ``DELAY`` seconds after entering ``PHASE`` (tests/test_crash.py).

    python tests/crash_load.py PHASE DELAY STORE EXPORTS

PHASE is where the clock starts: ``start`` (process start), ``map`` (first mapping run), ``stage`` (bulk-staging
the batch graphs), ``commit`` (gate and commit update) or ``after`` (after-commit hooks: the KPI refresh). The
kill comes from a thread, so it lands wherever the load has got to by then — inside pyoxigraph's bulk load,
between two updates, or after the process would have ended (then the load simply completes). Nothing is
replaced: the wrapped functions run unchanged.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any


def _arm(delay: float) -> None:
    def kill() -> None:
        time.sleep(delay)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=kill, daemon=True).start()


def _on_entry(module: Any, name: str, delay: float) -> None:
    original: Callable[..., Any] = getattr(module, name)
    armed: list[bool] = []

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not armed:
            armed.append(True)
            _arm(delay)
        return original(*args, **kwargs)

    setattr(module, name, wrapper)


def main(phase: str, delay: float, store: str, exports: str) -> None:
    from threadline.cli import main as cli
    from threadline.ingest import hooks, loader

    if phase == "start":
        _arm(delay)
    else:
        module, name = {
            "map": (loader, "_map"),
            "stage": (loader, "_stage_all"),
            "commit": (loader, "_commit"),
            "after": (hooks, "run_after"),
        }[phase]
        _on_entry(module, name, delay)
    cli(["load", "mes", exports, "--store", store], standalone_mode=True)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4])
