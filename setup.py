"""Build hook: ship the domain content folders and the front-end assets inside the wheel.

Ontology, mapping pack, shapes, named queries and GraphQL operations live at the top of the repository so that
the people who own them can edit plain files; an installed Threadline finds them under ``threadline/_data/``
(see ``threadline.config.content_dir``). The explorers' third-party files (GraphiQL, YASGUI, Swagger UI) are
never committed but fetched, pinned and verified (``threadline.web.vendor``); a wheel is what an air-gapped plant
installs, so a wheel build fetches whatever is missing, and fails rather than ship without them. Editable
installs skip that: ``bin/setup`` fetches the assets after installing. All other metadata is in pyproject.toml.
"""

import importlib.util
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

CONTENT = ("ontology", "ingest", "shapes", "queries", "graphql")
ROOT = Path(__file__).resolve().parent


def _vendor():  # type: ignore[no-untyped-def]
    """threadline/web/vendor.py by path: it needs only the standard library, the package's dependencies may be
    absent from the build environment."""
    spec = importlib.util.spec_from_file_location("_threadline_vendor", ROOT / "threadline" / "web" / "vendor.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


class BuildWithContent(build_py):
    def run(self) -> None:
        if not getattr(self, "editable_mode", False):
            self._fetch_assets()
        super().run()
        target = Path(self.build_lib) / "threadline" / "_data"
        for name in CONTENT:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(
                    source, target / name, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
                )

    def _fetch_assets(self) -> None:
        vendor = _vendor()
        try:
            for package in vendor.missing():
                print(f"fetching {package['name']}@{package['version']} for the wheel")
                vendor.fetch(package)
        except vendor.VendorError as exc:
            raise SystemExit(f"error: the wheel would lack its front-end assets: {exc}") from exc


setup(cmdclass={"build_py": BuildWithContent})
