"""Disk space for a load: where it stages, what it needs, and refusing one that would not fit.

A load writes twice: its mapped N-Triples into a staging folder, then the same triples into the store. A disk
that fills up halfway is the worst way for either to end (at 100k units, staging in ``/tmp`` once filled the
system's temporary disk with 5.3 GB of N-Triples), so a load that would not fit is refused, with the folder,
the space needed and the space free named, before the store is written:

1. **before mapping**, from the input sizes: staged bytes ≈ ``STAGED_PER_INPUT`` x input bytes; the store grows
   by ``STORE_PER_STAGED`` x the staged bytes for good, and for a while by ``COMPACTION_HEADROOM`` x its present
   size more (the compaction after a large load writes the new files before it deletes the old ones); both
   disks (one, if they are the same) must keep ``reserve`` free after;
2. **while mapping**, every 50,000 triples (about 5 MB): the staging disk must still have ``reserve`` free (the
   estimate is a ratio, and one mapping's ratio differs from another's: 1.4x to 55x on the demo); a disk that
   fills up anyway (another process) is refused the same way, never a raw ``OSError``;
3. **before staging into the store**, from the staged bytes now known: the store's disk must hold their growth.

The ratios are measured on the 10k-unit demo (docs/performance.md, "Staging disk", ``bench/store_size.py``):
776 MB of N-Triples from 99 MB of exports (7.8x; per system 6.8x to 32x). Loading MES into an almost empty store
grew it by 2.17x its 637 MB of staged triples at the peak (1.83x after); loading QMS (135 MB staged) into the
1,183 MB store grew it by 710 MB at the peak (275 MB after): 2.2x the staged bytes plus 0.37x the store.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import os
import shutil
import tarfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TextIO

from threadline.errors import InsufficientSpace
from threadline.store import EmbeddedStore, Store
from threadline.store.embedded import BULK_TIDY_THRESHOLD
from threadline.store.leftovers import staging_root

STAGED_PER_INPUT = 8.0  # N-Triples bytes per input byte (demo, 10k units: 7.8 over all four systems)
STORE_PER_STAGED = 2.2  # peak store growth per staged N-Triples byte (demo: 2.17; 1.83 to 2.03 once compacted)
COMPACTION_HEADROOM = 0.4  # extra space a compaction of the whole store takes for a while, per store byte (0.37)
TIDY_STAGED_BYTES = BULK_TIDY_THRESHOLD * 150  # staged bytes of a load the store is compacted after (demo: 170/triple)
COMPRESSED_EXPANSION = 10.0  # a tar archive's size when unpacked, per packed byte (its members are not listed cheaply)


@dataclass
class Space:
    """Where a load stages and which disks it must fit on."""

    staging: Path
    store: Path | None  # the on-disk store's folder; None when its disk is not this process's (memory, remote)
    reserve: int
    store_bytes: int = 0  # the on-disk store's size when the load started

    def growth(self, staged: int, *, compacts: bool) -> int:
        """How much more of the store's disk a load of ``staged`` N-Triples bytes takes at its peak; ``compacts``:
        the load is large enough for the store to be compacted after it (``EmbeddedStore.tidy_after_bulk_write``)."""
        if self.store is None:
            return 0
        return int(staged * STORE_PER_STAGED + (self.store_bytes * COMPACTION_HEADROOM if compacts else 0))

    def check(self, staged: int, growth: int) -> None:
        """Refuse unless ``staged`` more bytes fit on the staging disk and ``growth`` on the store's, each keeping
        ``reserve`` free (both on one disk when they share it)."""
        needs = [(self.staging, staged)]
        if self.store is not None:
            if _same_disk(self.staging, self.store):
                needs = [(self.staging, staged + growth)]
            else:
                needs.append((self.store, growth))
        for folder, needed in needs:
            _fits(folder, needed, self.reserve)

    def still_fits(self) -> None:
        """While mapping: the staging disk still keeps the reserve free."""
        _fits(self.staging, 0, self.reserve)

    @contextlib.contextmanager
    def writing(self, path: Path) -> Iterator[TextIO]:
        """``path`` open for the mapped N-Triples; a full disk becomes ``InsufficientSpace``."""
        with self._refusing_a_full_disk(path, "mapping"), path.open("w", encoding="utf-8", newline="\n") as handle:
            yield handle

    @contextlib.contextmanager
    def receiving(self, path: Path) -> Iterator[BinaryIO]:
        """``path`` open for an HTTP upload; a full disk becomes ``InsufficientSpace`` (507), not a 500."""
        with self._refusing_a_full_disk(path, "receiving the upload"), path.open("wb") as handle:
            yield handle

    @contextlib.contextmanager
    def _refusing_a_full_disk(self, path: Path, doing: str) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            free = shutil.disk_usage(self.staging).free
            raise InsufficientSpace(
                f"the staging disk filled up while {doing} into {self.staging} ({_size(free)} free now); free some "
                "space or choose another folder (THREADLINE_STAGING_DIR, load --staging-dir)",
                folder=str(self.staging),
                needed=(path.stat().st_size if path.exists() else 0) + self.reserve,
                free=free,
            ) from exc


def space_for(store: Store, staging: Path | None, reserve: int) -> Space:
    """The staging folder (``staging``, else ``<store>.staging`` beside an on-disk store, else the system's
    temporary folder), created if missing, and the disks a load into ``store`` must fit on."""
    path = store.path if isinstance(store, EmbeddedStore) and not store.read_only else None
    folder = staging or (staging_root(path) if path is not None else None)
    if folder is None:
        import tempfile

        folder = Path(tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    return Space(folder, path, reserve, _du(path) if path is not None else 0)


def estimate(sources: Iterable[tuple[Path, str | None]]) -> int:
    """The N-Triples bytes a load of ``sources`` (each file with its declared compression, once per mapping that
    reads it) is expected to stage."""
    return int(sum(unpacked_size(path, compression) for path, compression in sources) * STAGED_PER_INPUT)


def unpacked_size(path: Path, compression: str | None) -> int:
    """A source's size as the mapping reads it: a gzip file's recorded length, a zip member's, a tar estimated."""
    size = path.stat().st_size
    try:
        if compression == "gzip":
            with path.open("rb") as handle:
                handle.seek(-4, 2)
                recorded = int.from_bytes(handle.read(4), "little")  # the length modulo 4 GiB
            return max(recorded, size)
        if compression == "zip":
            with zipfile.ZipFile(path) as archive:
                return sum(info.file_size for info in archive.infolist())
    except (OSError, zipfile.BadZipFile, gzip.BadGzipFile):
        return size  # the mapping itself will say what is wrong with the file
    if compression is not None and tarfile.is_tarfile(path):
        return int(size * COMPRESSED_EXPANSION)
    return size


