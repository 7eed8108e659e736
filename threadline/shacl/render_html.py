"""The report as one self-contained HTML page a compliance person can file: no external assets, printable.

Inline CSS and about 50 lines of inline JavaScript (sort by column, filter by text, by severity or by a
summary entry) are all it needs; no library is worth shipping for that, and the page must open from a file
share with no server. Printing hides the controls and prints the results as filtered on screen.
"""

from __future__ import annotations

from collections import Counter
from html import escape

from threadline.shacl.rows import Row, iri_key

STYLE = """
:root{--ink:#1c2430;--muted:#5a6472;--line:#d5dae1;--head:#eef1f5;--bad:#a4161a;--warn:#8a5a00;--ok:#176b2c}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
color:var(--ink);background:#fff}main{max-width:1320px;margin:1.2rem auto;padding:0 1.2rem}
header{display:flex;justify-content:space-between;align-items:flex-start;gap:1rem;border-bottom:3px solid var(--ink);
padding-bottom:.6rem}h1{font-size:1.45rem;margin:0}h2{font-size:1.05rem;margin:1.2rem 0 .4rem}
.status{font-size:1.05rem;font-weight:700;padding:.3rem .7rem;border-radius:4px;white-space:nowrap}
.status.ok{color:var(--ok);border:2px solid var(--ok)}.status.bad{color:var(--bad);border:2px solid var(--bad)}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.15rem .8rem;margin:.7rem 0;color:var(--muted)}
dl.meta dt{font-weight:600}dl.meta dd{margin:0;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em}
.summary{display:grid;grid-template-columns:repeat(auto-fit,minmax(260px,1fr));gap:1rem}
table{border-collapse:collapse;width:100%}th,td{border:1px solid var(--line);padding:.32rem .5rem;vertical-align:top;
text-align:left}th{background:var(--head);font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums;width:4rem}
.summary button{all:unset;cursor:pointer;color:#0b5cad}.summary button:hover{text-decoration:underline}
#results th{cursor:pointer;user-select:none;white-space:nowrap}#results th:after{content:" \\21C5";color:#9aa3ae}
#results th[data-dir=asc]:after{content:" \\25B2";color:var(--ink)}#results th[data-dir=desc]:after{content:" \\25BC";
color:var(--ink)}.Violation{color:var(--bad);font-weight:700}.Warning{color:var(--warn);font-weight:700}
.Info{color:#0b5cad;font-weight:700}.ident{font-weight:600}.kind,.detail,.cc{color:var(--muted);font-size:.86em}
.hint{font-size:.93em}td.clause{white-space:nowrap}
.controls{margin:1rem 0 .5rem;display:flex;gap:.6rem;align-items:center;flex-wrap:wrap}
input,select{font:inherit;padding:.3rem .45rem;border:1px solid #aab3be;border-radius:3px}#filter{min-width:22rem}
.facet{background:#e6eefb;border-radius:3px;padding:.15rem .45rem}.facet[hidden]{display:none}
.facet button{all:unset;cursor:pointer;margin-left:.3rem;font-weight:700}a{color:#0b5cad}
tbody tr:nth-child(even){background:#fafbfc}footer{margin:1.2rem 0;color:var(--muted);font-size:.85em}
@media print{@page{size:A4 landscape;margin:12mm}.controls,.summary button:after{display:none}
body{font-size:9pt}main{max-width:none;margin:0;padding:0}#results th:after{content:""}
a{color:inherit;text-decoration:none}tr{break-inside:avoid}thead{display:table-header-group}
.summary{grid-template-columns:repeat(3,1fr)}.summary button{color:inherit}}
"""

SCRIPT = """
(function(){
  const table=document.getElementById('results'), body=table.tBodies[0];
  const text=document.getElementById('filter'), sev=document.getElementById('severity');
  const chip=document.getElementById('facet'); let facet=null;
  function apply(){
    const q=text.value.toLowerCase().trim(), s=sev.value; let shown=0;
    for(const row of body.rows){
      const ok=(!q||row.textContent.toLowerCase().includes(q))&&(!s||row.dataset.severity===s)
        &&(!facet||(row.dataset[facet.key]||'').split('|').includes(facet.value));
      row.hidden=!ok; if(ok) shown++;
    }
    document.getElementById('shown').textContent=shown;
  }
  text.addEventListener('input',apply); sev.addEventListener('change',apply);
  document.querySelectorAll('.summary button').forEach(function(b){
    b.addEventListener('click',function(){
      facet={key:b.dataset.key,value:b.dataset.value};
      chip.hidden=false; chip.firstElementChild.textContent=b.dataset.title+': '+b.dataset.value; apply();
    });
  });
  chip.querySelector('button').addEventListener('click',function(){facet=null; chip.hidden=true; apply();});
  table.tHead.querySelectorAll('th').forEach(function(th,i){
    th.addEventListener('click',function(){
      const asc=th.dataset.dir!=='asc';
      table.tHead.querySelectorAll('th').forEach(function(o){delete o.dataset.dir;});
      th.dataset.dir=asc?'asc':'desc';
      const rows=Array.from(body.rows);
      rows.sort(function(a,b){const x=a.cells[i].dataset.sort||a.cells[i].textContent,
        y=b.cells[i].dataset.sort||b.cells[i].textContent;
        return (asc?1:-1)*x.localeCompare(y,undefined,{numeric:true});});
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
  apply();
})();
"""

