"""Saving a figure: one helper for every figure the harness writes, so each one carries a footer
that says where its points came from (devices, energy provenance, data source) and is written the
same way, as PNG and as an SVG without a timestamp (the same input gives the same file), each
written atomically by `harness.output_files` (a full disk leaves the previous figure whole)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.output_files import atomic_path

FOOTER_CHARS_PER_INCH = 17  # at fontsize 7


def wrap_footer(text: str, width_in: float) -> str:
    """A footer broken into lines that fit across a figure `width_in` inches wide."""
    width = int(FOOTER_CHARS_PER_INCH * width_in)
    return "\n".join(textwrap.fill(line, width) for line in text.split("\n"))


def save_figure(
    fig: Any,
    stem: Path,
    footer: str,
    labels: Sequence[str] = (),
    wspace: float = 0.2,
    hint: str = "free some space or write to another folder",
) -> list[Path]:
    """Footer, fixed margins (tight_layout costs a whole extra draw), then stem.png and stem.svg.

    `labels` are the tick labels on the left axis; the left margin makes room for the longest.
    A footer line too long for the figure's width is wrapped. A file that cannot be written is
    a one-line HarnessError ending with `hint`.
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
        with atomic_path(path, hint) as tmp:  # the temporary name has no .png: say the format
            meta = {"Date": None} if ext == "svg" else None
            fig.savefig(tmp, format=ext, dpi=100, metadata=meta)
        out.append(path)
    return out
