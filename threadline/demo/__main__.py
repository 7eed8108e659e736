"""``python -m threadline.demo --units N --seed S [--history DAYS] --out DIR``: write a demo export set."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from threadline.demo.generate import DEFAULT_SEED, generate
from threadline.errors import DemoError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m threadline.demo", description=__doc__)
    parser.add_argument("--units", type=int, default=1000, help="finished units to build (default 1000)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    parser.add_argument("--history", type=int, default=0, help="days of delta exports after the base (default 0)")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    args = parser.parse_args(argv)

    def progress(phase: str, done: int, total: int) -> None:
        print(f"{phase}: {done}/{total}", file=sys.stderr)

    started = time.perf_counter()
    try:
        manifest = generate(args.out, args.units, args.seed, None if args.quiet else progress, args.history)
    except DemoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - started
    print(
        f"wrote {args.units} units (seed {args.seed}) to {args.out} in {elapsed:.1f} s; "
        f"{len(manifest.gaps)} seeded gaps, manifest at {args.out / 'manifest.json'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
