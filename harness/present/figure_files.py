"""Saving a figure: one helper for every figure the harness writes, so each one carries a footer
that says where its points came from (devices, energy provenance, data source) and is written the
same way, as PNG and as an SVG without a timestamp (the same input gives the same file)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

FOOTER_CHARS_PER_INCH = 17  # at fontsize 7


def wrap_footer(text: str, width_in: float) -> str:
    """A footer broken into lines that fit across a figure `width_in` inches wide."""
    width = int(FOOTER_CHARS_PER_INCH * width_in)
    return "\n".join(textwrap.fill(line, width) for line in text.split("\n"))


def save_figure(
    fig: Any, stem: Path, footer: str, labels: Sequence[str] = (), wspace: float = 0.2
) -> list[Path]:
    """Footer, fixed margins (tight_layout costs a whole extra draw), then stem.png and stem.svg.

    `labels` are the tick labels on the left axis; the left margin makes room for the longest.
    A footer line too long for the figure's width is wrapped.
    """
    w, h = fig.get_size_inches()
    footer = wrap_footer(footer, w)
    fig.text(0.01, 0.01, footer, fontsize=7, va="bottom", ha="left", color="#333333")
    left_in = 0.06 * max((len(s) for s in labels), default=0) + 0.8
    bottom_in = 0.75 + 0.13 * footer.count("\n")
    fig.subplots_adjust(
        left=left_in / w, right=0.98, bottom=bottom_in / h, top=1 - 0.75 / h, wspace=wspace
    )
    out = []
    for ext in ("png", "svg"):
        path = stem.parent / f"{stem.name}.{ext}"
        fig.savefig(path, dpi=100, metadata={"Date": None} if ext == "svg" else None)
        out.append(path)
    return out
