"""HTTP: ``POST /ingest/{system}`` — load uploaded source exports through a system's mapping pack.

Uploads are written under their client-given base names into a fresh folder inside the load's staging folder
(``threadline.ingest.space``: beside an on-disk store, not ``/tmp``), because the mapping pack matches files to
mappings by name. A name is used only if it is a plain file name: ``..`` (whose ``Path.name`` is itself) would
write over the folder, and two uploads of one name would silently keep only the last. The load runs in a worker
thread with the app's input limits bound (``threadline.mapping.limits``), so the limits of
``create_app(settings)`` hold, not only the environment's.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, UploadFile
from starlette.concurrency import run_in_threadpool

from threadline.auth import Principal, require
from threadline.errors import Forbidden, InvalidRequest, NotFound
from threadline.web import deps
from threadline.web.errors import error_responses, public

Integrator = Annotated[Principal, Depends(require("integrator"))]
router = APIRouter()


def upload_name(upload: UploadFile, seen: set[str]) -> str:
    """The file name to store an upload under, or a 422 naming the offending name."""
    raw = upload.filename or ""
    name = Path(raw).name
    if not name or name in (".", "..") or "\x00" in name:
        raise InvalidRequest(f"uploaded file name {raw!r} is not a file name")
    if name in seen:
        raise InvalidRequest(f"two uploaded files are both named {name!r}")
    seen.add(name)
    return name


def _load(store: Any, system: str, paths: list[Path], settings: Any, options: Any) -> Any:
    from threadline.ingest import load_files
    from threadline.mapping import limits

    with limits.applied(limits.InputLimits.from_settings(settings)):
        return load_files(store, system, paths, ingest_dir=settings.ingest_dir, options=options)


def _reject_file(path: Path | None, settings: Any) -> str | None:
    """The reject file relative to the service's working folder: clients never see server paths."""
    if path is None:
        return None
    try:
        return str(Path(path).resolve().relative_to(Path(settings.var_dir).resolve()))
    except ValueError:
        return Path(path).name


@router.post(
    "/ingest/{system}",
    responses=error_responses(401, 403, 404, 413, 422, 507),
)
async def ingest(
    system: str,
    files: list[UploadFile],
    principal: Integrator,
    store: deps.Store,
    settings: deps.Settings,
    # enums documented, checked below after the role check (a caller without the role learns nothing)
    mode: Annotated[str, Query(json_schema_extra={"enum": ["snapshot", "delta"]})] = "snapshot",
    on_error: Annotated[str, Query(json_schema_extra={"enum": ["fail", "skip"]})] = "fail",
) -> dict[str, Any]:
    """Load source exports (multipart ``files``) through ``system``'s mapping pack, as one batch (integrator)."""
    from threadline.ingest import LoadOptions, describe
    from threadline.ingest.space import space_for
    from threadline.namespaces import BATCH_GRAPH_PREFIX

    if not principal.in_scope(f"{BATCH_GRAPH_PREFIX}{system}/"):
        raise Forbidden(f"token {principal.token_id} may not write {system} batches (outside its scope)")
    if mode not in ("snapshot", "delta") or on_error not in ("fail", "skip"):
        raise InvalidRequest("mode must be snapshot|delta and on_error fail|skip")
    if not system.isidentifier() or not (Path(settings.ingest_dir) / system).is_dir():
        raise NotFound(f"unknown source system {system!r}: no mapping pack of that name")
    space = space_for(store, settings.staging_dir, settings.disk_reserve_bytes)
    with tempfile.TemporaryDirectory(prefix="threadline-upload-", dir=space.staging) as tmp:
        paths = []
        seen: set[str] = set()
        for upload in files:
            path = Path(tmp) / upload_name(upload, seen)
            with space.receiving(path) as handle:
                await run_in_threadpool(shutil.copyfileobj, upload.file, handle)
            paths.append(path)
        options = LoadOptions(
            mode=mode,  # type: ignore[arg-type]  # checked against the Literal's values just above
            on_error=on_error,  # type: ignore[arg-type]  # checked against the Literal's values just above
            agent=principal.actor,
            reject_dir=settings.var_dir / "rejects",
            staging_dir=settings.staging_dir,
            disk_reserve=settings.disk_reserve_bytes,
        )
        activity = await run_in_threadpool(_load, store, system, paths, settings, options)
    return {
        "activity": activity.iri,
        "batches": describe(activity),
        "rejectFile": _reject_file(activity.reject_file, settings),
        # committed, but an after-commit step failed (as the CLI prints "after the load: ..."): say so
        "hookErrors": [public(str(error), settings) for error in activity.hook_errors],
    }
