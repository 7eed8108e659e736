"""The YASGUI page at /sparql, served from vendored files and pointed only at this service.

YASGUI would otherwise query a public endpoint, list public endpoints in its catalogue, and complete classes
and properties through an online vocabulary service; plants are air-gapped, so all three point here: the
endpoint and the catalogue are this service's /sparql, and class/property completion comes from our own
ontology (served as JSON at /sparql/vocabulary.json). Prefixes are the ontology's.
"""

from __future__ import annotations

import functools
import json
from html import escape

import pyoxigraph as ox

from threadline.config import VENDOR_DIR
from threadline.namespaces import PREFIXES, TL

ASSET_DIR = VENDOR_DIR / "@zazuko__yasgui" / "build"
ASSETS = {"yasgui.min.js": "text/javascript", "yasgui.min.css": "text/css"}
OWL = "http://www.w3.org/2002/07/owl#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"

DEFAULT_QUERY = """PREFIX tl: <https://w3id.org/threadline/ontology#>

SELECT DISTINCT ?unit ?serial ?status WHERE {
  ?unit a tl:SerializedUnit ;
        tl:serialNumber ?serial ;
        tl:unitStatus ?status .
}
ORDER BY ?serial
LIMIT 25
"""


@functools.lru_cache(maxsize=1)
def vocabulary() -> dict[str, list[str]]:
    """IRIs of the ontology's classes and properties, for the editor's completers."""
    from threadline.ontology import ontology_turtle

    try:
        triples = list(ox.parse(ontology_turtle().encode(), ox.RdfFormat.TURTLE))
    except Exception:  # the editor still works without completion
        return {"classes": [], "properties": []}
    kinds: dict[str, set[str]] = {"classes": set(), "properties": set()}
    for triple in triples:
        if triple.predicate.value != RDF_TYPE or not isinstance(triple.subject, ox.NamedNode):
            continue
        kind = triple.object.value
        if kind in (OWL + "Class",):
            kinds["classes"].add(triple.subject.value)
        elif kind in (OWL + "ObjectProperty", OWL + "DatatypeProperty", OWL + "AnnotationProperty"):
            kinds["properties"].add(triple.subject.value)
    return {key: sorted(value) for key, value in kinds.items()}


def service_description(endpoint: str, media: str) -> bytes:
    """A SPARQL 1.1 Service Description of this endpoint (what a GET without a query returns)."""
    from threadline.sparql import negotiation as neg

    sd = "http://www.w3.org/ns/sparql-service-description#"
    fmt = "http://www.w3.org/ns/formats/"
    service = ox.BlankNode("service")
    triples = [
        (ox.NamedNode(RDF_TYPE), ox.NamedNode(sd + "Service")),
        (ox.NamedNode(sd + "endpoint"), ox.NamedNode(endpoint)),
        (ox.NamedNode(sd + "supportedLanguage"), ox.NamedNode(sd + "SPARQL11Query")),
        (ox.NamedNode(sd + "supportedLanguage"), ox.NamedNode(sd + "SPARQL11Update")),
        (ox.NamedNode(sd + "feature"), ox.NamedNode(sd + "UnionDefaultGraph")),
    ]  # no sd:BasicFederatedQuery: SERVICE is refused
    for name in (
        "SPARQL_Results_JSON",
        "SPARQL_Results_XML",
        "SPARQL_Results_CSV",
        "SPARQL_Results_TSV",
        "Turtle",
        "N-Triples",
        "JSON-LD",
        "RDF_XML",
    ):
        triples.append((ox.NamedNode(sd + "resultFormat"), ox.NamedNode(fmt + name)))
    return neg.serialize_graph([ox.Triple(service, p, o) for p, o in triples], media)


def page(endpoint: str, assets: str) -> str:
    prefixes = {"tl": TL, **{k: v for k, v in PREFIXES.items() if k != "id"}}
    config = {
        "endpoint": endpoint,
        "vocabulary": f"{assets}/vocabulary.json",
        "prefixes": prefixes,
        "query": DEFAULT_QUERY,
    }
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Threadline SPARQL</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<link rel="stylesheet" href="{escape(assets)}/yasgui.min.css">
<style>body{{margin:0;font:15px system-ui,sans-serif}} header{{padding:.6rem 1rem;background:#1c2430;color:#fff}}
header a{{color:#9cc9ff}} #yasgui{{padding:0 .5rem}}</style></head>
<body><header><strong>Threadline SPARQL</strong> — endpoint <code>{escape(endpoint)}</code>;
named queries at <a href="../queries">/queries</a>; ontology at <a href="../ontology">/ontology</a></header>
<div id="yasgui"></div>
<script src="{escape(assets)}/yasgui.min.js"></script>
<script>
const TL_CONFIG = {json.dumps(config)};
(function () {{
  const Yasqe = Yasgui.Yasqe;
  // Never call the internet: only local completers (the default class/property ones query an online service).
  Yasqe.defaults.autocompleters = ["variables", "prefixes"];
  let vocab = null;
  const load = () => vocab || (vocab = fetch(TL_CONFIG.vocabulary).then(r => r.json()));
  const local = (kind) => function (yasqe, token) {{
    const typed = (token && token.autocompletionString) || "";
    return load().then(v => v[kind].filter(iri => iri.indexOf(typed) >= 0 || typed === ""));
  }};
  Yasqe.forkAutocompleter("class", {{name: "tl-class", get: local("classes"), persistenceId: null}});
  Yasqe.forkAutocompleter("property", {{name: "tl-property", get: local("properties"), persistenceId: null}});
  Yasqe.defaults.autocompleters = ["variables", "prefixes", "tl-class", "tl-property"];
  Yasqe.defaults.value = TL_CONFIG.query;
  const prefixLines = Object.entries(TL_CONFIG.prefixes).map(([p, iri]) => `PREFIX ${{p}}: <${{iri}}>`);
  window.yasgui = new Yasgui(document.getElementById("yasgui"), {{
    requestConfig: {{endpoint: TL_CONFIG.endpoint, method: "POST"}},
    copyEndpointOnNewTab: true,
    endpointCatalogueOptions: {{getData: () => [{{endpoint: TL_CONFIG.endpoint}}]}},
    yasqe: {{value: TL_CONFIG.query}},
    persistenceId: null,
  }});
  window.tlPrefixes = prefixLines;
}})();
</script></body></html>
"""
