"""Small HTML pages Threadline serves itself: self-contained, no external assets, so they work air-gapped."""

from __future__ import annotations

from html import escape

from threadline import __version__

_STYLE = """
body{font:16px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1c2430;background:#f6f7f9}
main{max-width:760px;margin:3rem auto;padding:0 1.5rem}
h1{font-size:1.8rem;margin-bottom:.2rem} p.lead{color:#4a5565;margin-top:0}
ul{list-style:none;padding:0} li{background:#fff;border:1px solid #dde2e8;border-radius:8px;margin:.6rem 0;
padding:.8rem 1rem} a{color:#0b5cad;font-weight:600;text-decoration:none} a:hover{text-decoration:underline}
small{color:#6b7585}
"""

_LINKS = [
    ("/ontology", "Ontology", "The manufacturing ontology: classes, properties, diagram (Turtle at /ontology.ttl)."),
    ("/docs", "HTTP API", "Every route, its parameters and its answers (OpenAPI)."),
    ("/stats", "Store statistics", "Triples per named graph: one graph per loaded source batch."),
    ("/readyz", "Readiness", "Whether the service, its store and its query workers answer."),
]


def home_page() -> str:
    items = "".join(
        f'<li><a href="{escape(href)}">{escape(title)}</a><br><small>{escape(text)}</small></li>'
        for href, title, text in _LINKS
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Threadline</title>"
        f"<meta name=viewport content='width=device-width,initial-scale=1'><link rel=icon href=/static/favicon.svg>"
        f"<style>{_STYLE}</style></head>"
        f"<body><main><h1>Threadline</h1><p class=lead>A knowledge-graph digital thread for manufacturing: "
        f"design revision to as-built unit to CAPA. Version {escape(__version__)}.</p><ul>{items}</ul></main>"
        "</body></html>"
    )
