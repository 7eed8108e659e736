"""Write the schema's SDL to ``graphql/schema.graphql`` (committed, so reviews see API changes).

python -m threadline.graphql_api.export            # rewrite graphql/schema.graphql
python -m threadline.graphql_api.export --check    # exit 1 when the committed file is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from threadline.config import REPO_ROOT

SDL_PATH = REPO_ROOT / "graphql" / "schema.graphql"


def main(argv: list[str] | None = None) -> int:
    from threadline.graphql_api.schema import sdl

    parser = argparse.ArgumentParser(prog="python -m threadline.graphql_api.export", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only check that the committed SDL is current")
    parser.add_argument("--out", type=Path, default=SDL_PATH, help="where to write the SDL")
    args = parser.parse_args(argv)
    text = sdl()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.is_file() else ""
        if current != text:
            print(f"{args.out} is stale: run python -m threadline.graphql_api.export", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
