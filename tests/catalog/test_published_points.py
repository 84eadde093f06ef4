"""Published points: units, burden arithmetic, flags and citations."""

from __future__ import annotations

import math
import shutil

import pytest

from harness.catalog.published import load_published, processor_peak
from harness.data import REFERENCE_DIR
from harness.errors import HarnessError
from harness.vocab import BENCHMARKS


@pytest.fixture(scope="module")
def imagenet():
    return load_published("imagenet").set_index("model")


def test_every_benchmark_loads_with_citations():
    df = load_published()
    assert set(df["benchmark"]) == set(BENCHMARKS)
    assert (df["citation"].str.len() > 0).all()
    assert ((df["error"] > 0) & (df["error"] < 1)).all()


def test_units_error_fraction_and_per_pass_flops(imagenet):
    assert imagenet.loc["AlexNet (1 CNN)", "error"] == pytest.approx(0.407)
    # ResNet-50: 3.8 GMACs per pass (arXiv:1512.03385 Table 1) = 7.6e9 FLOP
    assert imagenet.loc["ResNet-50 (10-crop)", "per_pass_flops"] == pytest.approx(7.6e9)
    assert imagenet["per_pass_flops"].notna().sum() == 34  # as the reference README counts


def test_burden_hand_computed(imagenet):
    # AlexNet: 2 GTX 580 x 1.581 TFLOPS fp32 x 132 h
    assert imagenet.loc["AlexNet (1 CNN)", "burden_flops"] == pytest.approx(
        2 * 1.581e12 * 132 * 3600
    )
    # ViT-H/14: 2.5k TPUv3-core-days x 61.5 TFLOPS (bf16, per core)
    assert imagenet.loc["ViT-H/14 (JFT-300M)", "burden_flops"] == pytest.approx(
        2500 * 86400 * 61.5e12
    )
    assert imagenet.loc["ViT-H/14 (JFT-300M)", "precision"] == "bf16"
    # Noisy Student: 2048 v3 cores x 144 h
    assert imagenet.loc["Noisy Student (EfficientNet-L2)", "burden_flops"] == pytest.approx(
        2048 * 61.5e12 * 144 * 3600
    )
    assert imagenet.loc["AlexNet (1 CNN)", "precision"] == "fp32"


def test_no_burden_without_known_processor_or_time(imagenet):
    assert math.isnan(imagenet.loc["ResNet-50 (10-crop)", "burden_flops"])  # GPU not stated
    assert math.isnan(imagenet.loc["SENet-154 (224 crop)", "burden_flops"])  # Titan X ambiguous
    assert math.isnan(imagenet.loc["Inception-v3 (single crop)", "burden_flops"])  # no hours


def test_flags(imagenet):
    assert imagenet.loc["MobileNet v2 1.0-224", "flagged"]
    assert "memory" in imagenet.loc["MobileNet v2 1.0-224", "flag_reason"].lower()
    assert not imagenet.loc["ResNet-50 (10-crop)", "flagged"]
    # ZFNet's row is confirmed; its burden is too (GTX 580's peak has a source)
    assert not imagenet.loc["ZFNet (Zeiler & Fergus, 1 net)", "burden_flagged"]
    # VGG's burden rests on the GTX Titan Black's peak, which processors.csv marks MEMORY
    assert (
        "Titan Black"
        in imagenet.loc["VGG-16 (config D, 1 net, multi-crop+dense)", "burden_flag_reason"]
    )


def test_processor_peak_aliases():
    assert processor_peak("V100").flop_per_s == pytest.approx(15.7e12)  # alias -> SXM2
    assert processor_peak("V100", "fp16").flop_per_s == pytest.approx(125e12)
    assert processor_peak("TPU v3 core").precision == "bf16"
    assert processor_peak("GPU (model not stated)") is None
    assert processor_peak("no such chip") is None


def test_precision_token_and_core_days(tmp_path):
    for name in ("processors.csv", "processor_aliases.csv"):
        shutil.copy(REFERENCE_DIR / name, tmp_path / name)
    (tmp_path / "imagenet.csv").write_text(
        "benchmark,model,year,metric,value,error,gmacs_per_pass,params_m,processors,"
        "processor_type,processor_count,train_hours,source,notes\n"
        "imagenet,A,2019,top1_acc,80,20,1.0,,,V100,8,10,paper X,precision=fp16\n"
        "imagenet,B,2019,top1_acc,81,19,,,,TPU v3 core,,,paper Y,core_days=10\n"
    )
    df = load_published("imagenet", reference_dir=tmp_path).set_index("model")
    assert df.loc["A", "burden_flops"] == pytest.approx(8 * 125e12 * 10 * 3600)
    assert df.loc["A", "precision"] == "fp16" and not df.loc["A", "precision_assumed"]
    assert df.loc["B", "burden_flops"] == pytest.approx(10 * 86400 * 61.5e12)
    assert not df["flagged"].any()


def test_unknown_benchmark_is_a_clear_error():
    with pytest.raises(HarnessError, match="no published points"):
        load_published("mnist")
