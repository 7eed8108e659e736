"""A real ``threadline load`` that stops in its validation gate — holding the store's writer lease — until told to
go on (tests/test_shared_store.py): the test kills it there, or freezes it past its lease and lets it go on.

    python tests/stalled_load.py STORE EXPORT GO_FILE

The gate is a ``before_commit`` hook, the extension point the SHACL gate itself uses: it prints ``holding`` once
the batch is staged and the lease taken, then waits for GO_FILE to exist. The ingest folder comes from
``THREADLINE_INGEST_DIR``. The exit status and standard error are the CLI's.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def main(store: str, export: str, go: str) -> None:
    from threadline.cli import main as cli
    from threadline.ingest import hooks

    def gate(_store: object, _activity: object) -> None:
        print("holding", flush=True)
        while not Path(go).exists():
            time.sleep(0.05)

    hooks.before_commit(gate)
    cli(["load", "mes", export, "--mode", "delta", "--store", store], standalone_mode=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
