"""Documentation keeps up with the code: every setting and every command is documented."""

from __future__ import annotations

from pathlib import Path

import click

from threadline.cli import main
from threadline.config import Settings

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _commands(group: click.Group, prefix: str = "") -> list[str]:
    names = []
    for name, command in group.commands.items():
        full = f"{prefix}{name}"
        if isinstance(command, click.Group):
            names.extend(_commands(command, f"{full} "))
        else:
            names.append(full)
    return names


def test_every_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    missing = [
        f"THREADLINE_{name.upper()}" for name in Settings.model_fields if f"THREADLINE_{name.upper()}" not in text
    ]
    assert not missing, f"settings missing from docs/configuration.md: {missing}"


def test_every_setting_has_a_description() -> None:
    assert all(field.description for field in Settings.model_fields.values())


def test_every_command_is_documented() -> None:
    text = (DOCS / "cli.md").read_text()
    missing = [name for name in _commands(main) if f"`{name}`" not in text]
    assert not missing, f"commands missing from docs/cli.md: {missing}"


def test_docs_index_links_resolve() -> None:
    import re

    index = (DOCS / "index.md").read_text()
    for target in re.findall(r"\]\(([\w-]+\.md)\)", index):
        assert (DOCS / target).is_file(), f"docs/index.md links to missing {target}"


def test_settings_table_is_current() -> None:
    from threadline.config import markdown_table

    assert markdown_table() in (DOCS / "configuration.md").read_text(), (
        "docs/configuration.md is stale: paste the output of `python -m threadline.config`"
    )


def test_every_route_is_documented() -> None:
    """Every path the app serves (its OpenAPI paths, as FastAPI writes them) is named on some page of docs/."""
    from threadline import features
    from threadline.web.app import create_app

    app = create_app(Settings(store="memory:"))
    features.uninstall()  # create_app installs the load hooks process-wide
    text = "\n".join(page.read_text() for page in DOCS.glob("*.md"))
    paths = set(app.openapi()["paths"])
    assert paths, "the app serves no documented route"
    missing = sorted(path for path in paths if path not in text)
    assert not missing, f"routes documented on no page of docs/: {missing}"
