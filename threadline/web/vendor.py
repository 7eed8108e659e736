"""Fetch the third-party front-end assets Threadline serves (GraphiQL, YASGUI, ...), pinned and verified.

The project commits no third-party code, and plants are air-gapped at run time, so the explorers' files are
fetched once at set-up: ``npm pack NAME@VERSION`` (the ordinary npm client, whatever registry it is set up
for), the tarball's sha512 checked against the integrity committed in ``threadline/vendor.json``, and only
the files listed there extracted into ``threadline/static/vendor/NAME/`` — a git-ignored folder that built
wheels include. Nothing is loaded from a CDN at run time.

    python -m threadline.web.vendor            # fetch what is missing (bin/setup runs this)
    python -m threadline.web.vendor --check    # exit 1 if anything is missing
    python -m threadline.web.vendor --pin NAME@VERSION   # print the integrity to commit for a new package

Written by hand because no Python package vendors npm tarballs with integrity checks; it is 100 lines.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent  # the package folder: static/ and vendor.json live there
MANIFEST = HERE / "vendor.json"
VENDOR_DIR = HERE / "static" / "vendor"  # config.VENDOR_DIR: this file runs standalone (setup.py), so not imported


class VendorError(RuntimeError):
    """A package could not be fetched or did not match its pinned integrity."""


def manifest() -> list[dict]:
    return json.loads(MANIFEST.read_text())["packages"]


def target(package: dict) -> Path:
    return VENDOR_DIR / package["name"].replace("/", "__")


def missing() -> list[dict]:
    return [p for p in manifest() if not all((target(p) / f).is_file() for f in p["files"])]


def _pack(spec: str, workdir: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise VendorError("npm is not installed: it is needed once, at set-up, to fetch the explorers' files")
    result = subprocess.run(
        [npm, "pack", spec, "--json", "--pack-destination", str(workdir)],
        capture_output=True,
        text=True,
        check=False,
        cwd=workdir,
    )
    if result.returncode != 0:
        raise VendorError(f"npm pack {spec} failed: {result.stderr.strip()[-500:]}")
    return workdir / json.loads(result.stdout)[0]["filename"]


def integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def fetch(package: dict) -> None:
    spec = f"{package['name']}@{package['version']}"
    with tempfile.TemporaryDirectory(prefix="threadline-vendor-") as tmp:
        tarball = _pack(spec, Path(tmp))
        actual = integrity(tarball)
        if actual != package["integrity"]:
            raise VendorError(f"{spec}: integrity mismatch (expected {package['integrity']}, got {actual})")
        out = target(package)
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        with tarfile.open(tarball) as archive:
            for name in package["files"]:
                member = archive.getmember(f"package/{name}")
                source = archive.extractfile(member)
                if source is None:
                    raise VendorError(f"{spec}: {name} is not a file")
                dest = out / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(source.read())
        (out / "VERSION").write_text(f"{spec}\n{package['integrity']}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m threadline.web.vendor", description="Fetch front-end assets.")
    parser.add_argument("--check", action="store_true", help="only report whether anything is missing")
    parser.add_argument("--pin", metavar="NAME@VERSION", help="print the integrity of a package to pin")
    args = parser.parse_args(argv)
    try:
        if args.pin:
            with tempfile.TemporaryDirectory() as tmp:
                print(integrity(_pack(args.pin, Path(tmp))))
            return 0
        todo = missing()
        if args.check:
            for package in todo:
                print(f"missing: {package['name']}@{package['version']}")
            return 1 if todo else 0
        for package in todo:
            print(f"fetching {package['name']}@{package['version']}", file=sys.stderr)
            fetch(package)
    except VendorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
