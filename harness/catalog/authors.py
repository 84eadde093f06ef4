"""The authors' own data set, read in place from a checkout of their repository.

Thompson et al. publish their points as six CSVs in the GitHub repository
MIT-FutureTech/TheComputationalLimitsOfDeepLearning (GPL-3.0). The harness never copies them: it
reads the folder the user names (`--published-from DIR`, the checkout or its `data/` folder).

Layout, as their notebooks read it: the first line holds the column names pandas uses
(`name`, `year`, `flops`, `multiadds`, `network_operations`, `hardware_burden`, the score, e.g.
`(TOP 1 score)`), then three header rows of group titles (the second starts with `name`), then
one row per model. The points are built the way the notebooks build them: per-pass compute is
`flops`, else 2 x `multiadds`; network operations and hardware burden are their columns as
given; error = 1 - score/100; rows without a score are dropped.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError

if TYPE_CHECKING:
    import pandas as pd

REPOSITORY = "MIT-FutureTech/TheComputationalLimitsOfDeepLearning"
HEADER_ROWS = 3  # group-title rows between the column names and the first model


@dataclass(frozen=True)
class AuthorsFile:
    """One of the authors' CSVs: which benchmark it holds and which score its notebook fits."""

    benchmark: str
    filename: str
    score_column: str
    metric: str


FILES = (
    AuthorsFile("imagenet", "image-classification-on-imagenet.csv", "(TOP 1 score)", "top1_acc"),
    AuthorsFile("coco", "object-detection-on-coco.csv", "(BOX AP)", "box_ap"),
    AuthorsFile("squad11", "question-answering-on-squad-1-1.csv", "(EM score)", "em"),
    AuthorsFile("conll03", "named-entity-recognition-on-conll-2003.csv", "(F1 score)", "f1"),
    AuthorsFile("wmt14_en_fr", "machine-translation-on-wmt2014-en-fr.csv", "(BLEU)", "bleu"),
    AuthorsFile("wmt14_en_de", "machine-translation-on-wmt2014-en-de.csv", "(BLEU)", "bleu"),
)
NUMERIC_COLUMNS = ("year", "flops", "multiadds", "network_operations", "hardware_burden")


def data_folder(path: str | Path) -> Path:
    """The folder holding the CSVs: DIR itself, or DIR/data for a checkout of the repository."""
    p = Path(path)
    if not p.is_dir():
        raise HarnessError(f"--published-from: no such folder: {path}")
    for folder in (p, p / "data"):
        if any((folder / f.filename).is_file() for f in FILES):
            return folder
    raise HarnessError(
        f"--published-from: {path} holds none of the authors' CSVs "
        f"({FILES[0].filename}, ...); give a checkout of {REPOSITORY} or its data/ folder"
    )


def _cell(row: list[str], index: int) -> str:
    return row[index].strip() if index < len(row) else ""


def _number(text: str, where: str) -> float:
    """A numeric cell as a float (NaN where blank); a one-line error names the cell otherwise."""
    if not text:
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise HarnessError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise HarnessError(f"{where}: {text!r} is not a finite number")
    return value


def read_rows(path: Path, spec: AuthorsFile) -> list[dict[str, Any]]:
    """The model rows of one CSV, numbers parsed, after checking the column names and the three
    header rows (a one-line error says which is wrong)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        lines = list(csv.reader(f))
    name = path.name
    if len(lines) < 1 + HEADER_ROWS:
        raise HarnessError(
            f"{name}: {len(lines)} line(s); the authors' layout has a row of column names "
            f"and {HEADER_ROWS} header rows before the models"
        )
    columns = [c.strip() for c in lines[0]]
    needed = ("name", *NUMERIC_COLUMNS, spec.score_column)
    missing = [c for c in needed if c not in columns]
    if missing:
        raise HarnessError(
            f"{name}: the first row (column names) lacks column(s) {', '.join(missing)}"
        )
    if _cell(lines[1], 0) != "name":
        raise HarnessError(
            f"{name}: header row 2 should start with 'name' (the group titles), "
            f"found {_cell(lines[1], 0)!r}"
        )
    for i in (2, 3):
        if _cell(lines[i], 0) or _cell(lines[i], columns.index("year")):
            raise HarnessError(
                f"{name}: header row {i + 1} should leave 'name' and 'year' blank "
                f"(found {_cell(lines[i], 0)!r}); is it a model row?"
            )
    index = {c: columns.index(c) for c in needed}
    rows = []
    for lineno, line in enumerate(lines[1 + HEADER_ROWS :], start=2 + HEADER_ROWS):
        if not any(cell.strip() for cell in line):
            continue
        row: dict[str, Any] = {"name": _cell(line, index["name"]), "line": lineno}
        for col in (*NUMERIC_COLUMNS, spec.score_column):
            row[col] = _number(_cell(line, index[col]), f"{name} line {lineno} column '{col}'")
        row["paper_link"] = (
            _cell(line, columns.index("paper_link")) if "paper_link" in columns else ""
        )
        rows.append(row)
    return rows


def _point(spec: AuthorsFile, row: dict[str, Any]) -> dict[str, Any] | None:
    """A row as a point, or None without a score (their regressions drop it)."""
    score = row[spec.score_column]
    if math.isnan(score):
        return None
    flops, multiadds = row["flops"], row["multiadds"]
    per_pass = flops if not math.isnan(flops) else 2.0 * multiadds
    year = row["year"]
    link = f"; {row['paper_link']}" if row["paper_link"] else ""
    return {
        "benchmark": spec.benchmark,
        "model": row["name"],
        "year": int(year) if not math.isnan(year) else None,
        "metric": spec.metric,
        "error": 1.0 - score / 100.0,
        "per_pass_flops": per_pass,
        "burden_flops": row["hardware_burden"],
        "network_ops_flops": row["network_operations"],
        "source": "published",
        "flagged": False,
        "flag_reason": "",
        "burden_flagged": False,
        "burden_flag_reason": "",
        "citation": f"{REPOSITORY} data/{spec.filename} line {row['line']}{link}",
    }


def load_authors(path: str | Path, benchmark: str | None = None) -> pd.DataFrame:
    """The authors' points (one benchmark or every file present) as a point frame.

    Columns: the published frame's (harness.catalog.published.POINT_COLUMNS) plus
    `network_ops_flops`. A file that is absent is skipped; a file in the wrong layout is an error.
    """
    import pandas as pd

    from harness.catalog.published import POINT_COLUMNS

    folder = data_folder(path)
    specs = [f for f in FILES if benchmark in (None, f.benchmark)]
    points = []
    for spec in specs:
        file = folder / spec.filename
        if not file.is_file():
            continue
        points += [p for p in (_point(spec, r) for r in read_rows(file, spec)) if p is not None]
    if not points:
        which = specs[0].filename if benchmark else "any of the authors' CSVs"
        raise HarnessError(f"--published-from: no scored rows in {folder} for {which}")
    return pd.DataFrame(points, columns=[*POINT_COLUMNS, "network_ops_flops"])
