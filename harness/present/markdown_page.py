"""The report as a Markdown summary: the same tables and notes as the HTML page, figures linked."""

from __future__ import annotations

from collections.abc import Sequence

from harness.present.page import TABLE, Page


def markdown_table(headers: Sequence[str], cells: list[list[tuple]]) -> str:
    """A pipe table of the cells' text; pipes and newlines in a cell are escaped."""

    def clean(s: str) -> str:
        return str(s).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(clean(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(clean(t) for t, _, _ in row) + " |" for row in cells]
    return "\n".join(lines)


def render_markdown(p: Page) -> str:
    """The whole summary."""
    md = ["# Measurement report", "", *(f"- {s}" for s in p.summary)]
    md += [f"- **{w}**" for w in p.warnings]
    md += ["", "## Measurements", "", markdown_table([t[0] for t in TABLE], p.cells), ""]
    md += ["## The paper's polynomial fits over the published points", ""]
    md += [markdown_table(p.fit_headers, p.fit_cells) if p.fit_cells else "None.", ""]
    md += ["## Extrapolation (polynomial model, published points)", ""]
    md += [
        markdown_table(p.proj_headers, p.proj_cells) if p.proj_cells else "No fit to extrapolate."
    ]
    md += ["", "## Figures", ""]
    md += [f"- [{c}]({png.as_posix()}) ([SVG]({svg.as_posix()}))" for c, png, svg in p.figures]
    md += [] if p.figures else ["None."]
    md += ["", "## Notes", "", *(f"- Paper's conversion: {b}" for b in p.paper_bases)]
    return "\n".join([*md, *(f"- {n}" for n in p.notes), ""])
