"""HTTP: ``POST /admin/backup`` — a verified backup of the store the service is running on (admin only).

Why a route: the on-disk store can be opened for writing by one process only, so while the service runs,
``threadline backup`` can reach its files only through a read-only open, which pyoxigraph calls undefined
beside a writer (the backup's digest check catches a torn copy, and it is retried). The service itself holds
the store: it takes a RocksDB checkpoint between staged writes (never half of a load being staged), then
records the digest of what the checkpoint holds, as the CLI does (``threadline.store.backup``). A remote
store is backed up as N-Quads through the protocol.
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from threadline.auth.guard import require
from threadline.auth.principal import Principal
from threadline.errors import StoreError
from threadline.store import EmbeddedStore, Store
from threadline.store.backup import BackupFailed, make_backup
from threadline.web import deps

Admin = Annotated[Principal, Depends(require("admin"))]
router = APIRouter(tags=["admin"])


def _backup(store: Store, settings: Any) -> tuple[str, str]:
    target = settings.var_dir / "backups"
    quiet = store.quiet(wait=True) if isinstance(store, EmbeddedStore) else contextlib.nullcontext()
    with quiet:
        path = store.backup(target)
    _, digest = make_backup(store, target, made=path)
    return str(path), digest


@router.post("/admin/backup", status_code=201)
async def backup(admin: Admin, store: deps.Store, settings: deps.Settings) -> JSONResponse:
    """Back up the running store under ``THREADLINE_VAR_DIR/backups``; returns where, and its digest."""
    try:
        path, digest = await run_in_threadpool(_backup, store, settings)
    except StoreError as exc:
        raise BackupFailed(f"backup failed: {exc}") from exc
    return JSONResponse({"backup": path, "digest": digest, "by": admin.actor}, status_code=201)
