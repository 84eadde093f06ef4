"""Terminal output shared by the commands: aligned tables, human units, valid JSON, progress.

Every text table goes through `format_table` (tabulate does the alignment) and every number
in it through `fmt_num`, so one figure reads the same in every command. Every `--json` output
goes through `to_json`, which writes strict JSON: Python's json module otherwise prints
`NaN` and `Infinity`, which JSON (RFC 8259) does not allow and most parsers reject.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePath
from typing import Any

JSON_SCHEMA_ID = "harness.measurement/1"


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
    """Rows of dicts to an aligned plain-text table (numbers right-aligned, via `fmt_num`)."""
    from tabulate import tabulate

    rows = list(rows)
    if not rows:
        return "(no rows)"
    columns = list(columns or rows[0].keys())
    headers = dict(headers or {})
    cells = [[fmt_num(r.get(c)) for c in columns] for r in rows]
    titles = [headers.get(c, c) for c in columns]
    numeric = [
        all(isinstance(r.get(c), (int, float)) or r.get(c) is None for r in rows) for c in columns
    ]
    align = ["right" if num else "left" for num in numeric]
    text = tabulate(cells, headers=titles, tablefmt="simple", colalign=align, disable_numparse=True)
    return "\n".join(line.rstrip() for line in text.splitlines())


def format_pairs(items: Mapping[str, Any], indent: str = "") -> str:
    """Name / value lines, aligned (tabulate); fractions, yes/no and missing values through
    `fmt_num`, whole numbers (years, counts) as they are."""
    from tabulate import tabulate

    if not items:
        return ""
    plain = (int, str)
    cells = [
        [k, str(v) if isinstance(v, plain) and not isinstance(v, bool) else fmt_num(v)]
        for k, v in items.items()
    ]
    text = tabulate(cells, tablefmt="plain", disable_numparse=True)
    return "\n".join(indent + line.rstrip() for line in text.splitlines())


def print_table(rows, columns=None, headers=None, file=None) -> None:
    print(format_table(rows, columns, headers), file=file or sys.stdout)


def progress(iterable=None, **kwargs):
    """A tqdm progress bar on stderr that disappears when output is not a terminal."""
    from tqdm.auto import tqdm

    kwargs.setdefault("file", sys.stderr)
    kwargs.setdefault("disable", not sys.stderr.isatty())
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, **kwargs)


def jsonable(obj: Any) -> Any:
    """A copy of `obj` strict JSON can hold: NaN and infinities become null (an unbounded or
    undefined figure), dataclasses and mappings become objects (a `to_dict` where there is
    one), tuples and sets lists, numpy and torch values numbers, anything else its text."""
    if obj is None or isinstance(obj, (bool, str, int)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        to_dict = getattr(obj, "to_dict", None)
        obj = to_dict() if callable(to_dict) else dataclasses.asdict(obj)
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return [jsonable(v) for v in sorted(obj, key=str)]
    if isinstance(obj, PurePath):
        return str(obj)
    for method in ("item", "tolist"):  # numpy and torch scalars, arrays and tensors
        convert = getattr(obj, method, None)
        if callable(convert) and (method == "tolist" or getattr(obj, "ndim", 0) == 0):
            try:
                return jsonable(convert())
            except (TypeError, ValueError, RuntimeError):
                pass
    return str(obj)


def to_json(obj: Any, *, indent: int | None = 1) -> str:
    """Strict JSON text of `obj` (null for NaN and infinities); what every `--json` prints."""
    return json.dumps(jsonable(obj), indent=indent, allow_nan=False)


def measurement_document(
    command: str, records: Sequence[Mapping[str, Any]], summary: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The one JSON shape of `harness time`, `measure` and `compare` (harness/data/
    measurement.schema.json): the schema name, the command, its measurement records (each a
    `Measurement.to_dict()`) and the command's own summary of them."""
    return {
        "schema": JSON_SCHEMA_ID,
        "command": command,
        "records": [dict(r) for r in records],
        "summary": dict(summary or {}),
    }
