"""The package layers of docs/architecture.md, checked: no module imports a higher layer, no package cycles.

Imports are read with ``ast`` from the source, every one of them: at module level, inside functions (a
function-level import is still a dependency, only a later one) and under ``if TYPE_CHECKING`` (a type is a
dependency too). A module's layer is its package's, except that modules named ``routes`` (or ``*_routes``)
belong to the web layer and modules named ``commands`` to the CLI layer, whatever package holds them: a feature
keeps its HTTP routes and its commands beside its code, yet they are the surface, not the feature.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "threadline"

# Lowest first. A module may import its own layer and the layers below it, never one above.
LAYERS: list[tuple[str, set[str]]] = [
    ("base", {"threadline", "errors", "config", "namespaces"}),
    ("store", {"store"}),
    ("domain", {"ontology", "mapping", "audit", "auth", "upgrades", "observability", "history"}),
    ("services", {"ingest", "shacl", "signatures", "records", "kpi", "queries", "sparql", "graphql_api"}),
    ("surface", {"web", "cli", "features", "demo", "__main__"}),
]
WEB, CLI = "web", "cli"

# Deliberate upward imports: (importing module, imported module) -> why.
ALLOWED: dict[tuple[str, str], str] = {
    ("threadline.store", "threadline.upgrades.gate"): (
        "every open passes the version gate (docs/upgrades.md), so no caller can forget it; the gate needs the "
        "whole upgrades package, which is built on the store. Imported inside open_store: importing the store "
        "never imports upgrades."
    ),
}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the imported threadline module (or package)
    line: int
    top_level: bool  # executed when the importing module is imported


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def unit(module: str) -> str:
    """The package a module counts in: its top-level package under threadline, or web/cli by name."""
    parts = module.split(".")
    if parts[-1] == "routes" or parts[-1].endswith("_routes"):
        return WEB
    if parts[-1] == "commands":
        return CLI
    return parts[1] if len(parts) > 1 else "threadline"


def layer(module: str) -> int:
    name = unit(module)
    for rank, (_, members) in enumerate(LAYERS):
        if name in members:
            return rank
    raise AssertionError(f"{module}: package {name!r} is in no layer: add it to LAYERS and docs/architecture.md")


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imports(module: str, source: str, is_package: bool, known: set[str]) -> Iterator[Import]:
    """The threadline modules ``source`` (the text of ``module``) imports."""
    tree = ast.parse(source, module)
    top: set[int] = set()

    def mark(body: list[ast.stmt]) -> None:  # statements run at import: not inside a def
        for statement in body:
            top.add(id(statement))
            if isinstance(statement, ast.If | ast.Try | ast.With | ast.ClassDef):
                for field in ("body", "orelse", "finalbody"):
                    mark(getattr(statement, field, []))
                for handler in getattr(statement, "handlers", []):
                    mark(handler.body)

    mark(tree.body)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            origin = _resolve(node, module, is_package)
            # ``from threadline.x import y`` imports the module threadline.x.y when there is one
            targets = [f"{origin}.{a.name}" if f"{origin}.{a.name}" in known else origin for a in node.names]
        else:
            continue
        for target in dict.fromkeys(targets):
            if target == "threadline" or target.startswith("threadline."):
                yield Import(module, target, node.lineno, id(node) in top)


def all_imports() -> list[Import]:
    found = modules()
    known = set(found)
    return [
        each
        for module, path in found.items()
        for each in imports(module, path.read_text(encoding="utf-8"), path.name == "__init__.py", known)
    ]


def test_every_package_has_a_layer() -> None:
    for module in modules():
        layer(module)


def test_no_module_imports_a_higher_layer() -> None:
    wrong = []
    for each in all_imports():
        if layer(each.target) > layer(each.module) and (each.module, each.target) not in ALLOWED:
            wrong.append(
                f"{each.module} (layer {LAYERS[layer(each.module)][0]}) imports {each.target} "
                f"(layer {LAYERS[layer(each.target)][0]}), line {each.line}"
            )
    assert not wrong, "imports of a higher layer (docs/architecture.md):\n" + "\n".join(wrong)


def test_every_import_names_a_module_that_exists() -> None:
    """A module moved between packages leaves no import of its old name behind (a function-level one would fail
    only when it runs)."""
    known = set(modules())
    missing = [f"{each.module}, line {each.line}: {each.target}" for each in all_imports() if each.target not in known]
    assert not missing, "imports of modules that do not exist:\n" + "\n".join(missing)


def test_deliberate_exceptions_are_still_needed() -> None:
    used = {(each.module, each.target) for each in all_imports()}
    stale = [pair for pair in ALLOWED if pair not in used]
    assert not stale, f"ALLOWED lists imports that no longer exist: {stale}"


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one package (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_between_packages() -> None:
    edges: dict[str, set[str]] = {}
    why: dict[tuple[str, str], str] = {}
    for each in all_imports():
        source, target = unit(each.module), unit(each.target)
        if each.top_level and source != target:
            edges.setdefault(source, set()).add(target)
            why.setdefault((source, target), f"{each.module} -> {each.target} (line {each.line})")
    found = cycles(edges)
    described = [
        " / ".join(cycle) + ": " + "; ".join(why[(a, b)] for a in cycle for b in cycle if (a, b) in why)
        for cycle in found
    ]
    assert not found, "packages importing each other at module level:\n" + "\n".join(described)


def test_the_checks_can_fail() -> None:
    """The rules catch what they are for: an upward import, a function-level one, a cycle."""
    assert layer("threadline.store.embedded") < layer("threadline.sparql.execution")
    assert unit("threadline.sparql.routes") == WEB and unit("threadline.store.backup_routes") == WEB
    assert unit("threadline.audit.commands") == CLI
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    source = "import os\nfrom threadline.store import base\n\ndef f():\n    from threadline.web import app\n"
    found = [(i.target, i.top_level) for i in imports("threadline.store.x", source, False, set(modules()))]
    assert found == [("threadline.store.base", True), ("threadline.web.app", False)]
