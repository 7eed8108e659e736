"""The report as one self-contained HTML page a compliance person can file: no external assets, printable.

Inline CSS and about 40 lines of inline JavaScript (sort by column, filter by text and severity) are all it
needs; no library is worth shipping for that, and the page must open from a file share with no server.
"""

from __future__ import annotations

from collections import Counter
from html import escape

from threadline.shacl.rows import Row

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1c2430;background:#fff}
main{max-width:1200px;margin:1.5rem auto;padding:0 1rem}h1{font-size:1.5rem;margin:.2rem 0}
.meta{color:#4a5565}.ok{color:#176b2c;font-weight:700}.bad{color:#a4161a;font-weight:700}
.summary{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}.summary table{border-collapse:collapse;min-width:220px}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #d5dae1;padding:.3rem .45rem;vertical-align:top;
text-align:left}th{background:#eef1f5}#results th{cursor:pointer;user-select:none}#results th:after{content:" ⇅";
color:#9aa3ae}.Violation{color:#a4161a;font-weight:600}.Warning{color:#8a5a00;font-weight:600}.Info{color:#0b5cad}
.controls{margin:.8rem 0;display:flex;gap:.6rem}input,select{font:inherit;padding:.25rem .4rem}
.hint{color:#4a5565;font-size:.92em}a{color:#0b5cad}
@media print{.controls{display:none}#results th:after{content:""}body{font-size:10pt}main{max-width:none;margin:0}
a{color:inherit;text-decoration:none}tr{page-break-inside:avoid}thead{display:table-header-group}}
"""

SCRIPT = """
(function(){
  const table=document.getElementById('results'), body=table.tBodies[0];
  const text=document.getElementById('filter'), sev=document.getElementById('severity');
  function apply(){
    const q=text.value.toLowerCase(), s=sev.value; let shown=0;
    for(const row of body.rows){
      const ok=(!q||row.textContent.toLowerCase().includes(q))&&(!s||row.dataset.severity===s);
      row.hidden=!ok; if(ok) shown++;
    }
    document.getElementById('shown').textContent=shown;
  }
  text.addEventListener('input',apply); sev.addEventListener('change',apply);
  table.tHead.querySelectorAll('th').forEach(function(th,i){
    th.addEventListener('click',function(){
      const asc=th.dataset.dir!=='asc'; th.dataset.dir=asc?'asc':'desc';
      const rows=Array.from(body.rows);
      rows.sort(function(a,b){const x=a.cells[i].textContent, y=b.cells[i].textContent;
        return (asc?1:-1)*x.localeCompare(y,undefined,{numeric:true});});
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
  apply();
})();
"""


def _counts(title: str, counter: Counter[str]) -> str:
    body = "".join(f"<tr><td>{escape(k or '(none)')}</td><td>{v}</td></tr>" for k, v in sorted(counter.items()))
    return f"<table><thead><tr><th>{escape(title)}</th><th>Results</th></tr></thead><tbody>{body}</tbody></table>"


def to_html(rows: list[Row], *, conforms: bool, profile: str | None, engine: str, generated: str,
            shapes_files: list[tuple[str, str]], data_state: str = "") -> str:
    clauses: Counter[str] = Counter()
    for row in rows:
        for clause in row.clause.split("; ") if row.clause else [""]:
            clauses[clause] += 1
    severities = Counter(r.severity for r in rows)
    shapes = Counter(r.shape_label for r in rows)
    status = ('<span class="ok">Conforms</span>' if conforms
              else f'<span class="bad">Does not conform: {len(rows)} result(s)</span>')
    files = "; ".join(f"{escape(name)} (sha256 {escape(digest[:12])}…)" for name, digest in shapes_files)
    body_rows = "".join(_row(r) for r in rows)
    options = "".join(f"<option>{escape(s)}</option>" for s in sorted(severities))
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>Validation report — {escape(profile or 'shapes')}</title>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<style>{STYLE}</style></head><body><main>"
        f"<h1>Threadline validation report — {escape(profile or 'custom shapes')}</h1>"
        f"<p>{status}</p><p class=meta>Generated {escape(generated)} · engine {escape(engine)} · shapes {files}"
        + (f" · data state {escape(data_state[:16])}…" if data_state else "") + "</p>"
        "<section class=summary>"
        f"{_counts('Clause', clauses)}{_counts('Severity', severities)}{_counts('Shape', shapes)}</section>"
        "<div class=controls><input id=filter type=search placeholder='Filter results…' aria-label=Filter>"
        f"<select id=severity aria-label=Severity><option value=''>All severities</option>{options}</select>"
        "<span><span id=shown></span> shown</span></div>"
        "<table id=results><thead><tr><th>Severity</th><th>Object</th><th>Type</th><th>Message</th>"
        "<th>Clause</th><th>Owner</th><th>How to fix</th><th>Path / value</th><th>Shape</th></tr></thead>"
        f"<tbody>{body_rows}</tbody></table>"
        f"<script>{SCRIPT}</script></main></body></html>"
    )


def _row(r: Row) -> str:
    ident = escape(r.identifier)
    target = f'<a href="{escape(r.link)}" title="{escape(r.focus)}">{ident}</a>' if r.link else ident
    detail = escape(r.path) + (f" = {escape(r.value)}" if r.value else "")
    return (
        f'<tr data-severity="{escape(r.severity)}"><td class="{escape(r.severity)}">{escape(r.severity)}</td>'
        f"<td>{target}</td><td>{escape(r.kind)}</td><td>{escape(r.message)}</td><td>{escape(r.clause)}</td>"
        f"<td>{escape(r.owner_role)}</td><td class=hint>{escape(r.fix_hint)}</td><td>{detail}</td>"
        f"<td>{escape(r.shape_label)}<br><small>{escape(r.component)}</small></td></tr>"
    )
