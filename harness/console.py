"""Terminal output shared by the commands: aligned tables, human units, progress bars."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def fmt_num(x: Any, digits: int = 3) -> str:
    """A number for a table: None -> '-', big and small floats in scientific notation."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        if x == 0:
            return "0"
        a = abs(x)
        if a >= 1e6 or a < 1e-3:
            return f"{x:.{digits - 1}e}"
        return f"{x:.{digits}g}" if a < 10**digits else f"{x:,.0f}"
    return str(x)


def fmt_si(x: float | None, unit: str = "", digits: int = 3) -> str:
    """1.23e12 -> '1.23 T' + unit."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    prefixes = [(1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]
    for scale, p in prefixes:
        if abs(x) >= scale:
            return f"{x / scale:.{digits}g} {p}{unit}"
    return f"{x:.{digits}g} {unit}".rstrip()


def format_table(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> str:
    """Rows of dicts to an aligned plain-text table (numbers right-aligned)."""
    rows = list(rows)
    if not rows:
        return "(no rows)"
    columns = list(columns or rows[0].keys())
    headers = dict(headers or {})
    cells = [[fmt_num(r.get(c)) for c in columns] for r in rows]
    titles = [headers.get(c, c) for c in columns]
    widths = [max(len(t), *(len(row[i]) for row in cells)) for i, t in enumerate(titles)]
    numeric = [
        all(isinstance(r.get(c), (int, float)) or r.get(c) is None for r in rows) for c in columns
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [line(titles), line(["-" * w for w in widths])]
    out.extend(line(row) for row in cells)
    return "\n".join(out)


def print_table(rows, columns=None, headers=None, file=None) -> None:
    print(format_table(rows, columns, headers), file=file or sys.stdout)


def progress(iterable=None, **kwargs):
    """A tqdm progress bar on stderr that disappears when output is not a terminal."""
    from tqdm.auto import tqdm

    kwargs.setdefault("file", sys.stderr)
    kwargs.setdefault("disable", not sys.stderr.isatty())
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, **kwargs)
