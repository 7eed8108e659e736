"""Build hook: ship the domain content folders inside the wheel.

Ontology, mapping pack, shapes, named queries and GraphQL operations live at the top of the repository so that
the people who own them can edit plain files; an installed Threadline finds them under ``threadline/_data/``
(see ``threadline.config.content_dir``). All other metadata is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

CONTENT = ("ontology", "ingest", "shapes", "queries", "graphql")


class BuildWithContent(build_py):
    def run(self) -> None:
        super().run()
        root = Path(__file__).resolve().parent
        target = Path(self.build_lib) / "threadline" / "_data"
        for name in CONTENT:
            source = root / name
            if source.is_dir():
                shutil.copytree(
                    source, target / name, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
                )


setup(cmdclass={"build_py": BuildWithContent})
