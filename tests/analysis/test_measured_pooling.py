"""Measured points: one per architecture, device model and precision; burden at the fp32 peak."""

from __future__ import annotations

import pytest

from harness.analysis.measured import measured_frame, pool
from harness.catalog.published import load_published
from harness.cost.burden import MeasuredStep, PeakUsed, compute_burden
from harness.pipeline.config import MeasurementConfig
from harness.pipeline.record import Measurement
from harness.pipeline.summary import measured_points

ARCH = {
    "name": "resnet50",
    "benchmark": "imagenet",
    "year": 2015,
    "reference_metric": "top1_acc",
    "reference_value": 76.1,
    "reference_citation": "torchvision",
}


def _record(batch: int, precision: str, burden: dict, device: str = "NVIDIA H100") -> Measurement:
    config = MeasurementConfig("resnet50", batch_size=batch, device="cuda", precision=precision)
    return Measurement.create(
        config,
        architecture=ARCH,
        counts={"forward_macs_per_example": 4.1e9},
        timing={
            "batch_size": batch,
            "precision_used": precision,
            "peak": {"device_name": device, "device_kind": "cuda"},
        },
        burden=burden,
    )


def test_two_batch_sizes_of_one_network_are_one_point():
    small = _record(32, "fp32", {"burden_per_run_flop": 1e18, "recipe_batch_size": 256})
    recipe = _record(256, "fp32", {"burden_per_run_flop": 2e18, "recipe_batch_size": 256})
    large = _record(512, "fp32", {"burden_per_run_flop": 3e18, "recipe_batch_size": 256})
    points = measured_points([small, recipe, large])
    assert len(points) == 1 and points[0]["batch"] == 256  # the recipe's batch wins
    assert not points[0]["burden_flagged"]
    off = measured_points([small, large])  # recipe batch not measured: the largest, flagged
    assert len(off) == 1 and off[0]["batch"] == 512 and off[0]["burden_flagged"]
    pooled = pool(load_published("imagenet"), measured_frame(points))
    assert (pooled["source"] == "measured").sum() == 1


def test_pooling_keeps_one_point_per_architecture_across_devices():
    a = _record(256, "fp32", {"burden_per_run_flop": 2e18, "recipe_batch_size": 256})
    b = _record(256, "fp32", {"burden_per_run_flop": 5e18, "recipe_batch_size": 256}, "A100")
    points = measured_points([a, b])
    assert len(points) == 2  # one per device model in the measured set
    pooled = pool(load_published("imagenet"), measured_frame(points))
    assert (pooled["source"] == "measured").sum() == 1


def test_a_bf16_record_pools_at_the_fp32_peak():
    step = MeasuredStep(step_time_s=0.5, batch_size=256, processors=2)
    peak = PeakUsed(
        flop_per_s=989e12,
        precision="bf16",
        device_name="NVIDIA H100",
        fp32_flop_per_s=67e12,
        fp32_source="datasheet",
    )

    class Recipe:
        examples = 90 * 1_281_167
        epochs, examples_per_epoch, batch_size = 90, 1_281_167, 256

    burden = compute_burden(step, peak, recipe=Recipe())
    steps = -(-90 * 1_281_167 // 256)
    assert burden.burden_per_run_flop == pytest.approx(2 * 989e12 * steps * 0.5)
    assert burden.burden_per_run_flop_fp32_peak == pytest.approx(2 * 67e12 * steps * 0.5)
    assert burden.peak_fp32_flop_per_s == 67e12 and burden.recipe_batch_size == 256
    record = _record(256, "bf16", burden.to_dict())
    (point,) = measured_points([record])
    assert point["burden_flops"] == pytest.approx(2 * 67e12 * steps * 0.5)
    assert point["burden_flops_at_precision"] == pytest.approx(2 * 989e12 * steps * 0.5)
    assert point["burden_flagged"] and "bf16" in point["burden_flag_reason"]


def test_an_fp32_step_without_a_given_fp32_peak_uses_its_own():
    peak = PeakUsed(flop_per_s=19.5e12, precision="fp32", source="sheet")
    b = compute_burden(MeasuredStep(step_time_s=1.0, batch_size=8), peak)
    assert b.peak_fp32_flop_per_s == 19.5e12 and b.burden_per_run_flop_fp32_peak is None
    peak = PeakUsed(flop_per_s=312e12, precision="bf16")
    assert compute_burden(MeasuredStep(1.0, 8), peak).peak_fp32_flop_per_s is None
