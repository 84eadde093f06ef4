"""The report as one self-contained HTML page: sortable tables (a few lines of script), each
cell's basis on hover, the figures inline with links to their SVGs."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from harness.present.page import BASIS, TABLE, Page

CSS = """body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1600px}
table{border-collapse:collapse;font-size:12px;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f0f0f0;position:sticky;top:0}
table.sortable th{cursor:pointer}table.sortable th:hover{background:#e0e8f0}
td[data-v="error"],td[data-v="timeout"],td[data-v="crashed"],td[data-v="interrupted"]{color:#b00;font-weight:bold}
.scroll{overflow-x:auto}.note{background:#fff8e0;border-left:4px solid #e0a000;padding:.4em .8em;margin:.4em 0}
img{max-width:100%;border:1px solid #ddd;margin:.5em 0}figcaption{font-size:12px;color:#555}"""

JS = """document.querySelectorAll('table.sortable th').forEach((th,i)=>th.addEventListener('click',()=>{
const tb=th.closest('table').tBodies[0],rows=[...tb.rows],asc=th.dataset.dir!=='asc';th.dataset.dir=asc?'asc':'desc';
const key=r=>{const v=r.cells[i].dataset.v;return v===''||v==='None'?null:(isNaN(v)?v.toLowerCase():parseFloat(v));};
rows.sort((a,b)=>{const x=key(a),y=key(b);if(x===null)return 1;if(y===null)return -1;return (x<y?-1:x>y?1:0)*(asc?1:-1);});
rows.forEach(r=>tb.appendChild(r));}));"""


def esc(x: Any) -> str:
    """Text escaped for HTML; None as empty."""
    return html.escape("" if x is None else str(x))


def html_table(headers: Sequence[str], cells: list[list[tuple]], cls: str = "") -> str:
    """A table whose cells carry their sort value (data-v) and their basis (title)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for row in cells:
        tds = []
        for text, sort, title in row:
            # a missing figure sorts last (empty), never as the text "-" among numbers
            v = sort if isinstance(sort, (int, float)) and not isinstance(sort, bool) else text
            v = "" if sort is None or v == "-" else v
            tip = f' title="{esc(title)}"' if title else ""
            tds.append(f'<td data-v="{esc(v)}"{tip}>{esc(text)}</td>')
        body.append("<tr>" + "".join(tds) + "</tr>")
    return (
        f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    )


def render_html(p: Page) -> str:
    """The whole page."""
    h = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Harness report</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>Computational cost of deep learning: measurement report</h1>",
        *(f"<p>{esc(s)}</p>" for s in p.summary),
        *(f"<div class='note'>{esc(w)}</div>" for w in p.warnings),
        "<h2>Measurements</h2><p>Click a column to sort; hover a cell for its basis.</p>",
        f"<div class='scroll'>{html_table([t[0] for t in TABLE], p.cells, 'sortable')}</div>",
        "<h2>Figures</h2>",
    ]
    for cap, png, svg in p.figures:
        h.append(
            f"<figure><img src='{esc(png.as_posix())}' alt='{esc(cap)}'><figcaption>"
            f"{esc(cap)} (<a href='{esc(svg.as_posix())}'>SVG</a>)</figcaption></figure>"
        )
    if not p.figures:
        h.append("<p>No figures: no successful measurement.</p>")
    h.append("<h2>The paper's polynomial fits over the published points</h2>")
    h.append(html_table(p.fit_headers, p.fit_cells, "sortable") if p.fit_cells else "<p>None.</p>")
    h.append("<h2>Extrapolation (polynomial model, published points)</h2>")
    h.append(
        html_table(p.proj_headers, p.proj_cells, "sortable")
        if p.proj_cells
        else "<p>No fit to extrapolate.</p>"
    )
    if p.runs_cells:
        h.append("<h2>Published training runs (harness audit)</h2>")
        h.append(html_table(p.runs_headers, p.runs_cells, "sortable"))
    h.append("<h2>Bases of the projected figures</h2>")
    h.append(html_table([b[0] for b in BASIS], p.basis_cells) if p.basis_cells else "<p>None.</p>")
    h += [f"<p>Paper's conversion: {esc(b)}</p>" for b in p.paper_bases]
    h.append("<h2>Notes</h2><ul>" + "".join(f"<li>{esc(n)}</li>" for n in p.notes) + "</ul>")
    h.append(f"<script>{JS}</script></body></html>")
    return "\n".join(h)
