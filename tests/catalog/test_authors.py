"""The reader of the authors' CSVs, on small synthetic files in their layout (written here)."""

from __future__ import annotations

import math

import pytest

from harness.catalog.authors import load_authors
from harness.errors import HarnessError

COLUMNS = "name,year,flops,multiadds,paper_link,network_operations,hardware_burden,(TOP 1 score)"
HEADERS = (
    "name,year,ops_forward_pass,,paper,net_ops,hw_burden,performance_metrics\n"
    ",,flops,multiadds,paper_url,,,top1_score\n"
    ",,,,,,,\n"
)


def write_imagenet(folder, rows, columns=COLUMNS, headers=HEADERS):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "image-classification-on-imagenet.csv"
    path.write_text(columns + "\n" + headers + "".join(r + "\n" for r in rows))
    return path


ROWS = (
    "NetA,2015,4.0E+09,,https://arxiv.org/abs/x,1.0E+18,,75.00",
    "NetB,2017,,3.0E+09,,2.0E+19,5.0E+19,80.00",
    "NetC,2019,,,,,1.0E+20,85.50",
    "NetD,2020,1.0E+10,,,,,",
)


def test_reader_builds_the_notebooks_quantities(tmp_path):
    write_imagenet(tmp_path / "data", ROWS)
    frame = load_authors(tmp_path)  # a checkout: the CSVs are under data/
    assert list(frame["model"]) == ["NetA", "NetB", "NetC"]  # NetD has no score: dropped
    a, b, c = (frame.iloc[i] for i in range(3))
    assert a["per_pass_flops"] == 4.0e9  # flops as given
    assert b["per_pass_flops"] == 6.0e9  # else 2 x multiply-adds
    assert math.isnan(c["per_pass_flops"])
    assert a["error"] == pytest.approx(0.25) and c["error"] == pytest.approx(0.145)
    assert b["burden_flops"] == 5.0e19 and math.isnan(a["burden_flops"])
    assert a["network_ops_flops"] == 1.0e18 and math.isnan(c["network_ops_flops"])
    assert list(frame["year"]) == [2015, 2017, 2019]
    assert "line 5" in a["citation"] and "arxiv.org/abs/x" in a["citation"]
    assert load_authors(tmp_path / "data").equals(frame)  # or the data/ folder itself


def test_missing_folder_is_one_line(tmp_path):
    with pytest.raises(HarnessError, match="no such folder") as exc:
        load_authors(tmp_path / "nope")
    assert "\n" not in str(exc.value)
    with pytest.raises(HarnessError, match="none of the authors' CSVs"):
        load_authors(tmp_path)


def test_wrong_column_names_the_column(tmp_path):
    write_imagenet(tmp_path, ROWS, columns=COLUMNS.replace("hardware_burden", "hw"))
    with pytest.raises(HarnessError, match=r"first row \(column names\) lacks .*hardware_burden"):
        load_authors(tmp_path)


def test_wrong_header_rows_name_the_row(tmp_path):
    write_imagenet(tmp_path, ROWS, headers="x" + HEADERS)
    with pytest.raises(HarnessError, match="header row 2 should start with 'name'"):
        load_authors(tmp_path)
    # a file without the group-title rows: the first model sits where header row 3 should be
    no_titles = "name,,,,,,,\n"
    write_imagenet(tmp_path, ROWS, headers=no_titles)
    with pytest.raises(HarnessError, match="header row 3 should leave 'name' and 'year' blank"):
        load_authors(tmp_path)


def test_bad_number_names_line_and_column(tmp_path):
    write_imagenet(tmp_path, ("NetA,2015,lots,,,,,75",))
    with pytest.raises(HarnessError, match=r"line 5 column 'flops': 'lots' is not a number"):
        load_authors(tmp_path)
