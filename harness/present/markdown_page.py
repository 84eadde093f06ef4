"""The report as a Markdown summary: the same tables and notes as the HTML page, figures linked.

Names and error texts come from users' files and from exceptions, so every piece of text is
escaped before it lands in the page: a `|` or a newline would split a table row, a backtick
would open a code span, and `<`/`>` would be raw HTML (CommonMark 0.31, sections 2.4 and 6.6;
GitHub Flavored Markdown, "Tables": a pipe in a cell is escaped as `\\|`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from harness.present.page import TABLE, Page

# Backslash first, so the escapes added after it are not themselves escaped.
_ESCAPES = (("\\", "\\\\"), ("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"))
_ESCAPES += (("|", "\\|"), ("`", "\\`"), ("*", "\\*"))


def md_text(s: object) -> str:
    """Text for one line of Markdown: line breaks become spaces, markup characters escaped."""
    text = " ".join(str(s).splitlines())
    for raw, escaped in _ESCAPES:
        text = text.replace(raw, escaped)
    return text


def md_link(path: Path) -> str:
    """A relative path as a link target (spaces, parentheses and the like percent-encoded)."""
    return quote(path.as_posix())


def _link_text(s: object) -> str:
    """A link's text: brackets escaped too, so a caption cannot close the link early."""
    return md_text(s).replace("[", "\\[").replace("]", "\\]")


def markdown_table(headers: Sequence[str], cells: list[list[tuple]]) -> str:
    """A pipe table of the cells' text, every cell escaped (`md_text`)."""
    lines = ["| " + " | ".join(md_text(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(md_text(t) for t, _, _ in row) + " |" for row in cells]
    return "\n".join(lines)


def render_markdown(p: Page) -> str:
    """The whole summary."""
    md = ["# Measurement report", "", *(f"- {md_text(s)}" for s in p.summary)]
    md += [f"- **{md_text(w)}**" for w in p.warnings]
    md += ["", "## Measurements", "", markdown_table([t[0] for t in TABLE], p.cells), ""]
    md += ["## The paper's polynomial fits over the published points", ""]
    md += [markdown_table(p.fit_headers, p.fit_cells) if p.fit_cells else "None.", ""]
    md += ["## Extrapolation (polynomial model, published points)", ""]
    md += [
        markdown_table(p.proj_headers, p.proj_cells) if p.proj_cells else "No fit to extrapolate."
    ]
    if p.runs_cells:
        md += ["", "## Published training runs (harness audit)", ""]
        md += [markdown_table(p.runs_headers, p.runs_cells)]
    md += ["", "## Figures", ""]
    md += [
        f"- [{_link_text(c)}]({md_link(png)}) ([SVG]({md_link(svg)}))" for c, png, svg in p.figures
    ]
    md += [] if p.figures else ["None."]
    md += ["", "## Notes", "", *(f"- Paper's conversion: {md_text(b)}" for b in p.paper_bases)]
    return "\n".join([*md, *(f"- {md_text(n)}" for n in p.notes), ""])