def _fits(folder: Path, needed: int, reserve: int) -> None:
    free = shutil.disk_usage(folder).free
    if needed + reserve > free:
        raise InsufficientSpace(
            f"not enough disk space for this load in {folder}: it needs about {_size(needed)} there and "
            f"{_size(reserve)} must stay free (THREADLINE_DISK_RESERVE_BYTES), but only {_size(free)} is free; "
            "free some space or choose another folder (THREADLINE_STAGING_DIR, load --staging-dir)",
            folder=str(folder),
            needed=needed + reserve,
            free=free,
        )


def _du(folder: Path) -> int:
    """Bytes a store folder's files occupy (a RocksDB folder is flat: tens to hundreds of files). A file that
    compaction deletes between the listing and its stat counts as nothing, not as a failed load (seen in a
    fresh-clone test run: ``FileNotFoundError`` on an ``.sst`` file)."""
    total = 0
    with os.scandir(folder) as entries:
        for entry in entries:
            with contextlib.suppress(FileNotFoundError):
                if entry.is_file():
                    total += entry.stat().st_blocks * 512
    return total


def _same_disk(a: Path, b: Path) -> bool:
    try:
        return a.stat().st_dev == b.stat().st_dev
    except OSError:
        return True  # the stricter reading: everything on one disk


def _size(count: int) -> str:
    """Decimal units, as ``df -H`` shows them."""
    if count < 1000:
        return f"{count} bytes"
    for power, unit in ((3, "GB"), (2, "MB"), (1, "kB")):
        if count >= 1000**power:
            return f"{count / 1000**power:,.1f} {unit}"
    return f"{count} bytes"
