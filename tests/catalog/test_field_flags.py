"""Flags concern one field: a row leaves only the fits whose field is doubtful."""

from __future__ import annotations

import math
import shutil

import pytest

from harness.analysis.fit import fit, select_points
from harness.catalog.flags import UNATTRIBUTED, clauses, field_flags
from harness.catalog.published import load_published, squad_rows_without_em
from harness.data import REFERENCE_DIR

HEADER = (
    "benchmark,model,year,metric,value,error,gmacs_per_pass,params_m,processors,"
    "processor_type,processor_count,train_hours,source,notes\n"
)


def test_clauses_split_outside_brackets():
    assert clauses("a (b; c); d") == ["a (b; c)", "d"]


def test_a_flag_goes_to_the_field_its_clause_names():
    f = field_flags(notes="params 138M memory; gmacs 104B is memory - flag")
    assert f.any("other") and f.any("per_pass")
    assert not f.any("error", "burden")
    f = field_flags(notes="hardware (50 replicas) is memory - flag")
    assert f.any("burden") and not f.any("error", "per_pass", "other")
    f = field_flags(notes="search cost (450 K40 x ~7 days, memory) excluded")
    assert f.any("other") and not f.any("burden")
    f = field_flags(citation="Table 4 - memory")  # names no field
    assert all(f.any(x) for x in ("error", "per_pass", "burden"))
    assert UNATTRIBUTED in f.of("burden")[0]


@pytest.fixture
def table(tmp_path):
    for name in ("processors.csv", "processor_aliases.csv"):
        shutil.copy(REFERENCE_DIR / name, tmp_path / name)
    rows = [
        "imagenet,P,2014,top1_acc,70,30,1.0,,,GTX 580,2,100,paper P,params 10M memory",
        "imagenet,G,2015,top1_acc,75,25,4.0,,,GTX 580,2,300,paper G,gmacs 4.0 is memory - flag",
        "imagenet,H,2016,top1_acc,80,20,8.0,,,GTX 580,4,400,paper H,hardware is memory - flag",
        "imagenet,E,2017,top1_acc,82,18,16.0,,,GTX 580,8,400,paper E,FLAG memory",
        "imagenet,C,2018,top1_acc,84,16,30.0,,,GTX 580,8,900,paper C,",
        "imagenet,K,2016,top1_acc,79,21,9.0,,,K80,60,72,paper K,",
    ]
    (tmp_path / "imagenet.csv").write_text(HEADER + "\n".join(rows) + "\n")
    return load_published("imagenet", reference_dir=tmp_path), tmp_path


def test_rows_leave_only_the_fits_of_their_doubtful_field(table):
    df, _ = table
    row = df.set_index("model")
    assert not row.loc["P", "per_pass_flagged"] and not row.loc["P", "burden_flagged"]
    assert "params" in row.loc["P", "other_flag_reason"]
    assert row.loc["G", "per_pass_flagged"] and not row.loc["G", "burden_flagged"]
    assert row.loc["H", "burden_flagged"] and not row.loc["H", "per_pass_flagged"]
    assert row.loc["E", "per_pass_flagged"] and row.loc["E", "burden_flagged"]
    per_pass = select_points(df, "imagenet", "per-pass", exclude_flagged=True)
    assert sorted(per_pass["model"]) == ["C", "H", "K", "P"]
    burden = select_points(df, "imagenet", "burden", exclude_flagged=True)
    assert sorted(burden["model"]) == ["C", "G", "P"]  # K: K80 board or die


def test_k80_rows_carry_both_readings(table):
    df, _ = table
    k = df.set_index("model").loc["K"]
    board = 60 * 8.74e12 * 72 * 3600
    assert k["burden_flops"] == pytest.approx(board)
    assert k["burden_flops_alt"] == pytest.approx(board / 2)
    assert k["burden_flagged"] and "die reading" in k["burden_flag_reason"]
    assert math.isnan(df.set_index("model").loc["C", "burden_flops_alt"])


def test_shipped_rows_flagged_on_other_fields_stay_in_the_fits():
    df = load_published("imagenet").set_index("model")
    vgg = "VGG-16 (config D, 1 net, multi-crop+dense)"
    assert not df.loc[vgg, "per_pass_flagged"]  # "params 138M memory" doubts no fitted field
    assert "Titan Black" in df.loc[vgg, "burden_flag_reason"]  # its peak is unconfirmed
    assert df.loc["AlexNet (1 CNN)", "per_pass_flagged"]  # its GMACs are a re-measurement
    assert not df.loc["AlexNet (1 CNN)", "burden_flagged"]
    assert (
        df.loc["Xception", "burden_flagged"] and "die" in df.loc["Xception", "burden_flag_reason"]
    )
    strict = fit(load_published(), "imagenet", "per-pass", exclude_flagged=True)
    everything = fit(load_published(), "imagenet", "per-pass")
    assert strict.n == everything.n - everything.n_flagged
    assert strict.n > 17  # flagging whole rows kept only 17 of the 34


def test_squad_error_from_em_by_default_or_f1():
    em = load_published("squad11").set_index("model")
    f1 = load_published("squad11", squad_metric="f1").set_index("model")
    assert em.loc["BiDAF (single)", "error"] == pytest.approx(1 - 68.0 / 100)
    assert em.loc["BiDAF (single)", "metric"] == "em"
    assert f1.loc["BiDAF (single)", "error"] == pytest.approx(1 - 77.3 / 100)
    assert squad_rows_without_em() == ["BERT-Base (single, dev)"]
    assert "BERT-Base (single, dev)" not in em.index and "BERT-Base (single, dev)" in f1.index
    # SpanBERT's EM is from memory: flagged in EM fits, not in F1 fits
    assert em.loc["SpanBERT-Large (single, test)", "error_flagged"]
    assert not f1.loc["SpanBERT-Large (single, test)", "error_flagged"]