SUMMARIES = (("clause", "Clause"), ("severity", "Severity"), ("shape", "Check"))


def _values(row: Row, key: str) -> list[str]:
    if key == "clause":
        return row.clause.split("; ") if row.clause else [""]
    if key == "severity":
        return [row.severity]
    return [row.shape_label]


def _summary(key: str, title: str, rows: list[Row]) -> str:
    counter: Counter[str] = Counter(v for r in rows for v in _values(r, key))
    body = "".join(
        f"<tr><td><button data-key={key} data-title='{escape(title)}' data-value='{escape(name)}'>"
        f"{escape(name or '(none)')}</button></td><td class=n>{count}</td></tr>"
        for name, count in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    empty = "" if counter else "<tr><td colspan=2>No results.</td></tr>"
    return (
        f"<table data-summary={key}><thead><tr><th>By {escape(title.lower())}</th><th class=n>Results</th>"
        f"</tr></thead><tbody>{body}{empty}</tbody></table>"
    )


def to_html(
    rows: list[Row],
    *,
    conforms: bool,
    profile: str | None,
    engine: str,
    generated: str,
    shapes_files: list[tuple[str, str]],
    data_state: str = "",
    as_of: str = "",
) -> str:
    """The printable page; ``as_of`` says which past state was validated, when it was one."""
    severities = Counter(r.severity for r in rows)
    if conforms:
        status = '<div class="status ok">Conforms</div>'
    else:
        counts = ", ".join(f"{n} {s.lower()}{'s' if n != 1 else ''}" for s, n in sorted(severities.items()))
        status = f'<div class="status bad">Does not conform: {escape(counts)}</div>'
    files = "<br>".join(f"{escape(name)} · sha256 {escape(digest)}" for name, digest in shapes_files)
    options = "".join(f"<option>{escape(s)}</option>" for s in sorted(severities))
    title = escape(profile or "custom shapes")
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>Validation report — {title} — {escape(generated)}</title>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<style>{STYLE}</style></head><body><main>"
        f"<header><div><h1>Threadline validation report — {title}</h1>"
        f"<dl class=meta><dt>Generated</dt><dd>{escape(generated)}</dd><dt>Engine</dt><dd>{escape(engine)}</dd>"
        f"<dt>Shapes</dt><dd>{files or '—'}</dd><dt>Data state</dt><dd>{escape(data_state) or '—'}</dd>"
        + (f"<dt>As of</dt><dd>{escape(as_of)}</dd>" if as_of else "")
        + "</dl>"
        f"</div>{status}</header>"
        "<h2>Summary</h2><section class=summary>"
        + "".join(_summary(key, name, rows) for key, name in SUMMARIES)
        + "</section>"
        "<h2>Results</h2><div class=controls>"
        "<input id=filter type=search placeholder='Filter: serial, lot, NCR, clause, text…' aria-label=Filter>"
        f"<select id=severity aria-label=Severity><option value=''>All severities</option>{options}</select>"
        "<span id=facet class=facet hidden><span></span><button title='Clear' aria-label='Clear'>×</button></span>"
        f"<span><b id=shown></b> of {len(rows)} shown</span></div>"
        "<table id=results><thead><tr><th>Severity</th><th>Object</th><th>Finding</th><th>Clause</th>"
        "<th>Owner</th><th>How to fix</th><th>Check</th></tr></thead>"
        f"<tbody>{''.join(_row(r) for r in rows)}</tbody></table>"
        "<footer>Each result names the object (with its identifier from the source system), what is wrong, the "
        "clause it serves, who owns the fix and how to fix it. The SHACL report (Turtle) is kept as evidence in "
        "the store with its provenance.</footer>"
        f"<script>{SCRIPT}</script></main></body></html>"
    )


def _row(r: Row) -> str:
    ident = escape(r.identifier)
    target = (
        f'<a class=ident href="{escape(r.link)}" title="{escape(r.focus)}">{ident}</a>'
        if r.link
        else f"<span class=ident>{ident}</span>"
    )
    value = "" if r.value == r.focus else iri_key(r.value) if r.value.startswith("http") else r.value
    detail = escape(r.path) + (f" = {escape(value)}" if value else "")
    clauses = "<br>".join(escape(c) for c in r.clause.split("; ")) if r.clause else ""
    order = {"Violation": "0", "Warning": "1", "Info": "2"}.get(r.severity, "3")
    return (
        f'<tr data-severity="{escape(r.severity)}" data-clause="{escape(r.clause.replace("; ", "|"))}" '
        f'data-shape="{escape(r.shape_label)}">'
        f'<td class="{escape(r.severity)}" data-sort="{order}">{escape(r.severity)}</td>'
        f'<td data-sort="{ident}">{target}<div class=kind>{escape(r.kind)}</div></td>'
        f"<td>{escape(r.message)}" + (f"<div class=detail>{detail}</div>" if detail else "") + "</td>"
        f"<td class=clause>{clauses}</td><td>{escape(r.owner_role)}</td><td class=hint>{escape(r.fix_hint)}</td>"
        f"<td>{escape(r.shape_label)}<div class=cc>{escape(r.component)}</div></td></tr>"
    )
