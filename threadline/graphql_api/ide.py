"""Our GraphiQL page: vendored GraphiQL 4 (UMD) with the explorer plugin and the example operations.

Strawberry's own page loads GraphiQL, React and the plugin from a CDN, which an air-gapped plant cannot
reach; this one loads only files fetched at set-up into ``threadline/static/vendor/`` (served at
``/static/vendor/``) and opens one tab per file of ``graphql/examples/``. The page is plain HTML: the UMD
builds need no bundler.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from threadline.config import REPO_ROOT
from threadline.config import VENDOR_DIR as VENDOR

EXAMPLES_DIR = REPO_ROOT / "graphql" / "examples"

ASSETS = {
    "react": "react/umd/react.production.min.js",
    "react-dom": "react-dom/umd/react-dom.production.min.js",
    "graphiql-js": "graphiql/graphiql.min.js",
    "graphiql-css": "graphiql/graphiql.min.css",
    "explorer-js": "@graphiql__plugin-explorer/dist/index.umd.js",
    "explorer-css": "@graphiql__plugin-explorer/dist/style.css",
}


def missing_assets() -> list[str]:
    return [path for path in ASSETS.values() if not (VENDOR / path).is_file()]


def examples(folder: Path = EXAMPLES_DIR) -> list[dict[str, str]]:
    """The example operations, one tab each, in file-name order."""
    return [{"query": path.read_text(encoding="utf-8"), "variables": "{}"} for path in sorted(folder.glob("*.graphql"))]


def _url(key: str) -> str:
    return "/static/vendor/" + ASSETS[key]


def page(endpoint: str = "/graphql", folder: Path = EXAMPLES_DIR) -> str:
    """The explorer page, or a page saying how to fetch the vendored files when they are missing."""
    missing = missing_assets()
    if missing:
        listed = "".join(f"<li><code>{html.escape(m)}</code></li>" for m in missing)
        return (
            "<!doctype html><html lang=en><meta charset=utf-8><title>GraphiQL unavailable</title>"
            "<h1>GraphiQL is not installed</h1><p>The explorer's files are fetched once at set-up: run "
            "<code>python -m threadline.web.vendor</code>. Missing:</p><ul>" + listed + "</ul>"
            f"<p>The API itself answers POST requests at <code>{html.escape(endpoint)}</code>.</p></html>"
        )
    tabs = json.dumps(examples(folder)).replace("</", "<\\/")
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Threadline GraphQL explorer</title>
<link rel="icon" href="/static/favicon.svg">
<link rel="stylesheet" href="{_url("graphiql-css")}">
<link rel="stylesheet" href="{_url("explorer-css")}">
<style>html, body, #graphiql {{ height: 100%; margin: 0; }}</style>
</head>
<body>
<div id="graphiql">Loading the explorer…</div>
<script src="{_url("react")}"></script>
<script src="{_url("react-dom")}"></script>
<script src="{_url("graphiql-js")}"></script>
<script src="{_url("explorer-js")}"></script>
<script>
  const tabs = {tabs};
  const fetcher = GraphiQL.createFetcher({{ url: {json.dumps(endpoint)} }});
  const explorer = GraphiQLPluginExplorer.explorerPlugin();
  const root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(React.createElement(GraphiQL, {{
    fetcher,
    defaultTabs: tabs,
    defaultQuery: tabs.length ? tabs[0].query : undefined,
    plugins: [explorer],
    defaultEditorToolsVisibility: true,
    shouldPersistHeaders: false,
  }}));
</script>
</body>
</html>
"""
